"""Hostile-input acceptance suite (DESIGN §5): every fixture in files/ against EXPECTED.toml.

EXPECTED.toml is the specification, written by hand from the contract and the rule registry; the
parser is built to meet it. Each test starts from a fresh home holding only base/ (a copy of a
template built once per worker, so great-expectations is imported and the base loaded once).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before anything imports GE (DESIGN §9)

HERE = Path(__file__).parent
FILES = HERE / "files"
BASE_FILES = [HERE / "base" / n for n in ("teams.csv", "queues.csv", "operators.csv", "operator_identities.csv")]
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((HERE / "EXPECTED.toml").read_text("utf-8"))["files"]

BLOCKING = {"reject", "quarantine"}
SOFT = {"warn", "flag"}
OUTCOMES = {"loaded", "partial", "rejected"}
KEYS = {"provokes", "kind", "infers", "config", "generate", "outcome", "quarantined", "inserted", "duplicate",
        "flagged", "rules", "locations", "warnings", "warning_locations", "queries"}
REQUIRED_KEYS = {"provokes", "outcome", "quarantined", "rules", "locations"}
# The kinds of bad input the suite must cover (the brief of this suite); `provokes` names them.
REQUIRED_PROVOKES = {
    "wrong_types", "missing_required_column", "extra_columns", "negative_duration", "end_before_start",
    "unknown_agent", "duplicate_rows", "conflicting_key", "cp1251_no_config", "cp1251_configured", "utf8_bom",
    "nonexistent_local_time", "ambiguous_local_time", "naive_timestamp", "empty_file", "header_only",
    "truncated_last_line", "quoted_newline", "unterminated_quote", "wrong_delimiter", "huge_field",
    "binary_garbage", "allowed_value", "empty_required", "invalid_jsonl", "unknown_kind", "duplicate_column",
    "parquet",
}
MIN_DISTINCT_KINDS = 20

HUGE_FIELD_BYTES = 10 * 1024 * 1024
H2 = "call_id,leg,direction,queue_id,agent_id,reason_code,enqueued_at,answered_at,ended_at,outcome,talk_s"


def _write_huge_field(path: Path) -> None:
    """H2 calls; line 3 has reason_code = 10 MiB of "x" (field 6)."""
    rows = [
        H2,
        "hf-1,1,inbound,q-support,op-001,billing,2026-03-02T09:00:00+02:00,2026-03-02T09:00:15+02:00,"
        "2026-03-02T09:05:00+02:00,answered,285",
        "hf-2,1,inbound,q-support,op-002," + "x" * HUGE_FIELD_BYTES + ",2026-03-02T09:10:00+02:00,"
        "2026-03-02T09:10:20+02:00,2026-03-02T09:14:00+02:00,answered,220",
        "hf-3,1,inbound,q-support,op-003,delivery,2026-03-02T09:20:00+02:00,2026-03-02T09:20:05+02:00,"
        "2026-03-02T09:21:05+02:00,answered,60",
    ]
    path.write_bytes(("\n".join(rows) + "\n").encode("ascii"))


GENERATORS = {"huge_field": _write_huge_field}
COMMITTED = sorted(n for n, e in EXPECTED.items() if "generate" not in e)
REJECTED = sorted(n for n, e in EXPECTED.items() if e["outcome"] == "rejected")


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api() -> Any:
    """The ingest API, imported once per worker (GE comes with it)."""
    from pipeline.core.config import Config
    from pipeline.core.home import Home
    from pipeline.ingest import ingest_paths

    class Api:
        pass

    a = Api()
    a.Config, a.Home, a.ingest_paths = Config, Home, ingest_paths
    return a


@pytest.fixture(scope="module")
def base_template(api: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with only base/ loaded; tests copy it instead of re-ingesting the base each time."""
    root = tmp_path_factory.mktemp("base") / "home"
    results = api.ingest_paths(api.Home(root), api.Config(), list(BASE_FILES), kind=None)
    assert [(r.file, r.status) for r in results] == [(p.name, "loaded") for p in BASE_FILES], _render(results)
    return root


@pytest.fixture
def fresh_home(api: Any, base_template: Path, tmp_path: Path) -> Any:
    root = tmp_path / "home"
    shutil.copytree(base_template, root)
    return api.Home(root)


