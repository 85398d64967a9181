-- One row per CSAT survey sent, with the assignee snapshotted at sending resolved to an operator
with source as (
    select * from raw_surveys_sent
),

renamed as (
    select
        -- ids
        s.survey_id,
        s.contact_type,
        s.contact_id,
        s.assignee_id,
        a.operator_id as assignee_operator_id,
        -- attributes
        s.scale,
        -- timestamps
        s.sent_at,
        s._loaded_at
    from source as s
    left join stg_agent_resolution as a
        on a.source_system = coalesce(s.source_system, 'canonical')
        and a.agent_id = s.assignee_id
        and a.referenced_at = s.sent_at
)

select * from renamed
