-- One row per operator (latest version): handled segments by channel over all loaded data
with current_version as (
    select *
    from dim_operators
    qualify row_number() over (partition by operator_id order by valid_from desc) = 1
),

activity as (
    select
        operator_id,
        count(*) filter (where channel = 'phone') as phone_legs_n,
        count(*) filter (where channel = 'chat') as chat_legs_n,
        count(*) filter (where channel = 'email') as email_replies_n,
        count(*) filter (where channel = 'social') as social_legs_n,
        min(started_at) as first_contact_at,
        max(started_at) as last_contact_at
    from segment_facts
    where operator_id is not null
    group by operator_id
)

select
    o.operator_id,
    o.display_name,
    o.team_id,
    o.tier,
    coalesce(a.phone_legs_n, 0) as phone_legs_n,
    coalesce(a.chat_legs_n, 0) as chat_legs_n,
    coalesce(a.email_replies_n, 0) as email_replies_n,
    coalesce(a.social_legs_n, 0) as social_legs_n,
    a.first_contact_at,
    a.last_contact_at
from current_version as o
left join activity as a on a.operator_id = o.operator_id