# --- helpers --------------------------------------------------------------------------------------

def _render(results: list[Any]) -> str:
    out = []
    for r in results:
        out.append(f"{r.file}: status={r.status} kind={r.kind} read={r.read} inserted={r.inserted} "
                   f"updated={r.updated} duplicate={r.duplicate} quarantined={r.quarantined} "
                   f"deferred={r.deferred} flagged={r.flagged}")
        out.extend(f"  {p.action}: {p.render()}" for p in r.problems)
    return "\n".join(out)


def _hostile_path(name: str, tmp_path: Path) -> Path:
    exp = EXPECTED[name]
    if "generate" in exp:
        path = tmp_path / name
        GENERATORS[exp["generate"]](path)
        return path
    return FILES / name


def _ingest(api: Any, home: Any, name: str, tmp_path: Path) -> Any:
    exp = EXPECTED[name]
    config = api.Config.model_validate(exp.get("config", {}))
    results = api.ingest_paths(home, config, [_hostile_path(name, tmp_path)], kind=exp.get("kind"),
                               force=False, strict=None, chunk_rows=None)
    assert len(results) == 1, _render(results)
    return results[0]


def _query(home: Any, sql: str) -> Any:
    from pipeline.core.db import connect

    con = connect(home.warehouse_db, read_only=True)
    try:
        row = con.execute(sql).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def _raw_counts(home: Any) -> dict[str, int]:
    """Rows per raw_<kind> table (empty tables left out, so creating one is not a change)."""
    from pipeline.core.db import connect

    con = connect(home.warehouse_db, read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'raw\\_%' ESCAPE '\\'"
        ).fetchall()]
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()
    return {t: n for t, n in counts.items() if n}


# --- the real CLI over every committed file at once ----------------------------------------------
# Defined first: the slowest test (two processes importing GE), so xdist starts it early.

def test_cli_ingests_all_hostile_files_without_traceback(tmp_path: Path) -> None:
    opkpi = Path(sys.executable).with_name("opkpi")
    env = {k: v for k, v in os.environ.items() if k != "OPKPI_HOME"}
    env["GX_ANALYTICS_ENABLED"] = "false"
    home = tmp_path / "home"

    def run(*paths: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(opkpi), "--home", str(home), "ingest", *map(str, paths)], env=env,
                              capture_output=True, text=True, encoding="utf-8", errors="replace",
                              timeout=600, cwd=tmp_path)

    base = run(*BASE_FILES)
    assert base.returncode == 0, base.stderr
    hostile = run(*(FILES / n for n in COMMITTED))
    output = hostile.stdout + hostile.stderr
    assert hostile.returncode == 3, output
    assert "Traceback" not in output
    # Without --kind and config every file EXPECTED rejects is rejected in this run too.
    for name in REJECTED:
        if "generate" not in EXPECTED[name] and "config" not in EXPECTED[name]:
            assert name in hostile.stderr, f"{name} not named on stderr:\n{hostile.stderr}"


# --- the specification ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file(name: str, api: Any, fresh_home: Any, tmp_path: Path) -> None:
    exp = EXPECTED[name]
    r = _ingest(api, fresh_home, name, tmp_path)
    detail = _render([r])

    assert r.file == name, detail
    assert r.status == exp["outcome"], detail
    assert r.quarantined == exp["quarantined"], detail
    if "inserted" in exp:
        assert r.inserted == exp["inserted"], detail
    if "duplicate" in exp:
        assert r.duplicate == exp["duplicate"], detail
    if "flagged" in exp:
        assert r.flagged == exp["flagged"], detail

    blocking = [p for p in r.problems if p.action in BLOCKING]
    assert {p.rule_id for p in blocking} == set(exp["rules"]), detail
    assert sorted(p.location for p in blocking) == sorted(exp["locations"]), detail

    soft = [p for p in r.problems if p.action in SOFT]
    soft_rules = {p.rule_id for p in soft}
    for rule_id in exp.get("warnings", []):
        assert rule_id in soft_rules, detail
    soft_locations = {p.location for p in soft}
    for loc in exp.get("warning_locations", []):
        assert loc in soft_locations, detail

    if exp["outcome"] != "rejected":
        assert r.read == r.inserted + r.updated + r.duplicate + r.quarantined + r.deferred, detail
        assert r.kind == exp.get("kind", exp.get("infers")), detail
    for q in exp.get("queries", []):
        assert _query(fresh_home, q["sql"]) == q["equals"], f"{q['sql']}\n{detail}"


