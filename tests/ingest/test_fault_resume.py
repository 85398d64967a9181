"""DESIGN §5: data and manifest commit together per chunk; a kill after chunk 2 of 3 resumes at 3."""

from __future__ import annotations

import signal

import duckdb

from tests.conftest import OPERATORS_CSV, calls_csv, run_cli


def test_kill_after_second_chunk_then_resume(tmp_path):
    home = tmp_path / "home"
    (tmp_path / "operators.csv").write_text(OPERATORS_CSV, encoding="utf-8")
    calls = tmp_path / "calls.csv"
    calls.write_text(calls_csv(25), encoding="utf-8")  # 25 rows / 10 per chunk = 3 chunks
    assert run_cli("--home", str(home), "ingest", str(tmp_path / "operators.csv")).returncode == 0

    killed = run_cli("--home", str(home), "ingest", str(calls), "--chunk-rows", "10",
                     env={"OPKPI_FAULT_KILL_AFTER_CHUNK": "2"})
    assert killed.returncode == -signal.SIGKILL
    con = duckdb.connect(str(home / "warehouse" / "opkpi.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM raw_calls").fetchone()[0] == 20
    assert con.execute("SELECT status, chunks_done, chunks_total FROM load_manifest WHERE file = 'calls.csv'"
                       ).fetchall() == [("in_progress", 2, 3)]
    con.close()

    resumed = run_cli("--home", str(home), "ingest", str(calls))
    assert resumed.returncode == 0, resumed.stderr
    con = duckdb.connect(str(home / "warehouse" / "opkpi.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT call_id) FROM raw_calls").fetchone() == (25, 25)
    rows = con.execute("""SELECT status, rows_read, inserted, duplicate, quarantined, chunks_done, chunks_total,
        resumed_from IS NOT NULL FROM load_manifest WHERE file = 'calls.csv' ORDER BY attempt_at""").fetchall()
    # The killed attempt keeps what it committed; the resumed one carries the whole file's totals.
    assert rows == [("interrupted", 20, 20, 0, 0, 2, 3, False), ("loaded", 25, 25, 0, 0, 3, 3, True)]
    # The manifest reconciles: the committed chunks of both attempts add up to the file, once each.
    chunks = con.execute("""SELECT c.chunk_no, c.rows_read FROM load_chunks c JOIN load_manifest m USING (load_id)
        WHERE m.file = 'calls.csv' ORDER BY c.chunk_no""").fetchall()
    assert chunks == [(0, 10), (1, 10), (2, 5)]
    con.close()
