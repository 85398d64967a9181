-- One row per operator segment: in the FCR denominator, resolved without repeat (numerator), reopened after its solve
-- fcr_den: inbound segments ending resolved, transfer or escalation, of contacts with a usable
-- customer key, leaving out escalations whose contact reason is in fcr.policy_escalation_reasons.
-- fcr_num: those the operator resolved, with no repeat in the window of the segment's episode (a
-- segment after a reopen belongs to that reopen's episode). Reopen: a solved ticket segment
-- followed by a reopen of the ticket within fcr.window_days of its solve.
with params as (
    select max(case when key = 'fcr.window_days' then cast(value as integer) end) as fcr_window_days
    from config_values
),

policy_reasons as (
    select distinct value as reason_code from config_lists where key = 'fcr.policy_escalation_reasons'
),

reopen_events as (
    select ticket_id, event_at from stg_ticket_events where event_type = 'reopen'
),

segment_reopens as (
    select distinct s.segment_id
    from int_segments__segments as s
    cross join params as p
    inner join reopen_events as e
        on s.contact_type = 'ticket'
        and e.ticket_id = s.contact_id
        and e.event_at > s.ended_at
        and e.event_at <= s.ended_at + p.fcr_window_days * interval 1 day
    where s.end_reason = 'resolved'
),

segment_episodes as (
    select
        s.segment_id,
        count(e.event_at) as episode_no
    from int_segments__segments as s
    left join reopen_events as e
        on s.contact_type = 'ticket' and e.ticket_id = s.contact_id and e.event_at < s.started_at
    group by s.segment_id
),

eligibility as (
    select
        s.segment_id,
        s.end_reason,
        r.has_repeat,
        c.direction = 'inbound'
            and c.is_customer_eligible
            and s.end_reason in ('resolved', 'transfer', 'escalation')
            and not (s.end_reason = 'escalation' and pr.reason_code is not null) as is_fcr_eligible
    from int_segments__segments as s
    inner join int_segments__contacts as c on c.contact_type = s.contact_type and c.contact_id = s.contact_id
    inner join segment_episodes as se on se.segment_id = s.segment_id
    inner join int_fcr__repeats as r
        on r.contact_type = s.contact_type and r.contact_id = s.contact_id and r.episode_no = se.episode_no
    left join policy_reasons as pr on pr.reason_code = c.reason_code
)

select
    e.segment_id,
    e.is_fcr_eligible,
    e.is_fcr_eligible and e.end_reason = 'resolved' and not e.has_repeat as is_fcr_resolved,
    e.has_repeat,
    o.segment_id is not null as is_reopened
from eligibility as e
left join segment_reopens as o on o.segment_id = e.segment_id
