"""Business-hours inputs the SQL reads: each team's weekly schedule and the holiday calendars.

`raw_teams.business_hours` (`mon-fri 09:00-18:00; sat 10:00-14:00`) is parsed here into
`calendar_team_hours(team_id, weekday, open_minute, close_minute)` (weekday 1 = Monday, minutes
of the local day, close ≤ 1440). Holiday calendars come from the `holidays` package for the
countries the teams name, for the years FIRST_CALENDAR_YEAR..LAST_CALENDAR_YEAR:
`calendar_days(country, day, is_day_off, is_working_weekend, holiday_name)` and
`calendar_years(country, year)` (which years exist). A team day in a year without a calendar is
an error naming the team and the year (`check_calendars`), never 0 business minutes.
"""

from __future__ import annotations

import hashlib
import json
import re

import duckdb

from pipeline.core.errors import OpkpiError

# Years for which holiday calendars are generated. Russia decrees its transferred days off each
# autumn for the next year: extend LAST_CALENDAR_YEAR once the `holidays` release knows them.
FIRST_CALENDAR_YEAR = 2020
LAST_CALENDAR_YEAR = 2027

WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
# A working weekend day (a transferred working day) follows the Monday schedule.
WORKING_WEEKEND_SCHEDULE_DAY = 1

_TIME = r"(\d{1,2}):(\d{2})"
_RANGE = re.compile(rf"^{_TIME}\s*-\s*{_TIME}$")


class CalendarError(OpkpiError):
    exit_code = 2


def parse_business_hours(text: str, *, team_id: str = "?") -> list[tuple[int, int, int]]:
    """`mon-fri 09:00-18:00; sat 10:00-14:00` → [(weekday, open_minute, close_minute), ...].

    Accepts day ranges (`mon-fri`, `sat-sun`), day lists (`mon,wed`), several intervals per day
    (`09:00-13:00,14:00-18:00`), `24:00` as the end of the day, overnight intervals (`22:00-06:00`
    is split at midnight onto the next weekday) and `24/7`.
    """
    out: list[tuple[int, int, int]] = []
    clean = text.strip().lower()
    if clean in ("24/7", "24x7"):
        return [(d, 0, 1440) for d in range(1, 8)]
    for part in filter(None, (p.strip() for p in re.split(r"[;\n]", clean))):
        m = re.match(r"^([a-z,\- ]+?)\s+(\d.*)$", part)
        if not m:
            raise _bad(team_id, text, f"`{part}` has no `days hh:mm-hh:mm`")
        days = _days(m.group(1), team_id, text)
        for interval in (s.strip() for s in m.group(2).split(",")):
            r = _RANGE.match(interval)
            if not r:
                raise _bad(team_id, text, f"`{interval}` is not `hh:mm-hh:mm`")
            a = int(r.group(1)) * 60 + int(r.group(2))
            b = int(r.group(3)) * 60 + int(r.group(4))
            if a > 1440 or b > 1440 or int(r.group(2)) > 59 or int(r.group(4)) > 59:
                raise _bad(team_id, text, f"`{interval}` is not a time of day")
            for d in days:
                if a < b:
                    out.append((d, a, b))
                elif a > b:  # overnight: the rest of this day, then the start of the next one
                    out.append((d, a, 1440))
                    if b > 0:
                        out.append((d % 7 + 1, 0, b))
    return sorted(set(out))


def _days(spec: str, team_id: str, text: str) -> list[int]:
    days: list[int] = []
    for token in filter(None, (t.strip() for t in spec.split(","))):
        if "-" in token:
            a, b = (x.strip()[:3] for x in token.split("-", 1))
            if a not in WEEKDAYS or b not in WEEKDAYS:
                raise _bad(team_id, text, f"`{token}` is not a day range")
            i, j = WEEKDAYS[a], WEEKDAYS[b]
            days += list(range(i, j + 1)) if i <= j else list(range(i, 8)) + list(range(1, j + 1))
        else:
            if token[:3] not in WEEKDAYS:
                raise _bad(team_id, text, f"`{token}` is not a day")
            days.append(WEEKDAYS[token[:3]])
    return days


