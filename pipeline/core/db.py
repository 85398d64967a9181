"""DuckDB connections: every one runs in UTC and spills into the home, never the system temp."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(path: Path, *, read_only: bool = False, tmp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("SET TimeZone='UTC'")
    if tmp_dir is not None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory=?", [str(tmp_dir)])
    return con
