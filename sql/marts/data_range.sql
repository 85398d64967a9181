-- One row: the loaded range of local dates (the default report range and the span of the dense daily marts) and the latest loaded event
with dates as (
    select min(local_date) as date_from, max(local_date) as date_to from segment_facts
    union all
    select min(team_local_date), max(team_local_date) from segment_facts
    union all
    select min(local_date), max(local_date) from contact_facts
    union all
    select min(local_date), max(local_date) from queue_stint_facts
    union all
    select min(local_date), max(local_date) from team_queue_facts
    union all
    select min(local_date), max(local_date) from operator_presence_daily
)

select
    min(d.date_from) as date_from,
    max(d.date_to) as date_to,
    max(w.latest_event_at) as latest_event_at
from dates as d
cross join int_segments__watermark as w
