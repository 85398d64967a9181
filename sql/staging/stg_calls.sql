-- One row per call stint or operator leg (raw_calls), durations in ms, the answering agent resolved to an operator
with source as (
    select * from raw_calls
),

renamed as (
    select
        -- ids
        s.call_id,
        s.leg,
        s.queue_id,
        coalesce(s.source_system, 'canonical') as source_system,
        s.agent_id,
        a.operator_id,
        a.unresolved_agent,
        coalesce(a.is_bot, false) as is_bot_agent,
        s.customer_key,
        s.customer_key_source,
        s.transfer_to,
        -- attributes
        s.direction,
        s.reason_code,
        s.language,
        s.outcome,
        s.end_reason,
        -- numerics
        cast(round(s.talk_s * 1000) as bigint) as talk_ms,
        cast(round(s.hold_s * 1000) as bigint) as hold_ms,
        cast(round(s.wrap_s * 1000) as bigint) as wrap_ms,
        -- timestamps
        s.enqueued_at,
        s.answered_at,
        s.ended_at,
        s._loaded_at
    from source as s
    left join stg_agent_resolution as a
        on a.source_system = coalesce(s.source_system, 'canonical')
        and a.agent_id = s.agent_id
        and a.referenced_at = s.answered_at
)

select * from renamed
