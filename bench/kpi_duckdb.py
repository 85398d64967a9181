"""(a) The practical limit: the core KPIs as one hand-written DuckDB query over the raw Parquet.

No validation, no pseudonymisation, no warehouse: read the files, compute AHT, FCR (7-day repeat
window) and CSAT top-2-box per operator and local day, in the definitions of DESIGN §4 restricted
to what the benchmark data holds (phone calls, one operator leg per call, CSAT on a 1–5 scale):

- segment = an answered leg with an agent; its day = the local date of `answered_at` in the
  timezone of the operator version in force;
- AHT: Σ(talk + hold + wrap) in ms (each rounded to ms, as staging does) / segments;
- FCR: den = inbound segments ending resolved, transfer or escalation of a customer with a usable
  number (not `anonymous`); num = those resolved with no repeat. A repeat is the customer's next
  inbound contact with the same reason that is not a short abandon (unanswered, abandoned within
  5 s), created in (created_at, anchor + 7 days], anchor = resolution, else the leg's end, else
  creation. The only contacts that need a repeat are themselves repeat candidates (inbound and
  answered), so the first strictly later candidate — one window over the candidates — is the one
  to test;
- CSAT: the latest scored response per (call, survey) received by anchor + 14 days, attributed to
  the call's leg when it started before the rating; top box = 4–5.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

QUERY = """
with operators as (
    select
        operator_id,
        dense_rank() over (order by timezone) as tz_no,
        timezone,
        valid_from - date '1970-01-01' as valid_from_day,
        coalesce(valid_to - date '1970-01-01', 2147483647) as valid_to_day
    from read_parquet($operators)
),
-- CSAT per call from a narrow scan of the calls: the latest scored response per (call, survey)
-- received by the cutoff (resolution + 14 days) and not before the leg started.
call_times as (
    select call_id, epoch_us(answered_at) as answered_us, epoch_us(ended_at) as ended_us
    from read_parquet($calls)
    where answered_at is not null
),
csat as (
    select r.contact_id as call_id, r.score in ('4', '5') as is_top_box
    from read_parquet($csat) as r
    inner join call_times as c
        on c.call_id = r.contact_id
        and epoch_us(r.received_at) <= c.ended_us + 14 * 86400000000
        and c.answered_us <= epoch_us(r.received_at)
    where r.contact_type = 'call' and r.scale = '1-5' and r.score in ('1', '2', '3', '4', '5')
    qualify row_number() over (
        partition by r.contact_id, coalesce(r.survey_id, '') order by r.received_at desc, r.response_id desc) = 1
),
csat_per_call as (
    select call_id, count(*) as scored_n, count(*) filter (where is_top_box) as top_box_n
    from csat
    group by call_id
),
-- Everything in integer microseconds since the epoch (TIMESTAMPTZ arithmetic and casts go through
-- ICU calendars, most of the cost at 10M rows), and only small columns through the window.
calls as (
    select
        c.customer_phone,
        c.reason_code,
        -- a repeat candidate: inbound, a usable customer, not a short abandon (unanswered, < 5 s)
        c.direction = 'inbound' and c.customer_phone <> 'anonymous'
            and not (c.answered_at is null and c.outcome = 'abandoned'
                     and epoch_us(c.ended_at) - epoch_us(coalesce(c.enqueued_at, c.ended_at)) < 5000000)
            as is_candidate,
        epoch_us(coalesce(c.enqueued_at, c.answered_at, c.ended_at)) as created_us,
        -- the segment: an answered leg with an agent (one per call here); the anchor of its repeat
        -- window is its end (the resolution when resolved, else the last leg's end)
        c.agent_id,
        epoch_us(c.answered_at) as answered_us,
        epoch_us(c.ended_at) as anchor_us,
        cast(round(c.talk_s * 1000) as bigint) + cast(round(c.hold_s * 1000) as bigint)
            + cast(round(c.wrap_s * 1000) as bigint) as handle_ms,
        c.direction = 'inbound' and c.customer_phone <> 'anonymous'
            and c.end_reason in ('resolved', 'transfer', 'escalation') as is_fcr_eligible,
        c.end_reason = 'resolved' as is_resolved,
        s.scored_n as csat_scored_n,
        s.top_box_n as csat_top_box_n
    from read_parquet($calls) as c
    left join csat_per_call as s on s.call_id = c.call_id
),
-- FCR: the next candidate of the same customer and reason created strictly later (the frame starts
-- 1 µs after the row, so a contact created at the same instant is no repeat). Only candidates need
-- one: a segment in the denominator is an inbound answered contact of a usable customer, hence a
-- candidate itself.
segments as (
    select
        *,
        first_value(created_us) over (
            partition by customer_phone, reason_code, is_candidate order by created_us
            range between 1 following and unbounded following) as next_us
    from calls
    qualify answered_us is not null and agent_id is not null
),
-- UTC offset of each operator timezone for every hour the data spans (offsets change on the hour)
hours as (
    select min(answered_us) // 3600000000 - 1 as first_hour, max(answered_us) // 3600000000 + 1 as last_hour
    from call_times
),
tz_offsets as (
    select
        z.tz_no * 100000000 + h.hour as tz_hour,
        epoch_us(cast(make_timestamptz(h.hour * 3600000000) at time zone z.timezone as timestamp))
            - h.hour * 3600000000 as offset_us
    from (select distinct tz_no, timezone from operators) as z
    cross join hours as b
    cross join (select unnest(range(b.first_hour, b.last_hour + 1)) as hour) as h
),
dated as (
    select
        o.operator_id,
        (s.answered_us + z.offset_us) // 86400000000 as local_day,
        s.handle_ms,
        s.is_fcr_eligible,
        s.is_resolved and not coalesce(s.next_us > s.created_us and s.next_us <= s.anchor_us + 7 * 86400000000,
                                       false) as is_resolved_no_repeat,
        coalesce(s.csat_scored_n, 0) as csat_scored_n,
        coalesce(s.csat_top_box_n, 0) as csat_top_box_n
    from segments as s
    inner join operators as o
        on o.operator_id = s.agent_id
        and s.answered_us // 86400000000 >= o.valid_from_day
        and s.answered_us // 86400000000 < o.valid_to_day
    -- a key computed from both sides keeps the join order: operators first, then the offsets
    inner join tz_offsets as z on z.tz_hour = o.tz_no * 100000000 + s.answered_us // 3600000000
)
select
    operator_id,
    date '1970-01-01' + cast(local_day as integer) as local_date,
    count(*) as segments_n,
    sum(handle_ms) as aht_phone_num_ms,
    count(handle_ms) as aht_phone_den,
    sum(handle_ms) / count(handle_ms) as aht_phone_ms,
    count(*) filter (where is_fcr_eligible and is_resolved_no_repeat) as fcr_num,
    count(*) filter (where is_fcr_eligible) as fcr_den,
    cast(sum(csat_top_box_n) as bigint) as csat_top2_num,
    cast(sum(csat_scored_n) as bigint) as csat_top2_den
from dated
group by operator_id, local_day
order by operator_id, local_date
"""


def run(data: Path, con: duckdb.DuckDBPyConnection | None = None):
    """The per-(operator, day) table as Arrow."""
    con = con or duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    params = {"operators": str(data / "operators.parquet"), "calls": str(data / "calls" / "*.parquet"),
              "csat": str(data / "csat_responses" / "*.parquet")}
    return con.sql(QUERY, params=params).to_arrow_table()
