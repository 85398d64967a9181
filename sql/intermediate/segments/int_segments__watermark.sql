-- One row: the latest loaded event and the largest forward-looking window, for the provisional flag (DESIGN §3 Maturity)
with events as (
    select max(ended_at) as event_at from raw_calls
    union all
    select max(ended_at) from raw_chats
    union all
    select max("at") from raw_ticket_events
    union all
    select max(updated_at) from raw_tickets
    union all
    select max(received_at) from raw_csat_responses
    union all
    select max(sent_at) from raw_surveys_sent
)

select
    (select max(event_at) from events) as latest_event_at,
    max(case when key = 'maturity.window_days' then cast(value as integer) end) as maturity_window_days
from config_values
