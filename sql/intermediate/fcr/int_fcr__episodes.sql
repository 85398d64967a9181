-- One row per contact episode: the contact until its first resolution, then, for a ticket, each reopen until the next solve
-- Episode 0 starts at the contact's creation and ends at its resolution (int_fcr__contact_resolution).
-- A reopen starts a new episode of the ticket, resolved by the first solve after it; its repeat
-- window is (reopen, that solve + fcr.window_days] (the start itself when nothing solved it yet).
with params as (
    select max(case when key = 'fcr.window_days' then cast(value as integer) end) as fcr_window_days
    from config_values
),

first_episodes as (
    select
        c.contact_type,
        c.contact_id,
        0 as episode_no,
        c.created_at as episode_start_at,
        r.resolved_at as episode_resolved_at,
        r.repeat_window_end_at
    from int_segments__contacts as c
    inner join int_fcr__contact_resolution as r on r.contact_type = c.contact_type and r.contact_id = c.contact_id
),

reopens as (
    select
        ticket_id,
        event_at,
        row_number() over (partition by ticket_id order by event_at, event_id) as episode_no
    from stg_ticket_events
    where event_type = 'reopen'
),

reopen_episodes as (
    select
        'ticket' as contact_type,
        o.ticket_id as contact_id,
        o.episode_no,
        o.event_at as episode_start_at,
        min(s.event_at) as episode_resolved_at
    from reopens as o
    inner join int_segments__contacts as c on c.contact_type = 'ticket' and c.contact_id = o.ticket_id
    left join stg_ticket_events as s
        on s.ticket_id = o.ticket_id and s.event_type = 'solve' and s.event_at > o.event_at
    group by o.ticket_id, o.episode_no, o.event_at
)

select * from first_episodes
union all
select
    e.contact_type,
    e.contact_id,
    e.episode_no,
    e.episode_start_at,
    e.episode_resolved_at,
    coalesce(e.episode_resolved_at, e.episode_start_at) + p.fcr_window_days * interval 1 day as repeat_window_end_at
from reopen_episodes as e
cross join params as p
