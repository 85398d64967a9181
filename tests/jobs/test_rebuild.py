"""DESIGN §1: deleting warehouse/ and running again rebuilds it from the archive, re-applying the
quarantine decisions of the state store; the marts are equal and the state store is untouched."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3

import duckdb

from pipeline.ingest import data_tables, ingest_paths, writer
from pipeline.ingest.quarantine import Selection, discard
from pipeline.jobs.run import run_pipeline
from pipeline.transforms import discover_models
from pipeline.warehouse import current_snapshot
from tests.conftest import OPERATORS_CSV, calls_csv

BAD_ROW = ("c-bad,1,inbound,q1,op-1,+7 912 111-22-33,2026-10-14T09:00:00+03:00,2026-10-14T09:00:10+03:00,"
           "2026-10-14T09:05:00+03:00,answered,resolved,-5\n")


def snapshot_tables(path) -> dict[str, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for m in discover_models():
            if m.layer != "marts":
                continue
            cols = [r[0] for r in con.execute(f'DESCRIBE "{m.name}"').fetchall()
                    if r[0] not in ("run_id", "built_at", "load_id", "attempt_at", "finished_at", "path",
                                    "quarantined_at")]
            sel = ", ".join(f'"{c}"' for c in cols)
            out[m.name] = con.execute(f'SELECT {sel} FROM "{m.name}" ORDER BY ALL').fetchall()
        return out
    finally:
        con.close()


def raw_tables(home) -> dict[str, list]:
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    try:
        out = {}
        for t in data_tables() + ["quarantine"]:
            cols = [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()
                    if r[0] not in ("_load_id", "_loaded_at", "load_id", "quarantined_at", "_superseded_at",
                                    "_superseded_by")]
            sel = ", ".join(f'"{c}"' for c in cols)
            out[t] = con.execute(f"SELECT {sel} FROM {t} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def state_dump(home) -> tuple[str, list]:
    digest = hashlib.sha256(home.state_db.read_bytes()).hexdigest()
    con = sqlite3.connect(home.state_db)
    rows = [r for t in ("audit_log", "quarantine_decisions") for r in con.execute(f"SELECT * FROM {t} ORDER BY 1")]
    con.close()
    return digest, rows


def test_delete_warehouse_and_run_rebuilds_from_archive(tmp_path, home, config):
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "operators.csv").write_text(OPERATORS_CSV, encoding="utf-8")
    (inbox / "calls.csv").write_text(calls_csv(6) + BAD_ROW, encoding="utf-8")
    # A later export of the same file name with new content: the rebuild must replay both, in order.
    ingest_paths(home, config, sorted(inbox.glob("*.csv")))
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "calls.csv").write_text(calls_csv(7, talk=130), encoding="utf-8")
    ingest_paths(home, config, [tmp_path / "v2" / "calls.csv"])
    with writer(home) as con:
        assert discard(home, con, Selection(rule="negative_duration"), reason="test call", actor="qa") == 1
    run_pipeline(home, config, min_age_s=0)
    marts_before, raw_before = snapshot_tables(current_snapshot(home)), raw_tables(home)
    state_before = state_dump(home)
    assert raw_before["raw_calls_history"], "the second version superseded rows"

    shutil.rmtree(home.warehouse_dir)
    result = run_pipeline(home, config, min_age_s=0)

    assert [r.status for r in result.rebuilt] == ["loaded", "partial", "loaded"]
    assert snapshot_tables(current_snapshot(home)) == marts_before
    assert raw_tables(home) == raw_before
    assert state_dump(home) == state_before
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    assert con.execute("SELECT status, decided_reason FROM quarantine").fetchall() == [("discarded", "test call")]
    con.close()
