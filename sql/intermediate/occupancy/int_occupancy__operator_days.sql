-- One row per operator and local date with agent-state presence: logged-in time and paused time within it (ms)
-- Logged-in = the union of logged_in intervals across queues; paused = the union of pauses whose
-- reason is not in asterisk.wrap_pause_reasons (those count as work), clipped to logged-in time.
-- Intervals still open (no end) are left out. Days are local to the operator's latest timezone.
with states as (
    select operator_id, state, started_at, ended_at
    from stg_agent_states
    where operator_id is not null and ended_at > started_at and (state = 'logged_in' or (state = 'paused' and not is_wrap_pause))
),

marked as (
    select
        *,
        case
            when started_at <= max(ended_at) over (
                partition by operator_id, state order by started_at, ended_at
                rows between unbounded preceding and 1 preceding
            ) then 0
            else 1
        end as is_new_island
    from states
),

grouped as (
    select
        *,
        sum(is_new_island) over (
            partition by operator_id, state order by started_at, ended_at rows between unbounded preceding and current row
        ) as island_no
    from marked
),

islands as (
    select operator_id, state, island_no, min(started_at) as started_at, max(ended_at) as ended_at
    from grouped
    group by operator_id, state, island_no
),

pieces as (
    select operator_id, 'logged_in' as kind, started_at, ended_at
    from islands
    where state = 'logged_in'
    union all
    select p.operator_id, 'paused' as kind, greatest(p.started_at, l.started_at), least(p.ended_at, l.ended_at)
    from islands as p
    inner join islands as l
        on l.operator_id = p.operator_id and l.state = 'logged_in'
        and l.started_at < p.ended_at and l.ended_at > p.started_at
    where p.state = 'paused'
),

home_timezones as (
    select operator_id, timezone
    from stg_operators
    qualify row_number() over (partition by operator_id order by valid_from desc) = 1
),

day_pieces as (
    select
        p.operator_id,
        p.kind,
        cast(g.day as date) as local_date,
        greatest(p.started_at, cast(cast(g.day as date) as timestamp) at time zone h.timezone) as from_at,
        least(p.ended_at, cast(cast(g.day as date) + 1 as timestamp) at time zone h.timezone) as to_at
    from pieces as p
    inner join home_timezones as h on h.operator_id = p.operator_id
    cross join unnest(generate_series(
        cast(p.started_at at time zone h.timezone as date),
        cast(p.ended_at at time zone h.timezone as date),
        interval 1 day
    )) as g(day)
)

select
    operator_id,
    local_date,
    cast(coalesce(sum(date_diff('millisecond', from_at, to_at)) filter (where kind = 'logged_in'), 0) as bigint)
        as logged_in_ms,
    cast(coalesce(sum(date_diff('millisecond', from_at, to_at)) filter (where kind = 'paused'), 0) as bigint)
        as paused_ms
from day_pieces
where to_at > from_at
group by operator_id, local_date
