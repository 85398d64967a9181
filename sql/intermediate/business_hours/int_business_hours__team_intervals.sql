-- One row per team, local day and opening interval, as UTC instants (closed days have none)
select
    d.team_id,
    d.local_date,
    h.open_minute,
    h.close_minute,
    (cast(d.local_date as timestamp) + h.open_minute * interval 1 minute) at time zone t.timezone as opens_at,
    (cast(d.local_date as timestamp) + h.close_minute * interval 1 minute) at time zone t.timezone as closes_at
from int_business_hours__team_days as d
inner join calendar_team_hours as h on h.team_id = d.team_id and h.weekday = d.schedule_weekday
inner join stg_teams as t on t.team_id = d.team_id
where not d.is_day_off