@pytest.mark.parametrize("name", REJECTED)
def test_rejected_file_leaves_data_tables_unchanged(name: str, api: Any, fresh_home: Any, tmp_path: Path) -> None:
    before = _raw_counts(fresh_home)
    assert {"raw_teams", "raw_queues", "raw_operators", "raw_operator_identities"} <= set(before), before
    r = _ingest(api, fresh_home, name, tmp_path)
    assert r.status == "rejected", _render([r])
    assert r.inserted == 0 and r.quarantined == 0, _render([r])
    assert _raw_counts(fresh_home) == before


# --- the suite's own consistency (runs without the parser) ---------------------------------------

def test_every_fixture_has_an_expectation_and_back() -> None:
    on_disk = sorted(p.name for p in FILES.iterdir() if p.is_file())
    assert on_disk == COMMITTED
    for name, exp in EXPECTED.items():
        if "generate" in exp:
            assert exp["generate"] in GENERATORS, name
            assert not (FILES / name).exists(), f"{name} is generated; do not commit it"


def test_expectations_are_well_formed() -> None:
    from pipeline.ingest.contract import KINDS
    from pipeline.ingest.rules import RULES

    for name, exp in EXPECTED.items():
        assert REQUIRED_KEYS <= set(exp) <= KEYS, (name, REQUIRED_KEYS - set(exp), set(exp) - KEYS)
        assert exp["outcome"] in OUTCOMES, name
        assert len(exp["locations"]) >= len(exp["rules"]), name
        assert all(loc == name or loc.startswith(f"{name}:") for loc in exp["locations"]), name
        assert all(RULES[r].action in BLOCKING for r in exp["rules"]), name
        assert all(RULES[r].action in SOFT for r in exp.get("warnings", [])), name
        assert not ("kind" in exp and "infers" in exp), name
        for k in (exp.get("kind"), exp.get("infers")):
            assert k is None or k in KINDS, name
        if exp["outcome"] == "rejected":
            assert exp["quarantined"] == 0 and exp.get("inserted", 0) == 0, name
            assert len(exp["locations"]) == 1 and RULES[exp["rules"][0]].action == "reject", name
        else:
            assert all(RULES[r].action == "quarantine" for r in exp["rules"]), name
            assert ("kind" in exp) or ("infers" in exp), name
            assert (exp["outcome"] == "partial") == (exp["quarantined"] > 0), name
            # One problem per quarantined row: each fixture row is bad in exactly one way.
            assert len(exp["locations"]) == exp["quarantined"], name


def test_at_least_twenty_kinds_of_bad_input() -> None:
    provokes = [e["provokes"] for e in EXPECTED.values()]
    assert len(provokes) == len(set(provokes)), "one fixture per kind of input"
    assert len(set(provokes)) >= MIN_DISTINCT_KINDS
    assert REQUIRED_PROVOKES <= set(provokes), REQUIRED_PROVOKES - set(provokes)
    assert len(EXPECTED) >= 24


def test_every_registered_rule_is_provoked() -> None:
    from pipeline.ingest.rules import RULES

    seen = {r for e in EXPECTED.values() for r in [*e["rules"], *e.get("warnings", [])]}
    # Rules only a source dialect can raise are provoked in tests/dialects/ (queue_log, Zendesk).
    dialect_only = {"binary_line", "unknown_event", "zendesk_unknown_role", "cdr_no_uniqueid", "cdr_rows_skipped"}
    assert set(RULES) - seen == dialect_only


def test_committed_fixtures_have_distinct_contents() -> None:
    # The same content under a new name is a no-op (DESIGN §5): that would hide a fixture in the CLI run.
    digests = {hashlib.sha256((FILES / n).read_bytes()).hexdigest(): n for n in COMMITTED}
    assert len(digests) == len(COMMITTED)
