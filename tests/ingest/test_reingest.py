"""DESIGN §5 re-ingest semantics on a real DuckDB file: identical file, renamed copy, new content."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.ingest import data_tables, ingest_paths
from tests.conftest import OPERATORS_CSV, calls_csv


def checksums(home) -> dict[str, tuple]:
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    try:
        out = {}
        for t in data_tables():
            cols = [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall() if r[0] not in ("_loaded_at", "_load_id")]
            expr = ", ".join(f'coalesce(CAST("{c}" AS VARCHAR), chr(0))' for c in cols)
            out[t] = con.execute(f"SELECT count(*), coalesce(sum(hash(concat_ws(chr(31), {expr}))), 0) FROM {t}"
                                 ).fetchone()
        return out
    finally:
        con.close()


def manifest(home) -> list[tuple]:
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    try:
        return con.execute("SELECT file, status, rows_read, inserted, updated, duplicate FROM load_manifest "
                           "ORDER BY attempt_at").fetchall()
    finally:
        con.close()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_same_file_again_changes_nothing_and_adds_one_unchanged_row(tmp_path, home, config):
    ops = write(tmp_path / "in" / "operators.csv", OPERATORS_CSV)
    calls = write(tmp_path / "in" / "calls.csv", calls_csv(5))
    ingest_paths(home, config, [ops, calls])
    before, rows_before = checksums(home), manifest(home)
    [r] = ingest_paths(home, config, [calls])
    assert r.status == "unchanged"
    assert checksums(home) == before
    rows = manifest(home)
    assert rows[: len(rows_before)] == rows_before
    assert rows[len(rows_before):] == [("calls.csv", "unchanged", 0, 0, 0, 0)]


def test_same_content_under_a_new_name_is_a_noop(tmp_path, home, config):
    calls = write(tmp_path / "in" / "calls.csv", calls_csv(5))
    ingest_paths(home, config, [write(tmp_path / "in" / "operators.csv", OPERATORS_CSV), calls])
    before = checksums(home)
    copy = write(tmp_path / "other" / "calls_copy.csv", calls.read_text(encoding="utf-8"))
    [r] = ingest_paths(home, config, [copy])
    assert r.status == "unchanged" and "calls.csv" in r.message
    assert checksums(home) == before


def test_same_name_new_content_upserts_and_keeps_history(tmp_path, home, config):
    ingest_paths(home, config, [write(tmp_path / "a" / "operators.csv", OPERATORS_CSV)])
    ingest_paths(home, config, [write(tmp_path / "a" / "calls.csv", calls_csv(4, talk=100))])
    # Second export of the same file: c0..c3 with a corrected talk time, plus a new call c4.
    [r] = ingest_paths(home, config, [write(tmp_path / "b" / "calls.csv", calls_csv(5, talk=120))])
    assert (r.status, r.read, r.inserted, r.updated, r.duplicate) == ("loaded", 5, 1, 4, 0)
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    assert con.execute("SELECT count(*), min(talk_s), max(talk_s) FROM raw_calls").fetchone() == (5, 120.0, 120.0)
    assert con.execute("SELECT count(*), min(talk_s), max(talk_s) FROM raw_calls_history").fetchone() == (4, 100.0, 100.0)
    con.close()


def test_force_reparses_and_counts_duplicates(tmp_path, home, config):
    ingest_paths(home, config, [write(tmp_path / "operators.csv", OPERATORS_CSV)])
    calls = write(tmp_path / "calls.csv", calls_csv(3))
    ingest_paths(home, config, [calls])
    before = checksums(home)
    [r] = ingest_paths(home, config, [calls], force=True)
    assert (r.status, r.read, r.inserted, r.duplicate) == ("loaded", 3, 0, 3)
    assert checksums(home) == before


def test_upsert_keeps_the_greater_updated_at(tmp_path, home, config):
    head = "ticket_id,channel,direction,created_at,updated_at,status\n"
    newer = head + "t1,email,inbound,2026-10-14T09:00:00Z,2026-10-15T09:00:00Z,solved\n"
    older = head + "t1,email,inbound,2026-10-14T09:00:00Z,2026-10-14T10:00:00Z,open\n"
    ingest_paths(home, config, [write(tmp_path / "x" / "tickets.csv", newer)])
    [r] = ingest_paths(home, config, [write(tmp_path / "y" / "tickets.csv", older)])
    assert r.updated == 1
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    assert con.execute("SELECT status FROM raw_tickets").fetchall() == [("solved",)]
    assert con.execute("SELECT status FROM raw_tickets_history").fetchall() == [("open",)]
    con.close()
