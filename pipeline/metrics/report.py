"""Figures for any range, from the published snapshot's facts (never the warehouse, never days averaged).

`scorecard`, `queues`, `teams` and `csat` recompute every cell from `segment_facts`, `queue_stint_facts`,
`team_contact_facts`, `team_queue_facts`, `operator_presence_daily` and `csat_response_facts` with the same SQL metric
definitions the marts use (`sql/metrics/*.sql`, included here as in the models), so a range, a week
or a month is computed exactly like `operator_period`, never averaged from days. Rows are keyed by
report names: `_ms` columns become `_s` seconds (÷ 1000) through the catalogue.

Ranges are local dates, inclusive. `period` is a calendar month (`2026-10`) or an ISO week
(`2026-W43`); without a range the whole loaded range (`data_range`) is used. Grain `day`, `week`
(ISO, Monday start), `month` or `all` (one row per cell; period_start = the first day of the range).
Weeks and months are clipped to the range: `period_start` is the week's Monday or the month's first
day, the figures count only the range's days in it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb

from pipeline.core.errors import UsageError
from pipeline.core.home import Home
from pipeline.transforms import expand_includes
from pipeline.warehouse import open_snapshot

GRAINS = ("day", "week", "month", "all")
DIMENSIONS = ("team", "tier", "channel")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Period:
    period_start: date  # the label: range start (all), the day, the ISO week's Monday, the month's first day
    date_from: date     # the days counted (the period clipped to the range)
    date_to: date


def parse_period(period: str) -> tuple[date, date]:
    """`2026-10` → (2026-10-01, 2026-10-31); `2026-W43` → (Monday, Sunday) of that ISO week."""
    bad = UsageError(f"Attempted to read the period {period!r}, but it is neither a month (YYYY-MM) nor an ISO "
                     "week (YYYY-Www)", "Pass e.g. 2026-10 or 2026-W43")
    if m := _MONTH.match(period.strip()):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise bad
        first = date(year, month, 1)
        return first, _month_end(first)
    if m := _WEEK.match(period.strip()):
        try:
            monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError:
            raise bad from None
        return monday, monday + timedelta(days=6)
    raise bad


def _month_end(first: date) -> date:
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def periods(date_from: date, date_to: date, grain: str) -> list[Period]:
    """The report periods of a range at a grain, clipped to the range."""
    if grain not in GRAINS:
        raise UsageError(f"Attempted to report at grain {grain!r}, but it is not one of {', '.join(GRAINS)}",
                         "Pass day, week, month or all")
    if grain == "all":
        return [Period(date_from, date_from, date_to)]
    out: list[Period] = []
    day = date_from
    while day <= date_to:
        if grain == "day":
            start, end = day, day
        elif grain == "week":
            start = day - timedelta(days=day.weekday())
            end = start + timedelta(days=6)
        else:
            start = day.replace(day=1)
            end = _month_end(start)
        out.append(Period(start, max(start, date_from), min(end, date_to)))
        day = end + timedelta(days=1)
    return out


@functools.lru_cache(maxsize=8)
def _sql(text: str) -> str:
    return expand_includes(text)


# Parameters: grain, date_from, date_to, the filter (operator, queue or dimension), then the period
# labels with their clipped bounds. Facts are filtered to the range and labelled with their period.
_PARAMS_CTE = """with params as (
    select ?::VARCHAR as grain, ?::DATE as date_from, ?::DATE as date_to, ?::VARCHAR as selected
),

periods as (
    select unnest(?::DATE[]) as period_start, unnest(?::DATE[]) as period_from, unnest(?::DATE[]) as period_to
)"""


def _period_of(column: str) -> str:
    return f"""case p.grain
            when 'day' then {column}
            when 'week' then cast(date_trunc('week', {column}) as date)
            when 'month' then cast(date_trunc('month', {column}) as date)
            else p.date_from
        end"""


_SCORECARD_SQL = _PARAMS_CTE + f""",

segments as (
    select s.*, {_period_of("s.local_date")} as period_start
    from segment_facts as s
    cross join params as p
    where s.operator_id is not null and s.local_date between p.date_from and p.date_to
        and (p.selected is null or s.operator_id = p.selected)
),

