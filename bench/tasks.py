"""One measured piece of work per process: `bench/run.py` starts each in a fresh interpreter.

    python bench/tasks.py ingest --data DIR --home HOME [--chunk-rows N]
    python bench/tasks.py a      --data DIR --out KPIS.parquet      (hand-written DuckDB, raw Parquet)
    python bench/tasks.py c      --data DIR --out KPIS.parquet      (pandas baseline)
    python bench/tasks.py a1     --home HOME --out KPIS.parquet     (opkpi: the KPI subset of the models)
    python bench/tasks.py b1     --home HOME --out KPIS.parquet     (opkpi: every model, run_pipeline)

The last stdout line is JSON: `seconds` is the wall time of the work itself (imports done before
the clock starts; exporting the KPI table for the cross-check happens after it stops), plus
details (per-file ingest times, per-model build times). Peak RSS is taken by the parent from
`os.wait4` for this process alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

# The columns every variant exports for the cross-check, per (operator_id, local_date).
KPI_COLUMNS = ("aht_phone_num_ms", "aht_phone_den", "fcr_num", "fcr_den", "csat_top2_num", "csat_top2_den")
SUBSET_TARGETS = ("operator_daily",)


def _emit(seconds: float, **details) -> None:
    print(json.dumps({"seconds": seconds, **details}, default=str))


# --- (ingest) ------------------------------------------------------------------------------------

def task_ingest(data: Path, home_root: Path, chunk_rows: int | None = None) -> None:
    from pipeline.core.config import Config
    from pipeline.core.home import Home
    from pipeline.ingest import ingest_paths

    # Import great-expectations (6–7 s) before the clock, as a long-running loader would have.
    from pipeline.ingest.validation import _context

    _context()
    home, config = Home.resolve(home_root), Config()
    files = ([data / f"{k}.parquet" for k in ("teams", "queues", "operators")]
             + sorted((data / "calls").glob("*.parquet")) + sorted((data / "csat_responses").glob("*.parquet")))
    per_file = []
    t0 = time.perf_counter()
    for f in files:
        t = time.perf_counter()
        (r,) = ingest_paths(home, config, [f], chunk_rows=chunk_rows)
        if r.status not in ("loaded", "partial"):
            raise SystemExit(f"ingest of {f} ended {r.status}: {r.message}")
        per_file.append({"file": f.relative_to(data).as_posix(), "kind": r.kind, "rows": r.read,
                         "inserted": r.inserted, "quarantined": r.quarantined, "seconds": time.perf_counter() - t})
    _emit(time.perf_counter() - t0, files=per_file)


# --- (a) and (c) ---------------------------------------------------------------------------------

def task_a(data: Path, out: Path) -> None:
    import duckdb
    import kpi_duckdb
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    table = kpi_duckdb.run(data, duckdb.connect())
    seconds = time.perf_counter() - t0
    pq.write_table(table, out)
    _emit(seconds, rows=table.num_rows)


def task_c(data: Path, out: Path) -> None:
    import baseline_pandas
    import pandas as pd  # noqa: F401  (imported before the clock, like duckdb for (a))

    t0 = time.perf_counter()
    frame = baseline_pandas.run(data)
    seconds = time.perf_counter() - t0
    frame.to_parquet(out, index=False)
    _emit(seconds, rows=len(frame))


# --- (a') and (b') -------------------------------------------------------------------------------

def subset(models, targets=SUBSET_TARGETS):
    """The target models and everything they read, in build order."""
    from pipeline.transforms.runner import model_dependencies

    deps = model_dependencies(models)
    need: set[str] = set()
    stack = list(targets)
    while stack:
        name = stack.pop()
        if name not in need:
            need.add(name)
            stack.extend(deps[name])
    return [m for m in models if m.name in need]


def _export(con, out: Path) -> int:
    cols = ", ".join(KPI_COLUMNS)
    con.execute(f"""COPY (SELECT operator_id, local_date, contacts_handled AS segments_n, {cols}
        FROM operator_daily WHERE contacts_handled > 0 ORDER BY ALL) TO '{out}' (FORMAT parquet)""")
    return con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0]


def task_a1(home_root: Path, out: Path) -> None:
    from pipeline.core.config import Config
    from pipeline.core.db import connect
    from pipeline.core.home import Home
    from pipeline.ingest import writer
    from pipeline.transforms.runner import build, discover_models

    home, config = Home.resolve(home_root), Config()
    models = subset(discover_models())
    t0 = time.perf_counter()
    # As run_pipeline opens it: under the warehouse lock, schema ensured.
    with writer(home, what="a benchmark build") as con:
        report = build(con, models, config=config, home=home, full_refresh=True)
    seconds = time.perf_counter() - t0
    con = connect(home.warehouse_db, read_only=True)
    rows = _export(con, out)
    con.close()
    _emit(seconds, rows=rows, models=[m.name for m in models], model_seconds=report.seconds)


def task_b1(home_root: Path, out: Path) -> None:
    from pipeline.core.config import Config
    from pipeline.core.db import connect
    from pipeline.core.home import Home
    from pipeline.jobs import run as run_module
    from pipeline.transforms.runner import build

    home, config = Home.resolve(home_root), Config()
    # Keep the per-model seconds of the build run_pipeline does (a measuring wrapper, same call).
    reports = []

    def build_models(con, models=None, **kw):
        reports.append(build(con, models, **kw))
        return reports[-1].built

    run_module.build_models = build_models
    t0 = time.perf_counter()
    stamps = {}
    publish = run_module.publish

    def timed_publish(*args, **kw):
        stamps["publish_start"] = time.perf_counter()
        return publish(*args, **kw)

    run_module.publish = timed_publish
    result = run_module.run_pipeline(home, config, min_age_s=0, full_refresh=True)
    seconds = time.perf_counter() - t0
    con = connect(home.warehouse_db, read_only=True)
    rows = _export(con, out)
    con.close()
    report = reports[0]
    _emit(seconds, rows=rows, models=result.models, model_seconds=report.seconds,
          build_seconds=sum(report.seconds.values()),
          publish_seconds=seconds - (stamps.get("publish_start", t0 + seconds) - t0))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    p = argparse.ArgumentParser()
    p.add_argument("task", choices=("ingest", "a", "c", "a1", "b1"))
    p.add_argument("--data", type=Path)
    p.add_argument("--home", type=Path)
    p.add_argument("--out", type=Path)
    p.add_argument("--chunk-rows", type=int, help="ingest commit chunk (default: ingest.chunk_rows, 250,000)")
    args = p.parse_args(argv)
    if args.task == "ingest":
        task_ingest(args.data, args.home, args.chunk_rows)
    elif args.task == "a":
        task_a(args.data, args.out)
    elif args.task == "c":
        task_c(args.data, args.out)
    elif args.task == "a1":
        task_a1(args.home, args.out)
    else:
        task_b1(args.home, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
