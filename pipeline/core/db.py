"""DuckDB connections: every one runs in UTC and spills into the home, never the system temp."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

# DuckDB's own default (80% of RAM) makes a cron build crowd out everything else on the box; a
# bounded buffer pool spills to the home's temp directory instead. OPKPI_MEMORY_LIMIT overrides.
DEFAULT_MEMORY_LIMIT = "50%"


def connect(path: Path, *, read_only: bool = False, tmp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("SET TimeZone='UTC'")
    con.execute("SET memory_limit=?", [os.environ.get("OPKPI_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT])
    if tmp_dir is not None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory=?", [str(tmp_dir)])
    return con