segment_sums as (
    select
        s.operator_id,
        s.period_start,
        -- include: metrics/segment_sums.sql
    from segments as s
    group by s.operator_id, s.period_start
),

presence as (
    select o.*, {_period_of("o.local_date")} as period_start
    from operator_presence_daily as o
    cross join params as p
    where o.local_date between p.date_from and p.date_to and (p.selected is null or o.operator_id = p.selected)
),

presence_sums as (
    select
        p.operator_id,
        p.period_start,
        -- include: metrics/presence_sums.sql
    from presence as p
    group by p.operator_id, p.period_start
),

roster as (
    select v.operator_id, d.period_start
    from dim_operators as v
    inner join periods as d on v.valid_from <= d.period_to and v.valid_to > d.period_from
    cross join params as p
    where p.selected is null or v.operator_id = p.selected
    union
    select operator_id, period_start from segment_sums
    union
    select operator_id, period_start from presence_sums
),

inputs as (
    select
        r.operator_id,
        r.period_start,
        -- include: metrics/operator_inputs.sql
    from roster as r
    left join segment_sums as ss on ss.operator_id = r.operator_id and ss.period_start = r.period_start
    left join presence_sums as ps on ps.operator_id = r.operator_id and ps.period_start = r.period_start
),

names as (
    select operator_id, display_name
    from dim_operators
    qualify row_number() over (partition by operator_id order by valid_from desc) = 1
)

select
    m.operator_id,
    n.display_name,
    m.period_start,
    -- include: metrics/cell_rates.sql
    ,
    -- include: metrics/operator_rates.sql
    ,
    m.provisional
from inputs as m
left join names as n on n.operator_id = m.operator_id
order by m.operator_id, m.period_start
"""

_QUEUES_SQL = _PARAMS_CTE + f""",

stints as (
    select q.*, {_period_of("q.local_date")} as period_start
    from queue_stint_facts as q
    cross join params as p
    where q.local_date between p.date_from and p.date_to and (p.selected is null or q.queue_id = p.selected)
),

queue_sums as (
    select
        q.queue_id,
        q.period_start,
        -- include: metrics/queue_sums.sql
    from stints as q
    group by q.queue_id, q.period_start
),

roster as (
    select q.queue_id, d.period_start
    from dim_queues as q
    cross join periods as d
    cross join params as p
    where p.selected is null or q.queue_id = p.selected
    union
    select queue_id, period_start from queue_sums
),

inputs as (
    select
        r.queue_id,
        r.period_start,
        -- include: metrics/queue_inputs.sql
    from roster as r
    left join queue_sums as qs on qs.queue_id = r.queue_id and qs.period_start = r.period_start
)

select
    m.queue_id,
    m.period_start,
    -- include: metrics/queue_rates.sql
    ,
    m.provisional
from inputs as m
order by m.queue_id, m.period_start
"""

_TEAMS_SQL = _PARAMS_CTE + f""",

segments as (
    select
        s.*,
        case p.selected when 'team' then s.group_team_id when 'tier' then s.tier else s.channel end as dimension_value,
        {_period_of("s.team_local_date")} as period_start
    from segment_facts as s
    cross join params as p
    where s.team_local_date between p.date_from and p.date_to
),

segment_sums as (
    select
        s.dimension_value,
        s.period_start,
        -- include: metrics/segment_sums.sql
    from segments as s
    where s.dimension_value is not null
    group by s.dimension_value, s.period_start
),

contacts as (
    select tc.*, {_period_of("tc.local_date")} as period_start
    from team_contact_facts as tc
    cross join params as p
    where tc.dimension = p.selected and tc.local_date between p.date_from and p.date_to
),

contact_sums as (
    select
        tc.dimension_value,
        tc.period_start,
        -- include: metrics/team_contact_sums.sql
    from contacts as tc
    group by tc.dimension_value, tc.period_start
),

queued as (
    select
        q.*,
        case p.selected when 'team' then q.team_id when 'channel' then q.channel end as dimension_value,
        {_period_of("q.local_date")} as period_start
    from team_queue_facts as q
    cross join params as p
    where q.local_date between p.date_from and p.date_to
),

