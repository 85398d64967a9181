"""`opkpi report scorecard | queues | teams | csat`: figures from the published snapshot, never the warehouse.

The query module (`pipeline.metrics.report`) computes; this module only checks the options and
formats. Rows arrive keyed by report names (`aht_phone_s`); rounding happens only in `table` output
(seconds to 1 decimal, rates as percent with 1 decimal), csv/json/parquet carry exact values.
JSON is a list of objects on stdout and nothing else; messages go to stderr.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from pipeline.core.errors import UsageError
from pipeline.metrics import catalogue
from pipeline.metrics.catalogue import KeyColumn, Metric

NULL_IN_TABLE = "—"
HEADER_WIDTH = 10  # table headers wrap at words to at least this width
TABLE_DECIMALS = {"seconds": 1, "rate": 1, "ratio": 2, "score": 2}

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")

err = Console(stderr=True, highlight=False, soft_wrap=True)


GRAINS = ("day", "week", "month", "all")
FORMATS = ("table", "csv", "json", "parquet")
DIMENSIONS = ("team", "tier", "channel")


_PRECEDENCE = " Precedence: flag > env > default."
FromOpt = Annotated[str | None, typer.Option(
    "--from", metavar="YYYY-MM-DD", help="First local day of the range (inclusive); default: the first loaded "
    "day. Exclusive with --period.")]
ToOpt = Annotated[str | None, typer.Option(
    "--to", metavar="YYYY-MM-DD", help="Last local day of the range (inclusive); default: the last loaded "
    "day. Exclusive with --period.")]
PeriodOpt = Annotated[str | None, typer.Option(
    "--period", metavar="2026-10|2026-W43", help="A calendar month or an ISO week. Exclusive with --from/--to.")]
# Choices are plain strings checked here, so a wrong value is a usage error (exit 2) in our own words.
GrainOpt = Annotated[str, typer.Option(
    "--grain", metavar="|".join(GRAINS), envvar="OPKPI_REPORT_GRAIN", show_envvar=True,
    help="One row per day, ISO week, month, or one row for the whole range (all)." + _PRECEDENCE)]
FormatOpt = Annotated[str, typer.Option(
    "--format", metavar="|".join(FORMATS), envvar="OPKPI_REPORT_FORMAT", show_envvar=True,
    help="table (headline columns, rounded, for people), csv, json (a list of objects, every column) or "
         "parquet (needs --out)." + _PRECEDENCE)]
OutOpt = Annotated[Path | None, typer.Option(
    "--out", metavar="FILE", help="Write to this file instead of stdout (required for parquet).")]

report_app = typer.Typer(no_args_is_help=True, help="Scorecards, queue and team figures and CSAT by survey "
                         "language from the published snapshot (run `opkpi run` first). Definitions: "
                         "docs/metrics.md.")


def register(app: typer.Typer) -> None:
    """Add the `report` command group to the `opkpi` app."""
    app.add_typer(report_app, name="report")


# --- commands ----------------------------------------------------------------------------------------

@report_app.command("scorecard")
def scorecard_cmd(
    ctx: typer.Context,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    period: PeriodOpt = None,
    grain: GrainOpt = "all",
    operator: Annotated[str | None, typer.Option("--operator", metavar="ID", help="Only this operator.")] = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Per-operator scorecard: volumes, AHT by channel, FCR, CSAT, FRT, resolution, escalation, occupancy."""
    sel = _selection(date_from, date_to, period, grain, fmt, out, what="the scorecard")
    from pipeline.metrics import report

    rows = report.scorecard(_home(ctx), grain=grain, operator=operator, **sel)
    _emit(rows, fmt, out, title=_title("Scorecard", sel, grain), cell="operator",
          keys=("operator_id", "period_start", "grain", "provisional"))


