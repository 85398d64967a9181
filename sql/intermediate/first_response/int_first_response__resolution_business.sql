-- One row per contact: business-hours resolution times in the owning team's schedule and holiday calendar
-- Null when the contact is not resolved or its team has no business hours.
with contacts as (
    select
        c.contact_type,
        c.contact_id,
        c.team_id,
        c.created_at,
        r.resolved_at,
        r.full_resolved_at
    from int_segments__contacts as c
    inner join int_fcr__contact_resolution as r on r.contact_type = c.contact_type and r.contact_id = c.contact_id
    inner join stg_teams as t on t.team_id = c.team_id
    where r.resolved_at is not null and t.business_hours is not null
),

interval_overlaps as (
    select
        c.contact_type,
        c.contact_id,
        greatest(
            date_diff('millisecond', greatest(i.opens_at, c.created_at), least(i.closes_at, c.resolved_at)), 0
        ) as resolution_part_ms,
        greatest(
            date_diff('millisecond', greatest(i.opens_at, c.created_at), least(i.closes_at, c.full_resolved_at)), 0
        ) as full_resolution_part_ms
    from contacts as c
    inner join int_business_hours__team_intervals as i
        on i.team_id = c.team_id and i.opens_at < c.full_resolved_at and i.closes_at > c.created_at
),

sums as (
    select
        contact_type,
        contact_id,
        sum(resolution_part_ms) as resolution_business_ms,
        sum(full_resolution_part_ms) as full_resolution_business_ms
    from interval_overlaps
    group by contact_type, contact_id
)

select
    c.contact_type,
    c.contact_id,
    cast(coalesce(s.resolution_business_ms, 0) as bigint) as resolution_business_ms,
    cast(coalesce(s.full_resolution_business_ms, 0) as bigint) as full_resolution_business_ms
from contacts as c
left join sums as s on s.contact_type = c.contact_type and s.contact_id = c.contact_id
