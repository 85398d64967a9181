"""Fixtures for the KPI engine tests: the generated sample loaded once per worker, copied per test,
and small helpers to write canonical CSV files, load them and build."""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from pipeline.core.config import Config, TransformsConfig  # noqa: E402
from pipeline.core.db import connect  # noqa: E402
from pipeline.core.home import Home  # noqa: E402
from pipeline.ingest import ingest_paths, writer  # noqa: E402
from pipeline.transforms import BuildReport, build  # noqa: E402

SAMPLE_ARGS = {"operators": 12, "days": 10, "seed": 7}


def write_csv(path: Path, header: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    header = list(header)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in header})
    return path


def load(home: Home, config: Config, *paths: Path) -> None:
    results = ingest_paths(home, config, list(paths))
    bad = [r for r in results if getattr(r, "status", "") == "rejected"]
    assert not bad, bad


def inspectable(config: Config) -> Config:
    """The configuration with intermediate and fact tables kept in the warehouse, for tests that
    read them back after a build (a build keeps only the incremental marts by default)."""
    return config.model_copy(update={"transforms": TransformsConfig(keep_intermediate=True)})


def rebuild(home: Home, config: Config, *, full_refresh: bool = False) -> BuildReport:
    with writer(home, what="a test build") as con:
        return build(con, config=inspectable(config), home=home, full_refresh=full_refresh)


def query(home: Home, sql: str, params: list | None = None) -> list[tuple]:
    con = connect(home.warehouse_db, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def table(home: Home, name: str, *, drop: tuple[str, ...] = ()) -> list[tuple]:
    """A table's rows, sorted, without the given columns (for equality of two builds)."""
    con = connect(home.warehouse_db, read_only=True)
    try:
        cols = [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall() if r[0] not in drop]
        sel = ", ".join(f'"{c}"' for c in cols)
        return con.execute(f'SELECT {sel} FROM "{name}" ORDER BY ALL').fetchall()
    finally:
        con.close()


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sample files, a home with the sample loaded and built once) — copy before changing it."""
    from pipeline.sample_data import generate

    root = tmp_path_factory.mktemp("sample")
    files = root / "files"
    generate(files, **SAMPLE_ARGS)
    home = Home(root / "home")
    config = Config()
    load(home, config, files)
    rebuild(home, config)
    return files, home.root


@pytest.fixture
def sample_home(sample_template: tuple[Path, Path], tmp_path: Path) -> Home:
    """A private copy of the loaded and built sample home."""
    _, src = sample_template
    dst = tmp_path / "home"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lock", "*.tmp"))
    return Home(dst)


def raw(home: Home, name: str) -> list[dict[str, Any]]:
    con: duckdb.DuckDBPyConnection = connect(home.warehouse_db, read_only=True)
    try:
        cur = con.execute(f'SELECT * FROM "{name}"')
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