def _bad(team_id: str, text: str, why: str) -> CalendarError:
    return CalendarError(f"Attempted to read the business hours of team {team_id} (`{text}`), but {why}",
                         "Write them like `mon-fri 09:00-18:00; sat 10:00-14:00` in the teams file and ingest it again")


def holiday_rows(country: str) -> tuple[list[tuple], list[tuple]]:
    """(calendar_days rows, calendar_years rows) for one country; empty when the package lacks it."""
    import holidays

    try:
        cls = holidays.country_holidays(country).__class__
    except NotImplementedError:
        return [], []
    first = max(FIRST_CALENDAR_YEAR, getattr(cls, "start_year", FIRST_CALENDAR_YEAR))
    last = min(LAST_CALENDAR_YEAR, getattr(cls, "end_year", LAST_CALENDAR_YEAR))
    years = list(range(first, last + 1))
    if not years:
        return [], []
    cal = holidays.country_holidays(country, years=years)
    days = [(country, d, True, False, str(name)) for d, name in sorted(cal.items())]
    working = getattr(cal, "weekend_workdays", set()) or set()
    days += [(country, d, False, True, "working day (transferred)") for d in sorted(working)
             if first <= d.year <= last and d not in cal]
    return days, [(country, y) for y in years]


def write_calendars(con: duckdb.DuckDBPyConnection) -> str:
    """(Re)write the schedule and calendar tables from `raw_teams`; returns a hash of their content."""
    teams = con.execute("""SELECT team_id, upper(trim(holiday_country)), business_hours FROM raw_teams
                           ORDER BY team_id""").fetchall()
    hours: list[tuple] = []
    for team_id, _country, text in teams:
        if text is not None and text.strip():
            hours += [(team_id, d, a, b) for d, a, b in parse_business_hours(text, team_id=team_id)]
    days: list[tuple] = []
    years: list[tuple] = []
    for country in sorted({c for _, c, _ in teams if c}):
        d, y = holiday_rows(country)
        days += d
        years += y
    con.execute("""CREATE OR REPLACE TABLE calendar_team_hours
                   (team_id VARCHAR, weekday INTEGER, open_minute INTEGER, close_minute INTEGER)""")
    con.execute("""CREATE OR REPLACE TABLE calendar_days (country VARCHAR, day DATE, is_day_off BOOLEAN,
                   is_working_weekend BOOLEAN, holiday_name VARCHAR)""")
    con.execute("CREATE OR REPLACE TABLE calendar_years (country VARCHAR, year INTEGER)")
    if hours:
        con.executemany("INSERT INTO calendar_team_hours VALUES (?, ?, ?, ?)", hours)
    if days:
        con.executemany("INSERT INTO calendar_days VALUES (?, ?, ?, ?, ?)", days)
    if years:
        con.executemany("INSERT INTO calendar_years VALUES (?, ?)", years)
    payload = json.dumps([hours, [(c, d.isoformat(), o, w, n) for c, d, o, w, n in days], years], default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def check_calendars(con: duckdb.DuckDBPyConnection) -> None:
    """Raise when a team needs business minutes for a year its country has no calendar for."""
    row = con.execute("""SELECT team_id, holiday_country, year(local_date) AS y FROM int_business_hours__team_days
                         WHERE is_calendar_missing ORDER BY team_id, y LIMIT 1""").fetchone()
    if row is None:
        return
    team_id, country, year = row
    known = con.execute("SELECT count(*) FROM calendar_years WHERE country = ?", [country]).fetchone()[0]
    why = (f"the holidays package has no calendar for country {country}" if not known
           else f"there is no {country} holiday calendar for {year} (calendars cover "
                f"{FIRST_CALENDAR_YEAR}–{LAST_CALENDAR_YEAR})")
    raise CalendarError(f"Attempted to compute business hours for team {team_id} in {year}, but {why}",
                        "Fix the team's holiday_country, or extend LAST_CALENDAR_YEAR in "
                        "pipeline/transforms/calendars.py once the calendar is published; "
                        "business minutes are never assumed to be 0")
