-- One row per contact: its first resolution (the resolving segment's end; a ticket's first solve), its last solve, and its repeat window
-- resolved_at is null for a contact nothing resolved; the window then runs from its last segment's
-- end (or its creation). The repeat window is (created_at, window anchor + fcr.window_days]; CSAT
-- responses count until window anchor + csat.cutoff_days.
with params as (
    select
        max(case when key = 'fcr.window_days' then cast(value as integer) end) as fcr_window_days,
        max(case when key = 'csat.cutoff_days' then cast(value as integer) end) as csat_cutoff_days
    from config_values
),

resolving_segments as (
    select contact_type, contact_id, segment_id, ended_at
    from int_segments__segments
    where end_reason = 'resolved'
    qualify row_number() over (partition by contact_type, contact_id order by ended_at, started_at, segment_id) = 1
),

last_segments as (
    select contact_type, contact_id, max(coalesce(ended_at, started_at)) as last_segment_at
    from int_segments__segments
    group by contact_type, contact_id
),

solves as (
    select ticket_id, min(event_at) as first_solve_at, max(event_at) as last_solve_at
    from stg_ticket_events
    where event_type = 'solve'
    group by ticket_id
),

resolution as (
    select
        c.contact_type,
        c.contact_id,
        c.created_at,
        r.segment_id as resolving_segment_id,
        case when c.contact_type = 'ticket' then s.first_solve_at else r.ended_at end as resolved_at,
        case when c.contact_type = 'ticket' then s.last_solve_at else r.ended_at end as full_resolved_at,
        l.last_segment_at
    from int_segments__contacts as c
    left join resolving_segments as r on r.contact_type = c.contact_type and r.contact_id = c.contact_id
    left join last_segments as l on l.contact_type = c.contact_type and l.contact_id = c.contact_id
    left join solves as s on c.contact_type = 'ticket' and s.ticket_id = c.contact_id
)

select
    r.contact_type,
    r.contact_id,
    r.resolving_segment_id,
    r.resolved_at,
    r.full_resolved_at,
    coalesce(r.resolved_at, r.last_segment_at, r.created_at) as window_anchor_at,
    coalesce(r.resolved_at, r.last_segment_at, r.created_at) + p.fcr_window_days * interval 1 day
        as repeat_window_end_at,
    coalesce(r.resolved_at, r.last_segment_at, r.created_at) + p.csat_cutoff_days * interval 1 day as csat_cutoff_at
from resolution as r
cross join params as p
