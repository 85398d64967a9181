-- One row per agent state interval (logged in, paused, wrap), the agent resolved to an operator
with source as (
    select * from raw_agent_states
),

wrap_reasons as (
    select distinct value as reason from config_lists where key = 'asterisk.wrap_pause_reasons'
),

renamed as (
    select
        -- ids
        s.operator_id as agent_id,
        a.operator_id,
        a.unresolved_agent,
        s.queue_id,
        -- attributes
        s.state,
        s.reason,
        s.state = 'paused' and w.reason is not null as is_wrap_pause,
        -- timestamps
        s.started_at,
        s.ended_at,
        s._loaded_at
    from source as s
    left join stg_agent_resolution as a
        on a.source_system = '*' and a.agent_id = s.operator_id and a.referenced_at = s.started_at
    left join wrap_reasons as w on w.reason = s.reason
)

select * from renamed
