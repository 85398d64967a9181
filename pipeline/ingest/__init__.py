"""Ingest: parse, validate, pseudonymise and quarantine source files into the warehouse.

Public entry points: `ingest_paths` (files or directories) and `writer` (an open, locked
warehouse connection for callers that do several writes in one run).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb

from pipeline.core.config import Config
from pipeline.core.db import connect
from pipeline.core.home import Home, warehouse_lock
from pipeline.ingest.contract import KINDS, KindSpec
from pipeline.ingest.loader import FileResult, _Context, expand_paths, ingest_entries, ingest_files
from pipeline.ingest.problems import Problem
from pipeline.ingest.schema import data_tables, ensure_schema

__all__ = ["KINDS", "FileResult", "KindSpec", "Problem", "data_tables", "expand_paths", "ingest_archived", "ingest_paths",
           "writer", "open_writer_context"]


@contextlib.contextmanager
def writer(home: Home, *, what: str = "a warehouse write") -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse opened read-write under `warehouse/.lock`, schema ensured."""
    home.ensure()
    with warehouse_lock(home, what=what):
        con = connect(home.warehouse_db, tmp_dir=home.tmp_dir)
        try:
            ensure_schema(con)
            yield con
        finally:
            con.close()


def open_writer_context(home: Home, config: Config, con: duckdb.DuckDBPyConnection) -> _Context:
    from pipeline.ingest.archive import Archive
    from pipeline.ingest.pii import Pseudonymiser

    pseudo = Pseudonymiser.for_home(home, default_region=config.pii.default_region,
                                    anonymous_values=config.fcr.anonymous_values)
    return _Context(home=home, config=config, con=con, pseudo=pseudo, archive=Archive(home))


def ingest_paths(home: Home, config: Config, paths: Sequence[Path], *, kind: str | None = None,
                 force: bool = False, strict: bool | None = None, chunk_rows: int | None = None,
                 con: duckdb.DuckDBPyConnection | None = None, dialect: str = "canonical",
                 options: dict | None = None) -> list[FileResult]:
    """Load files (directories expand to their data files). Never raises for a bad input file:
    a rejected file is a result with status `rejected`. A source `dialect` may yield several
    results per file (one per canonical kind)."""
    strict_ = config.ingest.strict if strict is None else strict
    rows = chunk_rows or config.ingest.chunk_rows
    paths = [Path(p) for p in paths]
    if con is not None:
        ctx = open_writer_context(home, config, con)
        return ingest_files(ctx, paths, kind=kind, force=force, strict=strict_, chunk_rows=rows,
                            dialect=dialect, options=options)
    with writer(home, what="an ingest") as own:
        ctx = open_writer_context(home, config, own)
        return ingest_files(ctx, paths, kind=kind, force=force, strict=strict_, chunk_rows=rows,
                            dialect=dialect, options=options)


def ingest_archived(home: Home, config: Config, con: duckdb.DuckDBPyConnection,
                    entries: Sequence) -> list[FileResult]:
    ctx = open_writer_context(home, config, con)
    return ingest_entries(ctx, entries, chunk_rows=config.ingest.chunk_rows)
