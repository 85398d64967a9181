-- One row per team and contact that queued in the team's queues: the team's view of the wait (first entry → answer) and outcome
-- A call timing out of queue A into queue B of the same team is offered once to the team; its wait
-- runs from the first entry to the answer. Outcome: answered when any stint was, else the last
-- stint's. Thresholds are the first queue's. The date is local to the team's timezone.
with team_stints as (
    select s.*
    from int_queues__stints as s
    where s.team_id is not null
),

per_contact as (
    select
        team_id,
        contact_type,
        contact_id,
        min(coalesce(enqueued_at, answered_at, ended_at)) as first_enqueued_at,
        min(answered_at) filter (where outcome = 'answered') as answered_at,
        max(ended_at) as last_ended_at,
        bool_or(outcome = 'answered') as is_answered,
        arg_max(outcome, coalesce(enqueued_at, answered_at, ended_at)) as last_outcome,
        arg_min(channel, coalesce(enqueued_at, answered_at, ended_at)) as channel,
        arg_min(sl_threshold_ms, coalesce(enqueued_at, answered_at, ended_at)) as sl_threshold_ms,
        arg_min(short_abandon_ms, coalesce(enqueued_at, answered_at, ended_at)) as short_abandon_ms,
        bool_or(enqueued_at is null) as has_unknown_entry
    from team_stints
    group by team_id, contact_type, contact_id
),

measured as (
    select
        c.*,
        case when c.is_answered then 'answered' else c.last_outcome end as outcome,
        case
            when not c.has_unknown_entry
                then date_diff('millisecond', c.first_enqueued_at, case when c.is_answered then c.answered_at else c.last_ended_at end)
        end as wait_ms,
        cast(c.first_enqueued_at at time zone coalesce(t.timezone, 'UTC') as date) as local_date
    from per_contact as c
    left join stg_teams as t on t.team_id = c.team_id
)

select
    team_id || ':' || contact_type || ':' || contact_id as stint_id,
    team_id,
    contact_type,
    contact_id,
    channel,
    first_enqueued_at,
    answered_at,
    last_ended_at,
    outcome,
    wait_ms,
    sl_threshold_ms,
    short_abandon_ms,
    local_date,
    outcome <> 'in_progress' as is_offered,
    outcome = 'abandoned' and wait_ms < short_abandon_ms as is_short_abandon,
    outcome = 'answered' and wait_ms <= sl_threshold_ms as is_answered_in_sl
from measured
