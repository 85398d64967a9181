-- One row per ticket event, author and assignee resolved to operators; bots, API and system authors flagged
with source as (
    select * from raw_ticket_events
),

renamed as (
    select
        -- ids
        s.event_id,
        s.ticket_id,
        coalesce(s.source_system, 'canonical') as source_system,
        s.author_id,
        au.operator_id as author_operator_id,
        au.unresolved_agent as author_unresolved_agent,
        s.assignee_id,
        asg.operator_id as assignee_operator_id,
        asg.unresolved_agent as assignee_unresolved_agent,
        -- attributes
        s.event_type,
        s.author_type,
        s.author_type = 'operator' and s.author_id is not null and not coalesce(au.is_bot, false) as is_human_author,
        coalesce(s.is_public, true) as is_public,
        s.target_tier,
        -- timestamps
        s."at" as event_at,
        s._loaded_at
    from source as s
    left join stg_agent_resolution as au
        on s.author_type = 'operator'
        and au.source_system = coalesce(s.source_system, 'canonical')
        and au.agent_id = s.author_id
        and au.referenced_at = s."at"
    left join stg_agent_resolution as asg
        on asg.source_system = coalesce(s.source_system, 'canonical')
        and asg.agent_id = s.assignee_id
        and asg.referenced_at = s."at"
)

select * from renamed
