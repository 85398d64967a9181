"""Rebuild the warehouse from the encrypted archive (DESIGN §1): every archived file is loaded
again in its original order, then the quarantine decisions kept in the state store are
re-applied. The state store is only read."""

from __future__ import annotations

import duckdb

from pipeline.core.config import Config
from pipeline.core.home import Home
from pipeline.ingest import FileResult, ingest_archived
from pipeline.ingest.archive import Archive
from pipeline.ingest.quarantine import apply_decisions


def needs_rebuild(home: Home) -> bool:
    """The warehouse file is gone but the archive holds files: rebuild before anything else."""
    return not home.warehouse_db.exists() and any(home.archive_dir.rglob("*.enc"))


def rebuild_from_archive(home: Home, config: Config, con: duckdb.DuckDBPyConnection) -> list[FileResult]:
    entries = Archive(home).entries()
    results = ingest_archived(home, config, con, entries)
    apply_decisions(home, con)
    return results