queue_sums as (
    select
        q.dimension_value,
        q.period_start,
        -- include: metrics/queue_sums.sql
    from queued as q
    where q.dimension_value is not null
    group by q.dimension_value, q.period_start
),

dimension_values as (
    select team_id as dimension_value from dim_teams cross join params as p where p.selected = 'team'
    union
    select tier from dim_operators cross join params as p where p.selected = 'tier' and tier is not null
    union
    select dimension_value from segment_sums
    union
    select dimension_value from contact_sums
    union
    select dimension_value from queue_sums
),

roster as (
    select v.dimension_value, d.period_start
    from dimension_values as v
    cross join periods as d
),

inputs as (
    select
        r.dimension_value,
        r.period_start,
        -- include: metrics/team_inputs.sql
    from roster as r
    left join segment_sums as ss on ss.dimension_value = r.dimension_value and ss.period_start = r.period_start
    left join contact_sums as tc on tc.dimension_value = r.dimension_value and tc.period_start = r.period_start
    left join queue_sums as qs on qs.dimension_value = r.dimension_value and qs.period_start = r.period_start
)

select
    p.selected as dimension,
    m.dimension_value,
    m.period_start,
    -- include: metrics/cell_rates.sql
    ,
    -- include: metrics/queue_rates.sql
    ,
    m.provisional
from inputs as m
cross join params as p
order by m.dimension_value, m.period_start
"""


# CSAT by survey language (DESIGN §4): the responses team CSAT counts, on the dates it counts them
# (csat_response_facts), optionally of one language (`selected`) and one team (`team`). Every language
# seen in the facts gets a row per period, as in the csat_language_period mart.
_CSAT_SQL = _PARAMS_CTE + f""",

team_filter as (
    select ?::VARCHAR as team_id
),

responses as (
    select r.*, {_period_of("r.local_date")} as period_start
    from csat_response_facts as r
    cross join params as p
    cross join team_filter as t
    where r.local_date between p.date_from and p.date_to
        and (p.selected is null or r.language = p.selected)
        and (t.team_id is null or r.team_id = t.team_id)
),

response_sums as (
    select
        r.language,
        r.period_start,
        -- include: metrics/csat_response_sums.sql
    from responses as r
    group by r.language, r.period_start
),

languages as (
    select distinct r.language
    from csat_response_facts as r
    cross join params as p
    where p.selected is null or r.language = p.selected
),

roster as (
    select l.language, d.period_start
    from languages as l
    cross join periods as d
    union
    select language, period_start from response_sums
),

inputs as (
    select
        r.language,
        r.period_start,
        -- include: metrics/csat_response_inputs.sql
    from roster as r
    left join response_sums as cs on cs.language = r.language and cs.period_start = r.period_start
)

select
    m.language,
    t.team_id,
    m.period_start,
    -- include: metrics/csat_rates.sql
    ,
    -- include: metrics/csat_wilson.sql
    ,
    m.provisional