@report_app.command("queues")
def queues_cmd(
    ctx: typer.Context,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    period: PeriodOpt = None,
    grain: GrainOpt = "all",
    queue: Annotated[str | None, typer.Option("--queue", metavar="ID", help="Only this queue.")] = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Per-queue service figures: offered, answered, abandoned, service level, ASA, abandonment rate."""
    sel = _selection(date_from, date_to, period, grain, fmt, out, what="the queue report")
    from pipeline.metrics import report

    rows = report.queues(_home(ctx), grain=grain, queue=queue, **sel)
    _emit(rows, fmt, out, title=_title("Queues", sel, grain), cell="queue",
          keys=("queue_id", "period_start", "grain", "provisional"))


@report_app.command("teams")
def teams_cmd(
    ctx: typer.Context,
    dimension: Annotated[str, typer.Option(metavar="|".join(DIMENSIONS),
                         help="Break down by team, tier or channel.")] = "team",
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    period: PeriodOpt = None,
    grain: GrainOpt = "all",
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Per-team (or tier, or channel) figures: distinct contacts handled, FCR, CSAT, AHT, SL."""
    _choice(dimension, DIMENSIONS, "--dimension")
    sel = _selection(date_from, date_to, period, grain, fmt, out, what=f"the {dimension} report")
    from pipeline.metrics import report

    rows = report.teams(_home(ctx), dimension=dimension, grain=grain, **sel)
    _emit(rows, fmt, out, title=_title(f"By {dimension}", sel, grain), cell="team",
          keys=("dimension", "dimension_value", "period_start", "grain", "provisional"))


_CSAT_HELP = (
    "CSAT by survey language: responses, top-box share with Wilson 95% bounds, 1–5 mean.\n\n"
    "One row per survey language and period. Every response the team figures count is in it, credited to an "
    "operator or not, on the date team CSAT gives it (its segment's date in the team's timezone), so the languages "
    "of a period add up to the overall CSAT of `report teams --dimension channel`, or with --team to that team's "
    "row of `report teams`. Responses without a language are `unknown`. No response rate: surveys sent carry no "
    "language."
)


@report_app.command("csat", help=_CSAT_HELP, short_help=_CSAT_HELP.split("\n", 1)[0])
def csat_cmd(
    ctx: typer.Context,
    language: Annotated[str | None, typer.Option(
        "--language", metavar="CODE", help="Only this survey language (ru, uk, en, ...; `unknown` for responses "
        "without one).")] = None,
    team: Annotated[str | None, typer.Option(
        "--team", metavar="ID", help="Only the responses this team's CSAT counts (its operators' and the "
        "uncredited ones of its contacts).")] = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    period: PeriodOpt = None,
    grain: GrainOpt = "all",
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    sel = _selection(date_from, date_to, period, grain, fmt, out, what="the CSAT report")
    from pipeline.metrics import report

    rows = report.csat(_home(ctx), grain=grain, language=language, team=team, **sel)
    scope = f"CSAT by survey language · team {team}" if team else "CSAT by survey language"
    _emit(rows, fmt, out, title=_title(scope, sel, grain), cell="language",
          keys=("language", *(("team_id",) if team else ()), "period_start", "grain", "provisional"))


# --- options -----------------------------------------------------------------------------------------

def _home(ctx: typer.Context):
    return ctx.find_root().obj.home


def _choice(value: str, allowed: Sequence[str], flag: str) -> None:
    if value not in allowed:
        raise UsageError(f"Attempted to read {flag} {value!r}, but it is not one of {', '.join(allowed)}",
                         f"Pass e.g. {flag} {allowed[0]}")


def _selection(date_from: str | None, date_to: str | None, period: str | None, grain: str, fmt: str,
               out: Path | None, *, what: str) -> dict[str, Any]:
    """Check the range and output options before anything is read, so usage errors exit 2 even when
    nothing is published yet."""
    _choice(grain, GRAINS, "--grain")
    _choice(fmt, FORMATS, "--format")
    if fmt == "parquet" and out is None:
        raise UsageError(f"Attempted to write {what} as parquet to stdout, but parquet is a binary file "
                         "format and needs a file", "Pass --out FILE, e.g. --out scorecard.parquet")
    if period is not None and (date_from is not None or date_to is not None):
        given = " and ".join(f"{flag} {v}" for flag, v in (("--from", date_from), ("--to", date_to)) if v)
        raise UsageError(f"Attempted to select the range of {what} with --period {period} and {given}, but "
                         "--period and --from/--to are exclusive",
                         "Pass either --period (2026-10 or 2026-W43) or --from D --to D")
    first = _parse_day(date_from, "--from")
    last = _parse_day(date_to, "--to")
    if first is not None and last is not None and first > last:
        raise UsageError(f"Attempted to select {what} from {first} to {last}, but --from is after --to",
                         "Swap them: --to is the last day of the range, inclusive")
    if period is not None:
        _check_period(period)
    return {"date_from": first, "date_to": last, "period": period}


def _parse_day(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"Attempted to read {flag} {value!r}, but it is not a YYYY-MM-DD date",
                         f"Pass e.g. {flag} 2026-10-01") from None


def _check_period(period: str) -> None:
    bad = UsageError(f"Attempted to read --period {period!r}, but it is neither a month (YYYY-MM) nor an ISO "
                     "week (YYYY-Www)", "Pass e.g. --period 2026-10 or --period 2026-W43")
    if m := _MONTH.match(period):
        if not 1 <= int(m.group(2)) <= 12:
            raise bad
        return
    if m := _WEEK.match(period):
        try:
            date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError:
            raise bad from None
        return
    raise bad


def _title(name: str, sel: dict[str, Any], grain: str) -> str:
    if sel["period"]:
        span = sel["period"]
    elif sel["date_from"] or sel["date_to"]:
        span = f"{sel['date_from'] or 'first loaded day'} to {sel['date_to'] or 'last loaded day'}"
    else:
        span = "all loaded data"
    return f"{name} · {span} · grain {grain}"


# --- output ------------------------------------------------------------------------------------------

def _entry(name: str) -> Metric | KeyColumn | None:
    try:
        return catalogue.lookup(name)
    except KeyError:
        return None


def _unit(name: str) -> str | None:
    e = _entry(name)
    if isinstance(e, Metric):
        return e.unit
    if e is None:  # not catalogued: fall back on the naming convention (STYLE: the suffix says the unit)
        if name.endswith("_s"):
            return "seconds"
        if name.endswith("_rate"):
            return "rate"
    return None


def _clean(value: Any) -> Any:
    """JSON/CSV-safe scalars: ISO dates, floats for Decimal, null for NaN (never valid JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _columns(rows: Sequence[dict[str, Any]], cell: str, keys: Sequence[str]) -> list[str]:
    if not rows:  # nothing selected: still a useful header
        return [*keys, *catalogue.report_columns(cell, companions=False)]
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    return list(cols)


@contextmanager
def _sink(out: Path | None, *, binary: bool = False):
    if out is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb" if binary else "w", encoding=None if binary else "utf-8",
              newline=None if binary else "") as fh:
        yield fh


# A table is for people: the headline figures fit a screen; csv, json and parquet carry every column.
HEADLINE: dict[str, tuple[str, ...]] = {
    "operator": ("operator_id", "display_name", "period_start", "provisional", "contacts_handled", "calls_answered",
                 "aht_phone_s", "aht_chat_s", "aht_email_s", "fcr_rate", "csat_top2_rate", "csat_mean",
                 "csat_responses", "frt_median_s", "resolution_median_s", "escalation_rate", "transfer_rate",
                 "occupancy"),
    "queue": ("queue_id", "period_start", "provisional", "offered", "answered", "abandoned", "short_abandoned",
              "timeout", "service_level", "asa_s", "abandon_rate"),
    "team": ("dimension", "dimension_value", "period_start", "provisional", "contacts_handled", "aht_phone_s",
             "aht_chat_s", "fcr_rate", "csat_top2_rate", "escalation_rate", "offered", "service_level"),
    "language": ("language", "team_id", "period_start", "provisional", "csat_responses", "csat_top2_rate",
                 "csat_wilson_low", "csat_wilson_high", "csat_mean"),
}


def _emit(rows: list[dict[str, Any]], fmt: str, out: Path | None, *, title: str, cell: str,
          keys: Sequence[str]) -> None:
    rows = [{k: _clean(v) for k, v in catalogue.to_report_row(r).items()} for r in rows]
    cols = _columns(rows, cell, keys)
    if fmt == "table" and cell in HEADLINE:
        cols = [c for c in HEADLINE[cell] if c in cols] or cols
    writer: Callable[[list[dict[str, Any]], list[str], Path | None, str], None] = {
        "json": _write_json, "csv": _write_csv, "parquet": _write_parquet, "table": _write_table}[fmt]
    writer(rows, cols, out, title)
    if out is not None:
        err.print(f"wrote {len(rows)} row(s) to {out}", markup=False)
    elif not rows:
        err.print("no rows for that selection", markup=False)


def _write_json(rows: list[dict[str, Any]], cols: list[str], out: Path | None, title: str) -> None:
    text = json.dumps([{c: r.get(c) for c in cols} for r in rows], ensure_ascii=False, indent=1,
                      allow_nan=False)
    with _sink(out) as fh:
        fh.write(text + "\n")


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _write_csv(rows: list[dict[str, Any]], cols: list[str], out: Path | None, title: str) -> None:
    with _sink(out) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([_csv_value(r.get(c)) for c in cols])


def _arrow_type(name: str):
    import pyarrow as pa

    e = _entry(name)
    if name == "provisional":
        return pa.bool_()
    if isinstance(e, Metric):
        return {"count": pa.int64(), "text": pa.string()}.get(e.unit, pa.float64())
    if isinstance(e, KeyColumn):
        return pa.string()
    return None  # not catalogued: let Arrow infer


def _write_parquet(rows: list[dict[str, Any]], cols: list[str], out: Path | None, title: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays, names = [], []
    for c in cols:
        values = [r.get(c) for r in rows]
        typ = _arrow_type(c)
        if typ == pa.int64() and any(isinstance(v, float) and not v.is_integer() for v in values):
            typ = pa.float64()
        arrays.append(pa.array(values, type=typ))
        names.append(c)
    table = pa.Table.from_arrays(arrays, names=names)
    assert out is not None  # checked in _selection
    with _sink(out, binary=True) as fh:
        pq.write_table(table, fh)


def _table_value(name: str, v: Any) -> str:
    if v is None:
        return NULL_IN_TABLE
    if isinstance(v, bool):
        return "yes" if v else "no"
    unit = _unit(name)
    if isinstance(v, int | float) and unit in TABLE_DECIMALS:
        if unit == "rate":
            return f"{v * 100:.{TABLE_DECIMALS[unit]}f}%"
        return f"{v:.{TABLE_DECIMALS[unit]}f}"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _header(name: str) -> str:
    e = _entry(name)
    return e.label("en") if e is not None else name


def _write_table(rows: list[dict[str, Any]], cols: list[str], out: Path | None, title: str) -> None:
    """Values never wrap; headers (catalogue labels) are wrapped at words to the column's width. When the
    terminal is narrower than the table, the table keeps its width rather than breaking numbers apart."""
    cells = [[_table_value(c, r.get(c)) for c in cols] for r in rows]
    t = Table(title=title, box=box.SIMPLE_HEAD)
    needed = 4
    for i, c in enumerate(cols):
        label = _header(c)
        width = max([len(row[i]) for row in cells] + [len(w) for w in label.split()] + [HEADER_WIDTH])
        numeric = _unit(c) not in (None, "text")
        t.add_column("\n".join(textwrap.wrap(label, width)), justify="right" if numeric else "left",
                     no_wrap=True, min_width=width)
        needed += width + 3
    for row in cells:
        t.add_row(*row)
    if out is None:
        console = Console(highlight=False)
        if console.width < needed:
            console = Console(highlight=False, width=needed)
        console.print(t)
        return
    buf = io.StringIO()
    Console(file=buf, highlight=False, color_system=None, width=max(100, needed)).print(t)
    with _sink(out) as fh:
        fh.write(buf.getvalue())
