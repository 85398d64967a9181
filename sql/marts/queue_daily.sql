-- One row per queue and local date (queue timezone): every known queue on every day of the loaded range
-- incremental: local_date
with days as (
    select cast(g.day as date) as local_date
    from data_range as r
    cross join unnest(generate_series(r.date_from, r.date_to, interval 1 day)) as g(day)
),

queue_sums as (
    select
        q.queue_id,
        q.local_date,
        -- include: metrics/queue_sums.sql
    from queue_stint_facts as q
    group by q.queue_id, q.local_date
),

roster as (
    select q.queue_id, d.local_date
    from dim_queues as q
    cross join days as d
    union
    select queue_id, local_date from queue_sums
),

inputs as (
    select
        r.queue_id,
        r.local_date,
        -- include: metrics/queue_inputs.sql
    from roster as r
    left join queue_sums as qs on qs.queue_id = r.queue_id and qs.local_date = r.local_date
)

select
    m.queue_id,
    m.local_date,
    -- include: metrics/queue_rates.sql
    ,
    m.provisional
from inputs as m
