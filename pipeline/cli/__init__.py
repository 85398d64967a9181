"""The `opkpi` command. Errors go to stderr as `Attempted <what> at <where>, but <why>. <hint>.`;
stdout stays clean for pipes. Exit codes: 0 ok, 1 unexpected, 2 usage/config, 3 rejected or
refused, 4 stale input, 75 another run holds the lock. Precedence: flag > env > opkpi.toml > defaults.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

import click
import typer

try:  # typer >= 0.20 bundles its own click; catch both so usage errors always exit 2
    from typer._click import exceptions as _tclick
except ImportError:  # pragma: no cover - older typer uses click itself
    _tclick = click.exceptions
from rich.console import Console
from rich.table import Table

from pipeline.core.config import Config, load_config
from pipeline.core.errors import EXIT_REJECTED, EXIT_UNEXPECTED, EXIT_USAGE, OpkpiError, UsageError
from pipeline.core.home import Home

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="opkpi: QA and KPI analytics for contact-center and support teams.")
quarantine_app = typer.Typer(no_args_is_help=True, help="Inspect, replay or discard quarantined rows.")
app.add_typer(quarantine_app, name="quarantine")

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
log = logging.getLogger("opkpi")
log.addHandler(logging.NullHandler())  # no file handler yet: never fall back to printing on stderr
log.propagate = False


@dataclass
class Globals:
    home: Home
    config: Config


def _globals(ctx: typer.Context) -> Globals:
    return ctx.find_root().obj


def _setup_logging(home: Home) -> None:
    from pipeline.core.logs import configure_file_logging

    configure_file_logging(home.logs_dir / "opkpi.log")


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option("--home", "--warehouse", envvar="OPKPI_HOME",
                    help="Home directory holding warehouse/, state/, archive/ (default: current directory).",
                    show_envvar=True)] = None,
    config: Annotated[Path | None, typer.Option("--config", envvar="OPKPI_CONFIG", show_envvar=True,
                      help="opkpi.toml (default: <home>/opkpi.toml when present).")] = None,
) -> None:
    h = Home.resolve(home)
    cfg = load_config(config, home_root=h.root)
    ctx.obj = Globals(h, cfg)
    if ctx.invoked_subcommand != "sample-data":
        _setup_logging(h)


# --- sample data -----------------------------------------------------------------------------

@app.command("sample-data")
def sample_data(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the canonical CSV files to.")],
    operators: Annotated[int, typer.Option(help="Number of operators.")] = 40,
    days: Annotated[int, typer.Option(help="Number of days from --start.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same bytes.")] = 42,
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")] = "2026-10-12",
) -> None:
    """Generate a deterministic, realistic sample in the canonical contract."""
    from pipeline.sample_data import generate

    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise UsageError(f"Attempted to parse --start {start!r}, but it is not a YYYY-MM-DD date",
                         "Pass e.g. --start 2026-10-12") from None
    summary = generate(out_dir, operators=operators, days=days, seed=seed, start=first)
    files = summary.get("files", summary) if isinstance(summary, dict) else {}
    total = sum(v for v in files.values() if isinstance(v, int)) if isinstance(files, dict) else 0
    err.print(f"sample data written to {out_dir} ({total} rows in {len(files)} files)")


# --- ingest ----------------------------------------------------------------------------------

@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to load.")],
    kind: Annotated[str | None, typer.Option(help="Canonical kind; inferred from the header when omitted.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Source dialect.")] = "canonical",
    mapping: Annotated[Path | None, typer.Option(help="A column mapping (TOML) for other exports.")] = None,
    force: Annotated[bool, typer.Option(help="Re-parse files already loaded (rows count as duplicates).")] = False,
    strict: Annotated[bool | None, typer.Option("--strict/--no-strict",
                      help="Reject files with columns outside the contract.")] = None,
    chunk_rows: Annotated[int | None, typer.Option(help="Rows per committed chunk.", min=1)] = None,
) -> None:
    """Load files into the warehouse; bad rows go to quarantine with file:line:column and a rule id."""
    from pipeline.ingest import ingest_paths

    g = _globals(ctx)
    if mapping is not None and fmt != "canonical":
        raise UsageError("Attempted to ingest with both --format and --mapping, but they are exclusive",
                         "Pass one of them")
    from pipeline.ingest.dialects import available

    dialect, options = fmt, None
    if mapping is not None:
        if not mapping.exists():
            raise UsageError(f"Attempted to read the mapping {mapping}, but it does not exist", "Check the path")
        dialect, options = "mapping", {"mapping": mapping.read_text(encoding="utf-8"), "mapping_name": mapping.name}
    if dialect not in available():
        raise UsageError(f"Attempted to ingest with --format {dialect}, but that dialect is not available",
                         "Use one of: " + ", ".join(available()))
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"Attempted to ingest {missing[0]}, but it does not exist", "Check the path")
    results = ingest_paths(g.home, g.config, paths, kind=kind, force=force, strict=strict, chunk_rows=chunk_rows,
                           dialect=dialect, options=options)
    for r in results:
        err.print(r.summary_line(), markup=False)
    if any(r.status == "rejected" for r in results):
        raise typer.Exit(EXIT_REJECTED)


# --- run / status ----------------------------------------------------------------------------

@app.command()
def run(
    ctx: typer.Context,
    min_age: Annotated[int | None, typer.Option("--min-age", envvar="OPKPI_MIN_AGE", show_envvar=True,
                       help="Skip inbox files younger than this many seconds (default inbox.min_age_s = 120).")] = None,
    full_refresh: Annotated[bool, typer.Option(help="Rebuild every model from scratch.")] = False,
) -> None:
    """Ingest what is new in the inbox, build the models and publish a snapshot."""
    from pipeline.jobs.run import run_pipeline

    g = _globals(ctx)
    result = run_pipeline(g.home, g.config, min_age_s=min_age, full_refresh=full_refresh)
    for r in result.rebuilt:
        err.print("rebuilt " + r.summary_line(), markup=False)
    for r in result.ingested:
        err.print(r.summary_line(), markup=False)
    if result.skipped_young:
        err.print(f"{len(result.skipped_young)} inbox file(s) younger than the minimum age were left for next time")
    err.print(f"published snapshot {result.run_id} ({len(result.models)} models)")
    if any(r.status == "rejected" for r in result.ingested):
        raise typer.Exit(EXIT_REJECTED)


@app.command()
def status(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """What the published snapshot holds: loads, quarantine, unresolved agents, per-operator activity."""
    from pipeline.jobs.status import read_status

    st = read_status(_globals(ctx).home)
    if fmt == "json":
        out.print_json(json.dumps(st.__dict__, default=str))
        return
    if st.run_id is None:
        out.print("Nothing published yet: run `opkpi run`.")
        return
    out.print(f"Snapshot {st.run_id}, built {st.built_at} UTC")
    out.print("Files: " + ", ".join(f"{k} {v}" for k, v in st.files.items()))
    out.print("Rows: " + ", ".join(f"{k} {v}" for k, v in st.rows.items()))
    table = Table(title="Handled per operator (all loaded data)")
    for col in ("operator", "name", "team", "tier", "phone", "chat", "e-mail replies", "social"):
        table.add_column(col, justify="right" if col in ("phone", "chat", "e-mail replies", "social") else "left")
    for o in st.operators:
        table.add_row(o["operator_id"], o["display_name"], o["team_id"], o["tier"], str(o["phone_legs_n"]),
                      str(o["chat_legs_n"]), str(o["email_replies_n"]), str(o["social_legs_n"]))
    out.print(table)
    if st.quarantine_open:
        q = Table(title="Open quarantine (opkpi quarantine list)")
        for col in ("file", "kind", "rule", "rows", "first at"):
            q.add_column(col)
        for r in st.quarantine_open:
            q.add_row(r["file"], r["kind"], r["rule_id"], str(r["rows_n"]), r["first_location"])
        out.print(q)
    if st.unresolved_agents:
        out.print("Unresolved agents (add operators or operator_identities): " + ", ".join(
            f"{a['unresolved_agent']} ({a['legs_n']})" for a in st.unresolved_agents))


# --- quarantine ------------------------------------------------------------------------------

@quarantine_app.command("list")
def quarantine_list(
    ctx: typer.Context,
    rule: Annotated[str | None, typer.Option(help="Only this rule id.")] = None,
    file: Annotated[str | None, typer.Option(help="Only this file name or sha256.")] = None,
    state: Annotated[str, typer.Option("--status", help="open, discarded or replayed.")] = "open",
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """List quarantined rows (masked) with their location and rule."""
    from pipeline.ingest import writer
    from pipeline.ingest.quarantine import Selection, list_rows

    g = _globals(ctx)
    with writer(g.home, what="a quarantine listing") as con:
        rows = list_rows(con, Selection(rule=rule, file=file, status=state))
    _emit(rows, fmt, title="Quarantine")


@quarantine_app.command("replay")
def quarantine_replay(
    ctx: typer.Context,
    rule: Annotated[str | None, typer.Option(help="Only this rule id.")] = None,
    file: Annotated[str | None, typer.Option(help="Only this file name or sha256.")] = None,
) -> None:
    """Re-read quarantined rows from the archive with the current configuration."""
    from pipeline.ingest import open_writer_context, writer
    from pipeline.ingest.quarantine import Selection, replay

    g = _globals(ctx)
    with writer(g.home, what="a quarantine replay") as con:
        results = replay(open_writer_context(g.home, g.config, con), Selection(rule=rule, file=file),
                         actor=_actor())
    for r in results:
        err.print("replayed " + r.summary_line(), markup=False)
    if not results:
        err.print("nothing to replay")


@quarantine_app.command("discard")
def quarantine_discard(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why these rows are dropped (audited).")],
    rule: Annotated[str | None, typer.Option(help="Only this rule id.")] = None,
    file: Annotated[str | None, typer.Option(help="Only this file name or sha256.")] = None,
) -> None:
    """Mark quarantined rows as discarded, with a reason kept in the audit log."""
    from pipeline.ingest import writer
    from pipeline.ingest.quarantine import Selection, discard

    g = _globals(ctx)
    with writer(g.home, what="a quarantine discard") as con:
        n = discard(g.home, con, Selection(rule=rule, file=file), reason=reason, actor=_actor())
    err.print(f"discarded {n} row(s)")


# --- backup ----------------------------------------------------------------------------------

@app.command()
def backup(
    ctx: typer.Context,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Directory for the backup (default <home>/backups).")] = None,
) -> None:
    """Back up the state store and its keys (the warehouse is rebuilt from the archive instead)."""
    from pipeline.state import backup as do_backup

    g = _globals(ctx)
    path = do_backup(g.home, out_dir)
    out.print(str(path))


# --- helpers -----------------------------------------------------------------------------------

def _actor() -> str:
    return os.environ.get("OPKPI_ACTOR") or os.environ.get("USER") or "cli"


def _emit(rows: list[dict], fmt: str, *, title: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, default=str, ensure_ascii=False, indent=1) + "\n")
    elif fmt == "csv":
        import csv

        w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else [])
        w.writeheader()
        w.writerows(rows)
    elif fmt == "table":
        t = Table(title=title)
        cols = list(rows[0]) if rows else []
        for c in cols:
            t.add_column(c)
        for r in rows:
            t.add_row(*["" if r[c] is None else str(r[c]) for c in cols])
        out.print(t)
    else:
        raise UsageError(f"Attempted to print as {fmt!r}, but that format is unknown", "Use table, csv or json")


def app_help() -> str:
    import typer.main as tm

    cmd = tm.get_command(app)
    with cmd.make_context("opkpi", [], resilient_parsing=True) as ctx:
        return cmd.get_help(ctx)


def main() -> None:
    """Entry point: no traceback ever reaches the terminal; it goes to the log instead."""
    try:
        rc = app(standalone_mode=False)  # click returns an Exit's code instead of raising it here
        sys.exit(rc if isinstance(rc, int) else 0)
    except OpkpiError as exc:
        log.error("%s", exc)
        err.print(str(exc), markup=False)
        sys.exit(exc.exit_code)
    except (click.exceptions.Exit, typer.Exit) as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, typer.Abort):
        err.print("Aborted.")
        sys.exit(EXIT_USAGE)
    except (click.ClickException, _tclick.ClickException) as exc:
        message = exc.format_message().strip().rstrip(".")
        if not message:  # no arguments at all: show the help, as a usage error
            out.print(app_help())
        else:
            err.print(f"Attempted to parse the command line, but {message[:1].lower() + message[1:]}. "
                      "See `opkpi --help`.", markup=False)
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # the last line of defence: log it, say where, never dump a traceback
        from pipeline.core.masking import mask_text

        log.exception("unexpected error")
        err.print(f"Attempted to run opkpi, but an unexpected {type(exc).__name__} occurred: "
                  f"{mask_text(str(exc))[:300]}. Details are in logs/opkpi.log under the home.", markup=False)
        sys.exit(EXIT_UNEXPECTED)


def _register_subcommands() -> None:
    """Command groups that live in their own modules of this package."""
    import importlib

    for name in ("report", "reconcile"):  # reconcile attaches to the report group
        try:
            module = importlib.import_module(f"pipeline.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"pipeline.cli.{name}":
                raise
            continue
        module.register(app)


_register_subcommands()
