-- One row per operator, grain (ISO week from Monday, calendar month) and period start: recomputed from segment facts, never from days
-- incremental: grain, period_start
with days as (
    select cast(g.day as date) as local_date
    from data_range as r
    cross join unnest(generate_series(r.date_from, r.date_to, interval 1 day)) as g(day)
),

segments as (
    select
        s.*,
        cast(date_trunc('week', s.local_date) as date) as week_start,
        cast(date_trunc('month', s.local_date) as date) as month_start
    from segment_facts as s
    where s.operator_id is not null
),

segment_sums as (
    select
        s.operator_id,
        case when grouping(s.week_start) = 0 then 'week' else 'month' end as grain,
        coalesce(s.week_start, s.month_start) as period_start,
        -- include: metrics/segment_sums.sql
    from segments as s
    group by grouping sets ((s.operator_id, s.week_start), (s.operator_id, s.month_start))
),

presence as (
    select
        p.*,
        cast(date_trunc('week', p.local_date) as date) as week_start,
        cast(date_trunc('month', p.local_date) as date) as month_start
    from operator_presence_daily as p
),

presence_sums as (
    select
        p.operator_id,
        case when grouping(p.week_start) = 0 then 'week' else 'month' end as grain,
        coalesce(p.week_start, p.month_start) as period_start,
        -- include: metrics/presence_sums.sql
    from presence as p
    group by grouping sets ((p.operator_id, p.week_start), (p.operator_id, p.month_start))
),

operator_days as (
    select v.operator_id, d.local_date
    from dim_operators as v
    inner join days as d on d.local_date >= v.valid_from and d.local_date < v.valid_to
),

roster as (
    select operator_id, 'week' as grain, cast(date_trunc('week', local_date) as date) as period_start
    from operator_days
    union
    select operator_id, 'month' as grain, cast(date_trunc('month', local_date) as date) as period_start
    from operator_days
    union
    select operator_id, grain, period_start from segment_sums
    union
    select operator_id, grain, period_start from presence_sums
),

inputs as (
    select
        r.operator_id,
        r.grain,
        r.period_start,
        -- include: metrics/operator_inputs.sql
    from roster as r
    left join segment_sums as ss
        on ss.operator_id = r.operator_id and ss.grain = r.grain and ss.period_start = r.period_start
    left join presence_sums as ps
        on ps.operator_id = r.operator_id and ps.grain = r.grain and ps.period_start = r.period_start
)

select
    m.operator_id,
    m.grain,
    m.period_start,
    -- include: metrics/cell_rates.sql
    ,
    -- include: metrics/operator_rates.sql
    ,
    m.provisional
from inputs as m
