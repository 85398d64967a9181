"""DESIGN §9: exit codes, error format on stderr, a clean stdout, the writer lock, lazy GE."""

from __future__ import annotations

import subprocess
import sys

from pipeline.core.home import Home, warehouse_lock
from tests.conftest import OPERATORS_CSV, run_cli


def test_lock_held_exits_75(tmp_path):
    home = Home(tmp_path / "home")
    (tmp_path / "operators.csv").write_text(OPERATORS_CSV, encoding="utf-8")
    with warehouse_lock(home):
        r = run_cli("--home", str(home.root), "run", "--min-age", "0")
    assert r.returncode == 75
    assert r.stderr.startswith("Attempted a pipeline run at") and "holds" in r.stderr
    assert r.stdout == ""
    assert run_cli("--home", str(home.root), "ingest", str(tmp_path / "operators.csv")).returncode == 0


def test_bad_config_is_a_usage_error(tmp_path):
    cfg = tmp_path / "opkpi.toml"
    cfg.write_text("[ingest]\ntimezone = 'Mars/Olympus'\n", encoding="utf-8")
    r = run_cli("--home", str(tmp_path), "--config", str(cfg), "status")
    assert r.returncode == 2
    assert "ingest.timezone" in r.stderr and "Traceback" not in r.stderr


def test_rejected_file_exit_3_and_one_summary_line(tmp_path):
    empty = tmp_path / "calls.csv"
    empty.write_bytes(b"")
    r = run_cli("--home", str(tmp_path / "h"), "ingest", str(empty))
    assert r.returncode == 3
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert "calls.csv: rejected" in r.stderr and r.stdout == ""


def test_status_before_any_run(tmp_path):
    r = run_cli("--home", str(tmp_path), "status")
    assert r.returncode == 0 and "Nothing published yet" in r.stdout


def test_great_expectations_is_imported_only_where_validation_runs():
    code = ("import sys, pipeline.cli, pipeline.ingest, pipeline.jobs.run, pipeline.ingest.loader;"
            "print('great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
