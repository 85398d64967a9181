"""`opkpi report reconcile --source zendesk`: our first reply and resolution times per ticket against
Zendesk's own metric minutes, with a summary of how many match within a minute.

Reads the published snapshot only (`pipeline.metrics.reconcile`). `register(app)` attaches the command
to the `report` group (pipeline/cli/report.py) when it exists, else adds a top-level `reconcile`
command; `register_reconcile(group)` attaches it to any typer group. Both are idempotent.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from pipeline.core.errors import UsageError

FORMATS = ("table", "csv", "json")
NULL_IN_TABLE = "—"
COMMAND = "reconcile"

err = Console(stderr=True, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Attach `reconcile` to the `report` group when the report CLI is installed, else to `app`."""
    try:
        from pipeline.cli.report import report_app
    except ModuleNotFoundError as exc:
        if exc.name != "pipeline.cli.report":
            raise
        register_reconcile(app)
        return
    register_reconcile(report_app)


def register_reconcile(group: typer.Typer) -> None:
    if any(c.name == COMMAND for c in group.registered_commands):
        return
    group.command(COMMAND)(reconcile_cmd)


def reconcile_cmd(
    ctx: typer.Context,
    source: Annotated[str, typer.Option("--source", metavar="zendesk",
                      help="The system whose own figures are compared with ours.")] = "zendesk",
    hours: Annotated[str, typer.Option("--hours", metavar="calendar|business",
                     help="Calendar minutes, or business-hours minutes (resolutions only).")] = "calendar",
    tolerance: Annotated[float, typer.Option("--tolerance", metavar="MINUTES",
                         help="A pair matches when the difference is at most this many minutes.")] = 1.0,
    only_differences: Annotated[bool, typer.Option("--only-differences",
                                help="List only the pairs that do not match.")] = False,
    fmt: Annotated[str, typer.Option("--format", metavar="|".join(FORMATS), envvar="OPKPI_REPORT_FORMAT",
                   show_envvar=True, help="table (rounded), csv (the rows) or json ({summary, rows}). "
                   "Precedence: flag > env > default.")] = "table",
) -> None:
    """Per ticket: our first reply, first and full resolution minutes against Zendesk's, and how many match."""
    if fmt not in FORMATS:
        raise UsageError(f"Attempted to print the reconciliation as {fmt!r}, but that format is unknown",
                         "Use table, csv or json")
    from pipeline.metrics.reconcile import reconcile

    result = reconcile(ctx.find_root().obj.home, source=source, hours=hours, tolerance_min=tolerance)
    rows = [r for r in result.rows if not only_differences or r["is_match"] is not True]
    if fmt == "json":
        payload = {**result.as_dict(), "rows": rows}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1, allow_nan=False, default=str) + "\n")
    elif fmt == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        cols = list(rows[0]) if rows else ["ticket_id", "channel", "status", "metric", "ours_min", "source_min",
                                            "diff_min", "is_match"]
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r[c] is None else str(r[c]).lower() if isinstance(r[c], bool) else r[c] for c in cols])
        _print_summary(result.summary, result, stderr=True)
    else:
        _print_rows(rows, result)
        _print_summary(result.summary, result)


def _num(v: Any, digits: int = 1) -> str:
    if v is None:
        return NULL_IN_TABLE
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _print_rows(rows: list[dict[str, Any]], result) -> None:
    t = Table(title=f"Reconciliation with {result.source} · {result.hours} minutes · match within "
                    f"{result.tolerance_min:g} min", box=box.SIMPLE_HEAD)
    for col, right in (("ticket", False), ("channel", False), ("status", False), ("metric", False),
                       ("ours, min", True), (f"{result.source}, min", True), ("difference, min", True),
                       ("match", False)):
        t.add_column(col, justify="right" if right else "left", no_wrap=True)
    for r in rows:
        t.add_row(str(r["ticket_id"]), r["channel"] or NULL_IN_TABLE, r["status"] or NULL_IN_TABLE, r["metric"],
                  _num(r["ours_min"]), _num(r["source_min"]), _num(r["diff_min"]), _num(r["is_match"]))
    _console(t).print(t)
    if not rows:
        err.print("no ticket to compare: load a Zendesk export with include=metric_sets and run `opkpi run`",
                  markup=False)


def _console(table: Table, *, stderr: bool = False) -> Console:
    """A console at least as wide as the table: values never wrap, even when piped (80 columns)."""
    console = Console(highlight=False, stderr=stderr)
    needed = console.measure(table, options=console.options.update(max_width=100_000)).maximum
    return console if console.width >= needed else Console(highlight=False, stderr=stderr, width=needed)


def _print_summary(summary: list[dict[str, Any]], result, *, stderr: bool = False) -> None:
    t = Table(title="Summary", box=box.SIMPLE_HEAD)
    for col in ("metric", "compared", f"within {result.tolerance_min:g} min", "share", "only ours",
                f"only {result.source}", "merged/deleted", "mean |diff|, min", "max |diff|, min"):
        t.add_column(col, justify="left" if col == "metric" else "right", no_wrap=True)
    for s in summary:
        share = NULL_IN_TABLE if s["match_rate"] is None else f"{s['match_rate'] * 100:.1f}%"
        t.add_row(s["metric"], str(s["compared_n"]), str(s["matched_n"]), share, str(s["only_ours_n"]),
                  str(s["only_source_n"]), str(s["excluded_n"]), _num(s["mean_abs_diff_min"], 2),
                  _num(s["max_abs_diff_min"], 2))
    _console(t, stderr=stderr).print(t)
