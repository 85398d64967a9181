"""`opkpi run` takes only settled inbox files; `opkpi backup` holds the state store and its keys."""

from __future__ import annotations

import os
import sqlite3
import tarfile
import time

import duckdb

from tests.conftest import OPERATORS_CSV, calls_csv, run_cli


def test_run_skips_young_and_partial_inbox_files_then_takes_them(tmp_path):
    home = tmp_path / "home"
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "operators.csv").write_text(OPERATORS_CSV, encoding="utf-8")
    old = time.time() - 600
    os.utime(inbox / "operators.csv", (old, old))
    (inbox / "calls.csv").write_text(calls_csv(3), encoding="utf-8")      # just written: too young
    (inbox / "calls2.csv.part").write_text(calls_csv(2, start=10), encoding="utf-8")  # still uploading
    (inbox / "~lock.csv").write_text("x", encoding="utf-8")

    r = run_cli("--warehouse", str(home), "run")          # default inbox.min_age_s = 120
    assert r.returncode == 0, r.stderr
    assert "operators.csv: loaded" in r.stderr and "1 inbox file(s) younger" in r.stderr
    con = duckdb.connect(str(home / "warehouse" / "opkpi.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM raw_calls").fetchone()[0] == 0
    con.close()

    r = run_cli("run", "--min-age", "0", env={"OPKPI_HOME": str(home)})
    assert r.returncode == 0, r.stderr
    assert "calls.csv: loaded" in r.stderr and "operators.csv: unchanged" in r.stderr
    con = duckdb.connect(str(home / "warehouse" / "opkpi.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM raw_calls").fetchone()[0] == 3
    con.close()


def test_backup_contains_a_consistent_state_copy_and_the_keys(tmp_path):
    home = tmp_path / "home"
    (tmp_path / "operators.csv").write_text(OPERATORS_CSV, encoding="utf-8")
    assert run_cli("--home", str(home), "ingest", str(tmp_path / "operators.csv")).returncode == 0
    assert run_cli("--home", str(home), "run", "--min-age", "0").returncode == 0
    r = run_cli("--home", str(home), "backup", "--out", str(tmp_path / "bk"))
    assert r.returncode == 0, r.stderr
    archive = tmp_path / "bk" / r.stdout.strip().rsplit("/", 1)[-1]
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path / "restored", filter="data")
    assert any(n.endswith("pii.key") for n in names) and any(n.endswith("archive.key") for n in names)
    db = next((tmp_path / "restored").rglob("*.sqlite"))
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("PRAGMA user_version").fetchone()[0] >= 1
