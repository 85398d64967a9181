-- One row per survey language, grain (day, ISO week, calendar month) and period start: CSAT of the responses in that language
-- incremental: grain, period_start
-- DESIGN §4 CSAT "broken down by survey language": every response team CSAT counts (credited to an
-- operator or not), on the date team CSAT gives it (csat_response_facts), so the languages of a
-- period add up to team_period's channel rows of that period (= overall CSAT). Language 'unknown'
-- holds responses without one. Dense like team_period: every language seen in the facts has a row
-- for every period of the loaded range (counts 0, rates null); roster_keys lists the languages, so
-- a new one makes the next build full. Surveys sent carry no language, so there is no response rate here.
with days as (
    select cast(g.day as date) as local_date
    from data_range as r
    cross join unnest(generate_series(r.date_from, r.date_to, interval 1 day)) as g(day)
),

responses as (
    select
        r.*,
        cast(date_trunc('week', r.local_date) as date) as week_start,
        cast(date_trunc('month', r.local_date) as date) as month_start
    from csat_response_facts as r
    where r.local_date is not null
),

response_sums as (
    select
        r.language,
        case when grouping(r.local_date) = 0 then 'day' when grouping(r.week_start) = 0 then 'week' else 'month' end
            as grain,
        coalesce(r.local_date, r.week_start, r.month_start) as period_start,
        -- include: metrics/csat_response_sums.sql
    from responses as r
    group by grouping sets ((r.language, r.local_date), (r.language, r.week_start), (r.language, r.month_start))
),

languages as (
    select distinct language from csat_response_facts
),

periods as (
    select 'day' as grain, local_date as period_start from days
    union
    select 'week', cast(date_trunc('week', local_date) as date) from days
    union
    select 'month', cast(date_trunc('month', local_date) as date) from days
),

roster as (
    select l.language, p.grain, p.period_start
    from languages as l
    cross join periods as p
    union
    select language, grain, period_start from response_sums
),

inputs as (
    select
        r.language,
        r.grain,
        r.period_start,
        -- include: metrics/csat_response_inputs.sql
    from roster as r
    left join response_sums as cs
        on cs.language = r.language and cs.grain = r.grain and cs.period_start = r.period_start
)

select
    m.language,
    m.grain,
    m.period_start,
    -- include: metrics/csat_rates.sql
    ,
    -- include: metrics/csat_wilson.sql
    ,
    m.provisional
from inputs as m
