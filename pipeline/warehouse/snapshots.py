"""Published snapshots: write a new DuckDB file, close it, then `os.replace` CURRENT."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipeline.core.db import connect
from pipeline.core.errors import OpkpiError
from pipeline.core.home import Home

_CACHE_S = 3.0
_cache: dict[Path, tuple[float, Path | None]] = {}


class SnapshotMissing(OpkpiError):
    exit_code = 3


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def publish(con: duckdb.DuckDBPyConnection, home: Home, tables: Sequence[str], *, run_id: str,
            keep: int = 3) -> Path:
    """Copy `tables` into `published/<run_id>.duckdb` with a run_id column, then switch CURRENT."""
    home.published_dir.mkdir(parents=True, exist_ok=True)
    target = home.published_dir / f"{run_id}.duckdb"
    partial = target.with_suffix(".duckdb.part")
    for p in (partial, Path(str(partial) + ".wal")):
        p.unlink(missing_ok=True)
    con.execute("ATTACH ? AS snap", [str(partial)])
    try:
        for t in tables:
            con.execute(f'CREATE TABLE snap."{t}" AS SELECT *, CAST(? AS VARCHAR) AS run_id FROM "{t}"', [run_id])
        con.execute("""CREATE TABLE snap.snapshot_info AS
            SELECT CAST(? AS VARCHAR) AS run_id, now() AS built_at""", [run_id])
        con.execute("CHECKPOINT snap")
    finally:
        con.execute("DETACH snap")
    os.replace(partial, target)
    tmp = home.current_file.with_suffix(".tmp")
    tmp.write_text(run_id + "\n", encoding="utf-8")
    os.replace(tmp, home.current_file)
    _cache.pop(home.root, None)
    _prune(home, keep=keep, current=run_id)
    return target


def _prune(home: Home, *, keep: int, current: str) -> None:
    snaps = sorted(home.published_dir.glob("*.duckdb"), key=lambda p: p.stem)
    for old in snaps[:-keep]:
        if old.stem != current:
            old.unlink(missing_ok=True)


def current_run_id(home: Home) -> str | None:
    try:
        return home.current_file.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def current_snapshot(home: Home) -> Path | None:
    """Path of the snapshot CURRENT names, cached a few seconds (a path, never a connection)."""
    now = time.monotonic()
    hit = _cache.get(home.root)
    if hit and now - hit[0] < _CACHE_S and (hit[1] is None or hit[1].exists()):
        return hit[1]
    run_id = current_run_id(home)
    path = home.published_dir / f"{run_id}.duckdb" if run_id else None
    if path is not None and not path.exists():
        path = None
    _cache[home.root] = (now, path)
    return path


def open_snapshot(home: Home) -> duckdb.DuckDBPyConnection:
    path = current_snapshot(home)
    if path is None:
        raise SnapshotMissing(f"Attempted to read the published snapshot under {home.published_dir}, "
                              "but nothing has been published yet",
                              "Run `opkpi run` (or `make run`) first")
    return connect(path, read_only=True)
