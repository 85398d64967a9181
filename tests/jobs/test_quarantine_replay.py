"""`opkpi quarantine replay` re-reads rows from the archive with the current configuration."""

from __future__ import annotations

import json

import duckdb

from tests.conftest import OPERATORS_CSV, run_cli

NAIVE = """call_id,leg,direction,queue_id,agent_id,enqueued_at,answered_at,ended_at,outcome,talk_s
c1,1,inbound,q1,op-1,2026-10-14T09:00:00+03:00,2026-10-14T09:00:10+03:00,2026-10-14T09:05:00+03:00,answered,290
c2,1,inbound,q1,op-2,2026-10-14 10:00:00,2026-10-14 10:00:10,2026-10-14 10:05:00,answered,290
"""


def test_replay_after_configuring_the_source_timezone(tmp_path):
    home = tmp_path / "home"
    (tmp_path / "operators.csv").write_text(OPERATORS_CSV, encoding="utf-8")
    (tmp_path / "calls.csv").write_text(NAIVE, encoding="utf-8")
    r = run_cli("--home", str(home), "ingest", str(tmp_path / "operators.csv"), str(tmp_path / "calls.csv"))
    assert r.returncode == 0 and "calls.csv: partial" in r.stderr
    listed = json.loads(run_cli("--home", str(home), "quarantine", "list", "--format", "json").stdout)
    assert {(q["location"], q["rule_id"]) for q in listed} == {
        ("calls.csv:3:6", "naive_timestamp"), ("calls.csv:3:7", "naive_timestamp"), ("calls.csv:3:8", "naive_timestamp")}

    (home / "opkpi.toml").write_text('[ingest]\ntimezone = "Europe/Kyiv"\n', encoding="utf-8")
    r = run_cli("--home", str(home), "quarantine", "replay", "--rule", "naive_timestamp")
    assert r.returncode == 0, r.stderr
    assert "inserted 1" in r.stderr
    assert json.loads(run_cli("--home", str(home), "quarantine", "list", "--format", "json").stdout) == []
    con = duckdb.connect(str(home / "warehouse" / "opkpi.duckdb"), read_only=True)
    con.execute("SET TimeZone='UTC'")  # every connection reads in UTC (DESIGN §1), whatever TZ the suite runs in
    # 10:00 Kyiv on 2026-10-14 is EEST (+03:00) → 07:00 UTC.
    assert con.execute("SELECT strftime(enqueued_at, '%Y-%m-%d %H:%M') FROM raw_calls WHERE call_id = 'c2'"
                       ).fetchone() == ("2026-10-14 07:00",)
    con.close()
    audit = run_cli("--home", str(home), "quarantine", "list", "--status", "replayed", "--format", "json")
    assert len(json.loads(audit.stdout)) == 3


def test_discard_requires_a_reason_and_is_audited(tmp_path):
    import sqlite3

    home = tmp_path / "home"
    (tmp_path / "operators.csv").write_text(OPERATORS_CSV, encoding="utf-8")
    (tmp_path / "calls.csv").write_text(NAIVE, encoding="utf-8")
    run_cli("--home", str(home), "ingest", str(tmp_path / "operators.csv"), str(tmp_path / "calls.csv"))
    r = run_cli("--home", str(home), "quarantine", "discard", "--reason", " ")
    assert r.returncode == 2 and "Attempted to discard" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("--home", str(home), "quarantine", "discard", "--reason", "clock bug, reloaded upstream")
    assert r.returncode == 0 and "discarded 1 row" in r.stderr
    con = sqlite3.connect(home / "state" / "opkpi.sqlite")
    actions = con.execute("SELECT action, reason FROM audit_log").fetchall()
    assert actions == [("quarantine.discard", "clock bug, reloaded upstream")] * 3
