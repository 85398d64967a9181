"""`opkpi run`: rebuild when the warehouse is gone, ingest what is new in the inbox, build the
models, publish a snapshot. Safe from cron: one writer (lock, exit 75), idempotent."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.config import Config
from pipeline.core.home import Home
from pipeline.ingest import FileResult, expand_paths, ingest_paths, writer
from pipeline.ingest.loader import is_data_file
from pipeline.state import open_state
from pipeline.transforms import build_models, discover_models
from pipeline.warehouse import needs_rebuild, new_run_id, publish, rebuild_from_archive

log = logging.getLogger("opkpi.run")


@dataclass
class RunResult:
    run_id: str
    rebuilt: list[FileResult] = field(default_factory=list)
    ingested: list[FileResult] = field(default_factory=list)
    skipped_young: list[Path] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    snapshot: Path | None = None


def inbox_dir(home: Home, config: Config) -> Path:
    d = Path(config.inbox.dir)
    return d if d.is_absolute() else home.root / d


def inbox_files(home: Home, config: Config, *, min_age_s: int) -> tuple[list[Path], list[Path]]:
    """Ready files and files still too young (a writer may be busy with them)."""
    d = inbox_dir(home, config)
    if not d.exists():
        return [], []
    now = time.time()
    ready, young = [], []
    for f in expand_paths([d]):
        if not is_data_file(f):
            continue
        (young if now - f.stat().st_mtime < min_age_s else ready).append(f)
    return ready, young


def run_pipeline(home: Home, config: Config, *, min_age_s: int | None = None,
                 full_refresh: bool = False) -> RunResult:
    result = RunResult(run_id=new_run_id())
    rebuild = needs_rebuild(home)
    with writer(home, what="a pipeline run") as con:
        open_state(home).close()  # the system of record exists from the first run on
        _record_run(con, result.run_id, "running")
        if rebuild:
            log.info("warehouse missing: rebuilding from the archive")
            result.rebuilt = rebuild_from_archive(home, config, con)
        age = config.inbox.min_age_s if min_age_s is None else min_age_s
        ready, result.skipped_young = inbox_files(home, config, min_age_s=age)
        if ready:
            result.ingested = ingest_paths(home, config, ready, con=con)
        models = discover_models()
        result.models = build_models(con, models, config=config, home=home, full_refresh=full_refresh)
        marts = [m.name for m in models if m.layer == "marts"]
        result.snapshot = publish(con, home, marts, run_id=result.run_id, keep=config.snapshots.keep)
        _record_run(con, result.run_id, "published", message=f"{len(result.ingested)} file(s) ingested")
    log.info("run %s published %s", result.run_id, result.snapshot)
    return result


def _record_run(con, run_id: str, status: str, *, message: str = "") -> None:
    """Runs are derived bookkeeping: they live in the warehouse, so a rebuild leaves the state store as it was."""
    con.execute("""CREATE TABLE IF NOT EXISTS pipeline_runs (run_id VARCHAR, started_at TIMESTAMPTZ,
        finished_at TIMESTAMPTZ, status VARCHAR, message VARCHAR)""")
    if status == "running":
        con.execute("INSERT INTO pipeline_runs VALUES (?, now(), NULL, ?, ?)", [run_id, status, message])
    else:
        con.execute("UPDATE pipeline_runs SET finished_at = now(), status = ?, message = ? WHERE run_id = ?",
                    [status, message, run_id])
