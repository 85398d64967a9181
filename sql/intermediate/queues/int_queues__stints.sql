-- One row per queue stint (a call or chat waiting in one queue, entry → exit): outcome, wait and service-level flags
-- wait = entry → answer (or → exit when not answered). A short abandon is an abandoned stint with
-- wait < queues.short_abandon_s (chats: chat.short_abandon_s); answered in SL = wait ≤ the queue's
-- threshold T. In-progress stints are not offered. The date is local to the queue's timezone.
with params as (
    select
        max(case when key = 'queues.short_abandon_s' then cast(value as bigint) end) * 1000 as call_short_abandon_ms,
        max(case when key = 'chat.short_abandon_s' then cast(value as bigint) end) * 1000 as chat_short_abandon_ms,
        max(case when key = 'queues.sl_threshold_s' then cast(value as bigint) end) * 1000 as sl_threshold_ms
    from config_values
),

stints as (
    select
        'call:' || call_id || ':' || cast(leg as varchar) as stint_id,
        'call' as contact_type,
        call_id as contact_id,
        leg,
        queue_id,
        operator_id,
        enqueued_at,
        answered_at,
        ended_at,
        outcome
    from stg_calls
    where queue_id is not null
    union all
    select
        'chat:' || chat_id || ':' || cast(leg as varchar),
        'chat',
        chat_id,
        leg,
        queue_id,
        operator_id,
        queued_at,
        accepted_at,
        ended_at,
        case when outcome = 'answered' and accepted_at is null then 'abandoned' else outcome end
    from stg_chats
    where queue_id is not null
),

measured as (
    select
        s.*,
        q.team_id,
        coalesce(q.channel, case when s.contact_type = 'call' then 'phone' else 'chat' end) as channel,
        coalesce(q.timezone, t.timezone, 'UTC') as timezone,
        case
            when s.enqueued_at is not null then date_diff('millisecond', s.enqueued_at, coalesce(s.answered_at, s.ended_at))
        end as wait_ms,
        coalesce(q.sl_threshold_s * 1000, p.sl_threshold_ms) as sl_threshold_ms,
        case when s.contact_type = 'chat' then p.chat_short_abandon_ms else p.call_short_abandon_ms end as short_abandon_ms
    from stints as s
    cross join params as p
    left join stg_queues as q on q.queue_id = s.queue_id
    left join stg_teams as t on t.team_id = q.team_id
)

select
    stint_id,
    contact_type,
    contact_id,
    leg,
    queue_id,
    team_id,
    channel,
    operator_id,
    enqueued_at,
    answered_at,
    ended_at,
    outcome,
    wait_ms,
    sl_threshold_ms,
    short_abandon_ms,
    cast(coalesce(enqueued_at, answered_at, ended_at) at time zone timezone as date) as local_date,
    outcome <> 'in_progress' as is_offered,
    outcome = 'abandoned' and wait_ms < short_abandon_ms as is_short_abandon,
    outcome = 'answered' and wait_ms <= sl_threshold_ms as is_answered_in_sl
from measured
