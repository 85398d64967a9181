-- One row per queue, grain (ISO week, calendar month) and period start: recomputed from stints, volume-weighted
-- incremental: grain, period_start
with days as (
    select cast(g.day as date) as local_date
    from data_range as r
    cross join unnest(generate_series(r.date_from, r.date_to, interval 1 day)) as g(day)
),

stints as (
    select
        q.*,
        cast(date_trunc('week', q.local_date) as date) as week_start,
        cast(date_trunc('month', q.local_date) as date) as month_start
    from queue_stint_facts as q
),

queue_sums as (
    select
        q.queue_id,
        case when grouping(q.week_start) = 0 then 'week' else 'month' end as grain,
        coalesce(q.week_start, q.month_start) as period_start,
        -- include: metrics/queue_sums.sql
    from stints as q
    group by grouping sets ((q.queue_id, q.week_start), (q.queue_id, q.month_start))
),

roster as (
    select q.queue_id, 'week' as grain, cast(date_trunc('week', d.local_date) as date) as period_start
    from dim_queues as q
    cross join days as d
    union
    select q.queue_id, 'month' as grain, cast(date_trunc('month', d.local_date) as date) as period_start
    from dim_queues as q
    cross join days as d
    union
    select queue_id, grain, period_start from queue_sums
),

inputs as (
    select
        r.queue_id,
        r.grain,
        r.period_start,
        -- include: metrics/queue_inputs.sql
    from roster as r
    left join queue_sums as qs on qs.queue_id = r.queue_id and qs.grain = r.grain and qs.period_start = r.period_start
)

select
    m.queue_id,
    m.grain,
    m.period_start,
    -- include: metrics/queue_rates.sql
    ,
    m.provisional
from inputs as m