from inputs as m
cross join team_filter as t
order by m.language, m.period_start
"""


def _range(con: duckdb.DuckDBPyConnection, date_from: date | None, date_to: date | None,
           period: str | None) -> tuple[date, date] | None:
    if period is not None and (date_from is not None or date_to is not None):
        raise UsageError(f"Attempted to select a range with the period {period} and from/to dates, but they are "
                         "exclusive", "Pass either a period (2026-10, 2026-W43) or from/to dates")
    if period is not None:
        return parse_period(period)
    loaded = con.execute("SELECT date_from, date_to FROM data_range").fetchone()
    first = date_from or (loaded[0] if loaded else None)
    last = date_to or (loaded[1] if loaded else None)
    if first is None or last is None:
        return None  # nothing loaded and no explicit range
    if first > last:
        raise UsageError(f"Attempted to report from {first} to {last}, but the start is after the end",
                         "Swap them: the end is the last day of the range, inclusive")
    return first, last


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], grain: str) -> list[dict[str, Any]]:
    cur = con.execute(_sql(sql), params)
    names = [d[0] for d in cur.description]
    return [_report_row(dict(zip(names, r, strict=True)), grain) for r in cur.fetchall()]


def _report_row(row: dict[str, Any], grain: str) -> dict[str, Any]:
    """Keys first (id, period_start as ISO text, grain, provisional), then metrics under report names."""
    from pipeline.metrics import catalogue

    keys = [k for k in ("operator_id", "display_name", "queue_id", "dimension", "dimension_value", "language",
                        "team_id") if k in row]
    out: dict[str, Any] = {k: row[k] for k in keys}
    out["period_start"] = row["period_start"].isoformat()
    out["grain"] = grain
    out["provisional"] = bool(row["provisional"])
    rest = {k: v for k, v in row.items() if k not in out and k != "provisional"}
    for name, value in catalogue.to_report_row(rest).items():
        if name.endswith("_ms"):  # a column the catalogue does not list: same convention, ms → s
            name, value = name[:-3] + "_s", (None if value is None else value / 1000.0)
        out[name] = value
    return out


def _params(span: tuple[date, date], grain: str, selected: str | None, ps: list[Period]) -> list[Any]:
    return [grain, span[0], span[1], selected,
            [p.period_start for p in ps], [p.date_from for p in ps], [p.date_to for p in ps]]


def scorecard(home: Home, *, date_from: date | None = None, date_to: date | None = None, period: str | None = None,
              grain: str = "all", operator: str | None = None) -> list[dict[str, Any]]:
    """One row per operator and period: every operator with a version valid in the period (zero counts,
    null rates when idle) or with segments in it."""
    con = open_snapshot(home)
    try:
        span = _range(con, date_from, date_to, period)
        if span is None:
            return []
        ps = periods(span[0], span[1], grain)
        return _rows(con, _SCORECARD_SQL, _params(span, grain, operator, ps), grain)
    finally:
        con.close()


def queues(home: Home, *, date_from: date | None = None, date_to: date | None = None, period: str | None = None,
           grain: str = "all", queue: str | None = None) -> list[dict[str, Any]]:
    """One row per queue and period (every known queue; zero counts when it saw nothing)."""
    con = open_snapshot(home)
    try:
        span = _range(con, date_from, date_to, period)
        if span is None:
            return []
        ps = periods(span[0], span[1], grain)
        return _rows(con, _QUEUES_SQL, _params(span, grain, queue, ps), grain)
    finally:
        con.close()


def teams(home: Home, *, dimension: str = "team", date_from: date | None = None, date_to: date | None = None,
          period: str | None = None, grain: str = "all") -> list[dict[str, Any]]:
    """One row per team (or tier, or channel) and period: distinct contacts, team FCR, CSAT, AHT, SL."""
    if dimension not in DIMENSIONS:
        raise UsageError(f"Attempted to break the team report down by {dimension!r}, but it is not one of "
                         f"{', '.join(DIMENSIONS)}", "Pass team, tier or channel")
    con = open_snapshot(home)
    try:
        span = _range(con, date_from, date_to, period)
        if span is None:
            return []
        ps = periods(span[0], span[1], grain)
        return _rows(con, _TEAMS_SQL, _params(span, grain, dimension, ps), grain)
    finally:
        con.close()


def csat(home: Home, *, date_from: date | None = None, date_to: date | None = None, period: str | None = None,
         grain: str = "all", language: str | None = None, team: str | None = None) -> list[dict[str, Any]]:
    """One row per survey language and period: CSAT responses, top-box share with its Wilson 95% bounds,
    1–5 mean. Every response team CSAT counts (credited to an operator or not), on the date it counts it,
    so the languages add up to the overall (channel) figures, or with `team` to that team's. A response
    without a language is `unknown`; `language` is matched lower-cased."""
    con = open_snapshot(home)
    try:
        span = _range(con, date_from, date_to, period)
        if span is None:
            return []
        ps = periods(span[0], span[1], grain)
        selected = language.strip().lower() if language is not None else None
        rows = _rows(con, _CSAT_SQL, [*_params(span, grain, selected, ps), team], grain)
        if team is None:  # the team column says which team was selected; without one it is left out
            for r in rows:
                del r["team_id"]
        return rows
    finally:
        con.close()
