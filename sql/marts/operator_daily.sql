-- One row per operator and local date: every operator with a version valid that day (within the loaded range) or with segments that day
-- incremental: local_date
with days as (
    select cast(g.day as date) as local_date
    from data_range as r
    cross join unnest(generate_series(r.date_from, r.date_to, interval 1 day)) as g(day)
),

segment_sums as (
    select
        s.operator_id,
        s.local_date,
        -- include: metrics/segment_sums.sql
    from segment_facts as s
    where s.operator_id is not null
    group by s.operator_id, s.local_date
),

presence_sums as (
    select
        p.operator_id,
        p.local_date,
        -- include: metrics/presence_sums.sql
    from operator_presence_daily as p
    group by p.operator_id, p.local_date
),

roster as (
    select v.operator_id, d.local_date
    from dim_operators as v
    inner join days as d on d.local_date >= v.valid_from and d.local_date < v.valid_to
    union
    select operator_id, local_date from segment_sums
    union
    select operator_id, local_date from presence_sums
),

inputs as (
    select
        r.operator_id,
        r.local_date,
        -- include: metrics/operator_inputs.sql
    from roster as r
    left join segment_sums as ss on ss.operator_id = r.operator_id and ss.local_date = r.local_date
    left join presence_sums as ps on ps.operator_id = r.operator_id and ps.local_date = r.local_date
)

select
    m.operator_id,
    m.local_date,
    -- include: metrics/cell_rates.sql
    ,
    -- include: metrics/operator_rates.sql
    ,
    m.provisional
from inputs as m
