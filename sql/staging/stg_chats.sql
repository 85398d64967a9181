-- One row per chat leg (raw_chats), durations in ms, the accepting agent resolved to an operator
with source as (
    select * from raw_chats
),

renamed as (
    select
        -- ids
        s.chat_id,
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
        s.channel,
        coalesce(s.direction, 'inbound') as direction,
        s.reason_code,
        s.language,
        s.outcome,
        s.end_reason,
        coalesce(s.is_bot_handoff, false) as is_bot_handoff,
        -- numerics
        cast(round(s.wrap_s * 1000) as bigint) as wrap_ms,
        -- timestamps
        s.queued_at,
        s.accepted_at,
        s.first_reply_at,
        s.ended_at,
        s._loaded_at
    from source as s
    left join stg_agent_resolution as a
        on a.source_system = coalesce(s.source_system, 'canonical')
        and a.agent_id = s.agent_id
        and a.referenced_at = s.accepted_at
)

select * from renamed
