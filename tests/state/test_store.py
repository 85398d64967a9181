"""The SQLite state store: migrations, WAL, audit in the caller's transaction, backup (DESIGN §1)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import tarfile
from pathlib import Path

import pytest

from pipeline.core.errors import UsageError
from pipeline.core.home import Home
from pipeline.ingest.archive import Archive
from pipeline.ingest.pii import Pseudonymiser
from pipeline.state import (
    MIGRATIONS,
    audit,
    backup,
    open_state,
    quarantine_decisions,
    record_quarantine_decision,
    write_transaction,
)

SHA = "ab" * 32


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


def _tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_open_creates_migrates_and_is_idempotent(home: Home) -> None:
    con = open_state(home)
    assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 1
    assert {"audit_log", "quarantine_decisions", "identity_edits", "runs"} <= _tables(con)
    con.execute("INSERT INTO runs (run_id, status) VALUES ('r1', 'ok')")
    con.commit()
    con.close()

    again = open_state(home)
    assert again.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert again.execute("SELECT run_id FROM runs").fetchall() == [("r1",)]
    again.close()


def test_pragmas_and_file_modes(home: Home) -> None:
    con = open_state(home)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert con.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    con.execute("INSERT INTO runs (run_id) VALUES ('r1')")
    con.commit()
    assert stat.S_IMODE(os.stat(home.state_db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home.state_dir).st_mode) == 0o700
    wal = home.state_db.with_name(home.state_db.name + "-wal")
    assert wal.exists() and stat.S_IMODE(os.stat(wal).st_mode) == 0o600
    con.close()


def test_a_newer_schema_is_refused(home: Home) -> None:
    con = open_state(home)
    con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    con.close()
    with pytest.raises(Exception, match="newer than this opkpi knows"):
        open_state(home)


def test_audit_commits_and_rolls_back_with_the_change(home: Home) -> None:
    con = open_state(home)
    con.execute("INSERT INTO runs (run_id, status) VALUES ('r1', 'running')")
    audit(con, actor="ops", actor_role="admin", action="run.start", entity="run", entity_id="r1",
          before=None, after={"status": "running"}, reason="test")
    assert con.in_transaction  # audit() does not commit on its own
    con.rollback()
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0

    with write_transaction(con):
        con.execute("INSERT INTO runs (run_id, status) VALUES ('r2', 'ok')")
        audit(con, actor="ops", actor_role="admin", action="run.finish", entity="run", entity_id="r2",
              before={"status": "running"}, after={"status": "ok"}, run_id="r2")
    other = sqlite3.connect(home.state_db)  # another connection sees both: they were committed
    row = other.execute("SELECT actor, action, entity_id, before_json, after_json, run_id FROM audit_log").fetchone()
    assert row[:3] == ("ops", "run.finish", "r2")
    assert json.loads(row[3]) == {"status": "running"} and json.loads(row[4]) == {"status": "ok"}
    assert other.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    other.close()
    con.close()


def test_write_transaction_rolls_back_on_error(home: Home) -> None:
    con = open_state(home)
    with pytest.raises(RuntimeError), write_transaction(con):
        con.execute("INSERT INTO runs (run_id) VALUES ('r1')")
        audit(con, actor="a", actor_role="admin", action="x", entity="run")
        raise RuntimeError("boom")
    assert con.execute("SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM audit_log)").fetchone()[0] == 0
    con.close()


def test_quarantine_decision_and_its_audit_row(home: Home) -> None:
    con = open_state(home)
    d = record_quarantine_decision(con, file_sha256=SHA, line=7, rule_id="negative_duration",
                                   decision="discard", reason="test call", actor="qa.lead", actor_role="qa_lead")
    assert not con.in_transaction
    record_quarantine_decision(con, file_sha256=SHA, rule_id="naive_timestamp", decision="replay", actor="qa.lead")
    got = quarantine_decisions(con)
    assert [(x.line, x.rule_id, x.decision) for x in got] == [(7, "negative_duration", "discard"),
                                                                (None, "naive_timestamp", "replay")]
    assert got[0] == d
    assert quarantine_decisions(con, file_sha256="cd" * 32) == []
    audits = con.execute("SELECT action, entity_id, reason, actor_role FROM audit_log ORDER BY id").fetchall()
    assert audits == [("quarantine.discard", f"{SHA}:7:negative_duration", "test call", "qa_lead"),
                      ("quarantine.replay", f"{SHA}:*:naive_timestamp", None, "operator")]
    con.close()


def test_quarantine_decision_is_atomic(home: Home) -> None:
    con = open_state(home)
    con.execute("DROP TABLE audit_log")  # the audit insert fails after the decision insert
    con.commit()
    with pytest.raises(sqlite3.OperationalError):
        record_quarantine_decision(con, file_sha256=SHA, line=1, decision="replay", actor="a")
    assert con.execute("SELECT count(*) FROM quarantine_decisions").fetchone()[0] == 0
    con.close()


def test_quarantine_decision_validation(home: Home) -> None:
    con = open_state(home)
    with pytest.raises(UsageError, match="reason"):
        record_quarantine_decision(con, file_sha256=SHA, decision="discard", actor="a", reason=" ")
    with pytest.raises(UsageError):
        record_quarantine_decision(con, file_sha256=SHA, decision="keep", actor="a")  # type: ignore[arg-type]
    con.close()


def test_backup_holds_a_readable_copy_and_both_keys(home: Home, tmp_path: Path) -> None:
    pii = Pseudonymiser.for_home(home)
    Archive(home).store(b"x\n1\n", sha256=hashlib.sha256(b"x\n1\n").hexdigest(), kind="calls",
                        dialect="canonical", name="c.csv")
    con = open_state(home)
    record_quarantine_decision(con, file_sha256=SHA, line=3, decision="discard", reason="r", actor="a")
    # Leave a writer connection open with committed data still in the WAL: backup must see it.
    out = backup(home)
    assert out.parent == home.backups_dir and out.name.startswith("opkpi-state-") and out.name.endswith(".tar.gz")
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert not [p for p in home.backups_dir.iterdir() if p != out]  # no temp leftovers

    extract = tmp_path / "restore"
    with tarfile.open(out) as tar:
        assert sorted(tar.getnames()) == ["archive.key", "opkpi.sqlite", "pii.key"]
        assert all(m.mode == 0o600 for m in tar.getmembers())
        tar.extractall(extract, filter="data")
    assert (extract / "pii.key").read_bytes() == home.pii_key.read_bytes()
    assert (extract / "archive.key").read_bytes() == home.archive_key.read_bytes()
    copy = sqlite3.connect(extract / "opkpi.sqlite")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT file_sha256, line FROM quarantine_decisions").fetchall() == [(SHA, 3)]
    assert copy.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
    assert copy.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    copy.close()
    con.close()
    assert pii.key_id("x") is not None

    second = backup(home, out_dir=tmp_path / "elsewhere")
    assert second.parent == tmp_path / "elsewhere" and second.exists() and second != out
