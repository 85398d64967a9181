-- One row per team with business hours and local day its contacts span: day off, schedule applied, business minutes, calendar coverage
-- A holiday of the team's country is a day off; a transferred working weekend day follows the
-- Monday schedule. is_calendar_missing marks a day of a year without a holiday calendar: the
-- runner stops with an error naming the team and year (never 0 minutes).
with teams as (
    select team_id, timezone, holiday_country
    from stg_teams
    where business_hours is not null
),

spans as (
    select
        c.team_id,
        min(cast(c.created_at at time zone t.timezone as date)) as first_day,
        max(cast(coalesce(r.full_resolved_at, c.created_at) at time zone t.timezone as date)) as last_day
    from int_segments__contacts as c
    inner join int_fcr__contact_resolution as r on r.contact_type = c.contact_type and r.contact_id = c.contact_id
    inner join teams as t on t.team_id = c.team_id
    group by c.team_id
),

days as (
    select
        s.team_id,
        cast(g.day as date) as local_date
    from spans as s
    cross join unnest(generate_series(s.first_day, s.last_day, interval 1 day)) as g(day)
),

flagged as (
    select
        d.team_id,
        d.local_date,
        t.holiday_country,
        isodow(d.local_date) as weekday,
        coalesce(cd.is_day_off, false) as is_day_off,
        coalesce(cd.is_working_weekend, false) as is_working_weekend,
        cd.holiday_name,
        t.holiday_country is not null and cy.year is null as is_calendar_missing
    from days as d
    inner join teams as t on t.team_id = d.team_id
    left join calendar_days as cd on cd.country = t.holiday_country and cd.day = d.local_date
    left join calendar_years as cy on cy.country = t.holiday_country and cy.year = year(d.local_date)
),

scheduled as (
    select
        f.*,
        case when f.is_working_weekend then 1 else f.weekday end as schedule_weekday
    from flagged as f
),

minutes as (
    select team_id, weekday, sum(close_minute - open_minute) as scheduled_minutes
    from calendar_team_hours
    group by team_id, weekday
)

select
    s.team_id,
    s.local_date,
    s.holiday_country,
    s.weekday,
    s.schedule_weekday,
    s.is_day_off,
    s.is_working_weekend,
    s.holiday_name,
    s.is_calendar_missing,
    cast(case when s.is_day_off then 0 else coalesce(h.scheduled_minutes, 0) end as bigint) as business_minutes
from scheduled as s
left join minutes as h on h.team_id = s.team_id and h.weekday = s.schedule_weekday
