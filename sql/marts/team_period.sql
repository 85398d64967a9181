-- One row per dimension (team, tier, channel), dimension value, grain (day, ISO week, calendar month) and period start
-- incremental: grain, period_start
-- Handled = distinct contacts; FCR = the team definition; CSAT includes what no operator could be
-- credited with; offered/answered/SL count each contact once per team (queue figures: team and
-- channel only). Dates are local to the team's timezone. A segment's team is its operator's, else
-- its queue's. One pass per fact table: grouping sets over dimension × grain.
with days as (
    select cast(g.day as date) as local_date
    from data_range as r
    cross join unnest(generate_series(r.date_from, r.date_to, interval 1 day)) as g(day)
),

segments as (
    select
        s.*,
        cast(date_trunc('week', s.team_local_date) as date) as week_start,
        cast(date_trunc('month', s.team_local_date) as date) as month_start
    from segment_facts as s
),

segment_sums as (
    select
        case when grouping(s.group_team_id) = 0 then 'team' when grouping(s.tier) = 0 then 'tier' else 'channel' end
            as dimension,
        coalesce(s.group_team_id, s.tier, s.channel) as dimension_value,
        case when grouping(s.team_local_date) = 0 then 'day' when grouping(s.week_start) = 0 then 'week' else 'month' end
            as grain,
        coalesce(s.team_local_date, s.week_start, s.month_start) as period_start,
        -- include: metrics/segment_sums.sql
    from segments as s
    group by grouping sets (
        (s.group_team_id, s.team_local_date), (s.group_team_id, s.week_start), (s.group_team_id, s.month_start),
        (s.tier, s.team_local_date), (s.tier, s.week_start), (s.tier, s.month_start),
        (s.channel, s.team_local_date), (s.channel, s.week_start), (s.channel, s.month_start)
    )
),

contacts as (
    select
        tc.*,
        cast(date_trunc('week', tc.local_date) as date) as week_start,
        cast(date_trunc('month', tc.local_date) as date) as month_start
    from team_contact_facts as tc
),

contact_sums as (
    select
        tc.dimension,
        tc.dimension_value,
        case when grouping(tc.local_date) = 0 then 'day' when grouping(tc.week_start) = 0 then 'week' else 'month' end
            as grain,
        coalesce(tc.local_date, tc.week_start, tc.month_start) as period_start,
        -- include: metrics/team_contact_sums.sql
    from contacts as tc
    group by grouping sets (
        (tc.dimension, tc.dimension_value, tc.local_date),
        (tc.dimension, tc.dimension_value, tc.week_start),
        (tc.dimension, tc.dimension_value, tc.month_start)
    )
),

queued as (
    select
        q.*,
        cast(date_trunc('week', q.local_date) as date) as week_start,
        cast(date_trunc('month', q.local_date) as date) as month_start
    from team_queue_facts as q
),

queue_sums as (
    select
        case when grouping(q.team_id) = 0 then 'team' else 'channel' end as dimension,
        coalesce(q.team_id, q.channel) as dimension_value,
        case when grouping(q.local_date) = 0 then 'day' when grouping(q.week_start) = 0 then 'week' else 'month' end
            as grain,
        coalesce(q.local_date, q.week_start, q.month_start) as period_start,
        -- include: metrics/queue_sums.sql
    from queued as q
    group by grouping sets (
        (q.team_id, q.local_date), (q.team_id, q.week_start), (q.team_id, q.month_start),
        (q.channel, q.local_date), (q.channel, q.week_start), (q.channel, q.month_start)
    )
),

dimension_values as (
    select 'team' as dimension, team_id as dimension_value from dim_teams
    union
    select 'tier', tier from dim_operators where tier is not null
    union
    select dimension, dimension_value from segment_sums where dimension_value is not null
    union
    select dimension, dimension_value from contact_sums where dimension_value is not null
    union
    select dimension, dimension_value from queue_sums where dimension_value is not null
),

periods as (
    select 'day' as grain, local_date as period_start from days
    union
    select 'week', cast(date_trunc('week', local_date) as date) from days
    union
    select 'month', cast(date_trunc('month', local_date) as date) from days
),

roster as (
    select v.dimension, v.dimension_value, p.grain, p.period_start
    from dimension_values as v
    cross join periods as p
    union
    select dimension, dimension_value, grain, period_start from segment_sums where dimension_value is not null
    union
    select dimension, dimension_value, grain, period_start from contact_sums where dimension_value is not null
    union
    select dimension, dimension_value, grain, period_start from queue_sums where dimension_value is not null
),

inputs as (
    select
        r.dimension,
        r.dimension_value,
        r.grain,
        r.period_start,
        -- include: metrics/team_inputs.sql
    from roster as r
    left join segment_sums as ss
        on ss.dimension = r.dimension and ss.dimension_value = r.dimension_value
        and ss.grain = r.grain and ss.period_start = r.period_start
    left join contact_sums as tc
        on tc.dimension = r.dimension and tc.dimension_value = r.dimension_value
        and tc.grain = r.grain and tc.period_start = r.period_start
    left join queue_sums as qs
        on qs.dimension = r.dimension and qs.dimension_value = r.dimension_value
        and qs.grain = r.grain and qs.period_start = r.period_start
)

select
    m.dimension,
    m.dimension_value,
    m.grain,
    m.period_start,
    -- include: metrics/cell_rates.sql
    ,
    -- include: metrics/queue_rates.sql
    ,
    m.provisional
from inputs as m
