"""`opkpi ingest --format zendesk`: canonical rows from Zendesk's documented exports, Zendesk's own
metric minutes kept beside them, and `opkpi report reconcile --source zendesk`.

The fixtures (tests/dialects/fixtures/zendesk/, story in its README.md) follow the JSON of Zendesk's
API reference: Users, Incremental Ticket Export with `include=metric_sets`, Ticket Audits,
Incremental Ticket Event Export with `include=comment_events`, Satisfaction Ratings. All times are
2026-10-14 UTC unless said otherwise.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.core.config import Config
from pipeline.core.db import connect
from pipeline.core.errors import UsageError
from pipeline.core.home import Home

FIXTURES = Path(__file__).parent / "fixtures" / "zendesk"
# Users first, so authors' roles are known when the audits load (docs/formats/zendesk.md).
FILES = ["users.json", "tickets_with_metric_sets.json", "audits.json", "incremental_ticket_events.json",
         "satisfaction_ratings.json"]


class ZendeskConfig(Config):
    """Config with a `[zendesk]` section, as the lead's ZendeskConfig will provide."""

    zendesk: dict = {}


def _rows(home: Home, sql: str, params: list | None = None) -> list[tuple]:
    con = connect(home.warehouse_db, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _object_line(name: str, marker: str, occurrence: int = 1) -> int:
    """Line of the `{` opening the object whose next line is `marker` (fixtures are indent-2 JSON)."""
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    hits = [i for i, line in enumerate(lines, start=1) if line.strip().rstrip(",") == marker]
    return hits[occurrence - 1] - 1


@contextlib.contextmanager
def zendesk_mart(tmp: Path) -> Iterator[None]:
    """Build with the `zendesk_source_metrics` mart. Until the warehouse schema creates
    raw_zendesk_source_metrics (zendesk.ensure_tables), the mart waits in sql/marts as
    `zendesk_source_metrics.sql.pending`: here it is activated in a copy of sql/."""
    from pipeline.transforms import discover_models
    from pipeline.transforms.runner import SQL_DIR

    if any(m.name == "zendesk_source_metrics" for m in discover_models()):
        yield
        return
    sql_dir = tmp / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    pending = sql_dir / "marts" / "zendesk_source_metrics.sql.pending"
    pending.rename(pending.with_suffix(""))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("pipeline.jobs.run.discover_models", lambda: discover_models(sql_dir))
        yield


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, list]:
    from pipeline.ingest import ingest_paths
    from pipeline.jobs.run import run_pipeline

    root = tmp_path_factory.mktemp("zendesk")
    home = Home(root / "home")
    results = ingest_paths(home, Config(), [FIXTURES / f for f in FILES], dialect="zendesk")
    with zendesk_mart(root):
        run_pipeline(home, Config(), min_age_s=0)
    return home, results


# --- ingest -----------------------------------------------------------------------------------------

def test_every_file_loads_with_nothing_quarantined(loaded) -> None:
    _, results = loaded
    got = [(r.file, r.kind, r.status, r.read, r.inserted, r.quarantined) for r in results]
    assert got == [
        ("users.json", "operators", "loaded", 3, 3, 0),               # agents 1001, 1002 and admin 1003
        ("users.json", "operator_identities", "loaded", 3, 3, 0),
        # 7 ticket objects, 101 twice (open while paged, then solved): its latest state only
        ("tickets_with_metric_sets.json", "tickets", "loaded", 6, 6, 0),
        ("audits.json", "ticket_events", "loaded", 11, 11, 0),
        ("incremental_ticket_events.json", "ticket_events", "loaded", 10, 10, 0),
        ("satisfaction_ratings.json", "surveys_sent", "loaded", 4, 4, 0),   # unoffered 8004 is no survey
        ("satisfaction_ratings.json", "csat_responses", "loaded", 3, 3, 0),  # offered 8003 is no response
    ]


def test_tickets(loaded) -> None:
    home, _ = loaded
    rows = _rows(home, """SELECT ticket_id, channel, direction, status, queue_id, assignee_id, source_system,
        follow_up_of, language, strftime(created_at, '%Y-%m-%d %H:%M'), strftime(updated_at, '%H:%M')
        FROM raw_tickets ORDER BY ticket_id""")
    assert rows == [
        ("101", "email", "inbound", "solved", "201", "1001", "zendesk", None, "en", "2026-10-14 09:00", "10:00"),
        ("102", "email", "inbound", "solved", "202", "1002", "zendesk", None, "uk", "2026-10-14 09:00", "12:00"),
        # closed with the tag closed_by_merge: merged; native_messaging → chat
        ("103", "chat", "inbound", "merged", "201", "1001", "zendesk", None, "en", "2026-10-14 09:15", "09:25"),
        ("104", "social", "inbound", "deleted", "201", None, "zendesk", None, "uk", "2026-10-14 08:00", "08:30"),
        # via.source.rel = follow_up, from.ticket_id 101
        ("105", "email", "inbound", "new", "201", None, "zendesk", "101", "en", "2026-10-15 08:00", "08:00"),
        ("106", "phone", "inbound", "open", "201", "1003", "zendesk", None, "uk", "2026-10-14 13:00", "13:10"),
    ]
    keys = dict(_rows(home, "SELECT ticket_id, customer_key FROM raw_tickets"))
    sources = {r[0] for r in _rows(home, "SELECT customer_key_source FROM raw_tickets")}
    assert sources == {"id"}  # requester id zd:<id>: opaque, the same key on every ticket of the requester
    assert keys["101"] == keys["103"] == keys["105"] != keys["102"] == keys["104"] == keys["106"]
    # the row comes from the second object of ticket 101 in the file
    line = _rows(home, "SELECT _line FROM raw_tickets WHERE ticket_id = '101'")[0][0]
    assert line == _object_line("tickets_with_metric_sets.json", '"url": "https://example.zendesk.com/api/v2/tickets/101.json"', 2)


def test_ticket_events(loaded) -> None:
    home, _ = loaded
    rows = _rows(home, """SELECT event_id, ticket_id, strftime("at", '%H:%M'), event_type, author_id, author_type,
        is_public, assignee_id, target_tier, source_system FROM raw_ticket_events ORDER BY ticket_id, "at", event_id""")
    z = "zendesk"
    assert rows == [
        # 101 from ticket audits: the creation comment is the customer's create, not a reply
        ("zd:50011", "101", "09:00", "create", "2001", "customer", True, None, None, z),
        ("zd:50021", "101", "09:05", "assign", "1001", "operator", None, "1001", None, z),
        ("zd:50031", "101", "09:10", "note", "1001", "operator", False, None, None, z),
        ("zd:50041", "101", "09:30", "reply", "1001", "operator", True, None, None, z),
        ("zd:50051", "101", "10:00", "solve", "1001", "operator", None, None, None, z),
        ("zd:50052", "101", "10:00", "reply", "1001", "operator", True, None, None, z),
        # 102 from the incremental ticket event export (child events keyed by field)
        ("zd:60011", "102", "09:00", "create", "2002", "customer", True, None, None, z),
        ("zd:60021", "102", "09:05", "assign", "1001", "operator", None, "1001", None, z),
        ("zd:60031", "102", "09:20", "reply", "1001", "operator", True, None, None, z),
        # group 201 → 202 with the assignee 1001 → 1002: a transfer (no group tiers configured)
        ("zd:60042", "102", "09:40", "transfer", "1001", "operator", None, "1002", None, z),
        ("zd:60051", "102", "10:00", "reply", "1002", "operator", True, None, None, z),
        ("zd:60061", "102", "10:30", "solve", "1002", "operator", None, None, None, z),
        ("zd:60071", "102", "11:00", "reply", "2002", "customer", True, None, None, z),
        ("zd:60072", "102", "11:00", "reopen", "2002", "customer", None, None, None, z),
        ("zd:60081", "102", "12:00", "solve", "1002", "operator", None, None, None, z),
        # a comment without comment_events: comment_present/comment_public, the updater as author
        ("zd:60083", "102", "12:00", "note", "1002", "operator", False, None, None, z),
        # 103: answered by Anna, then merged (the merge's comment and close come via `merge`: system)
        ("zd:70011", "103", "09:15", "create", "2001", "customer", True, None, None, z),
        # the trigger's assignment at creation is the system's
        ("zd:70013", "103", "09:15", "assign", "2001", "system", None, "1001", None, z),
        ("zd:70031", "103", "09:20", "reply", "1001", "operator", True, None, None, z),
        ("zd:70021", "103", "09:25", "note", "1001", "system", False, None, None, z),
        ("zd:70022", "103", "09:25", "close", "1001", "system", None, None, None, z),
    ]
    line = _rows(home, "SELECT _line FROM raw_ticket_events WHERE event_id = 'zd:50041'")[0][0]
    assert line == _object_line("audits.json", '"id": 50041')


def test_csat(loaded) -> None:
    home, _ = loaded
    assert _rows(home, """SELECT survey_id, contact_id, strftime(sent_at, '%m-%d %H:%M'), assignee_id, scale,
        source_system FROM raw_surveys_sent ORDER BY survey_id""") == [
        ("zd:rating:8001", "101", "10-14 10:05", "1001", "good_bad", "zendesk"),
        ("zd:rating:8002", "102", "10-14 12:05", "1002", "good_bad", "zendesk"),
        ("zd:rating:8003", "106", "10-14 13:20", "1003", "good_bad", "zendesk"),   # offered: sent, unanswered
        ("zd:rating:8005", "105", "10-15 09:00", "1001", "1-5", "zendesk"),         # a 1–5 score
    ]
    assert _rows(home, """SELECT response_id, survey_id, contact_id, strftime(received_at, '%m-%d %H:%M'), scale,
        score, language FROM raw_csat_responses ORDER BY response_id""") == [
        ("zd:rating:8001", "zd:rating:8001", "101", "10-14 12:00", "good_bad", "good", "en"),
        ("zd:rating:8002", "zd:rating:8002", "102", "10-14 13:00", "good_bad", "bad", "uk"),
        ("zd:rating:8005", "zd:rating:8005", "105", "10-15 09:30", "1-5", "4", "en"),
    ]


def test_operators_and_identities(loaded) -> None:
    home, _ = loaded
    assert _rows(home, "SELECT operator_id, display_name, timezone, valid_from::VARCHAR, tier FROM raw_operators "
                       "ORDER BY 1") == [
        ("zd:1001", "Anna Agent", "Europe/Kyiv", "2026-01-05", None),
        ("zd:1002", "Boris Agent", "Europe/Kyiv", "2026-01-05", None),
        ("zd:1003", "Carla Admin", "Etc/UTC", "2026-01-05", None),
    ]
    assert _rows(home, "SELECT source_system, source_id, operator_id FROM raw_operator_identities ORDER BY 2") == [
        ("zendesk", "1001", "zd:1001"), ("zendesk", "1002", "zd:1002"), ("zendesk", "1003", "zd:1003")]
    # no event author or assignee is left unresolved
    assert _rows(home, "SELECT count(*) FROM load_warnings WHERE rule_id = 'unknown_agent'") == [(0,)]


def test_zendesk_metric_minutes_are_kept(loaded) -> None:
    home, _ = loaded
    assert _rows(home, """SELECT ticket_id, reply_time_calendar_min, reply_time_business_min,
        first_resolution_calendar_min, full_resolution_calendar_min, full_resolution_business_min, reopens
        FROM raw_zendesk_source_metrics ORDER BY ticket_id""") == [
        ("101", 30, 30, 60, 60, 60, 0), ("102", 21, 21, 90, 183, 183, 1), ("106", None, None, None, None, None, 0)]


# --- reconcile --------------------------------------------------------------------------------------

def test_reconcile_compares_ours_with_zendesk_minutes(loaded) -> None:
    from pipeline.metrics.reconcile import reconcile

    home, _ = loaded
    result = reconcile(home, source="zendesk")
    got = [(r["ticket_id"], r["metric"], r["ours_min"], r["source_min"], r["diff_min"], r["is_match"])
           for r in result.rows]
    assert got == [
        # 101: created 09:00, first public operator reply 09:30, solved 10:00 (once)
        ("101", "first_reply", 30.0, 30, 0.0, True),
        ("101", "first_resolution", 60.0, 60, 0.0, True),
        ("101", "full_resolution", 60.0, 60, 0.0, True),
        # 102: created 09:00, first reply 09:20 (Zendesk 21: within 1 min), solved 10:30, again 12:00
        ("102", "first_reply", 20.0, 21, -1.0, True),
        ("102", "first_resolution", 90.0, 90, 0.0, True),
        ("102", "full_resolution", 180.0, 183, -3.0, False),
        # 106: neither side has a reply or resolution yet: not listed
    ]
    summary = {s["metric"]: (s["compared_n"], s["matched_n"], s["match_rate"]) for s in result.summary}
    assert summary == {"first_reply": (2, 2, 1.0), "first_resolution": (2, 2, 1.0), "full_resolution": (2, 1, 0.5)}


def test_reconcile_cli(loaded) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.cli.reconcile import register

    register(app)  # idempotent: the lead registers it in pipeline/cli/__init__.py too
    home, _ = loaded
    runner = CliRunner()
    out = runner.invoke(app, ["--home", str(home.root), "report", "reconcile", "--source", "zendesk",
                              "--format", "json", "--only-differences"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert [(r["ticket_id"], r["metric"], r["diff_min"]) for r in payload["rows"]] == [("102", "full_resolution", -3.0)]
    assert [s["matched_n"] for s in payload["summary"]] == [2, 2, 1]
    table = runner.invoke(app, ["--home", str(home.root), "report", "reconcile", "--source", "zendesk"])
    assert table.exit_code == 0 and "full_resolution" in table.stdout and "50.0%" in table.stdout
    bad = runner.invoke(app, ["--home", str(home.root), "report", "reconcile", "--source", "freshdesk"])
    assert isinstance(bad.exception, UsageError) and bad.exception.exit_code == 2  # main() maps it to exit 2


def test_merged_and_deleted_tickets_are_not_handled(loaded) -> None:
    from pipeline.warehouse import open_snapshot

    home, _ = loaded
    con = open_snapshot(home)
    try:
        segments = con.execute("SELECT contact_id FROM segment_facts WHERE contact_type = 'ticket' "
                               "ORDER BY segment_id").fetchall()
        repeats = con.execute("SELECT contact_id, repeat_contact_id FROM contact_facts "
                              "WHERE repeat_contact_id IN ('103', '104')").fetchall()
    finally:
        con.close()
    assert ("103",) not in segments and ("104",) not in segments
    assert repeats == []


# --- more shapes ------------------------------------------------------------------------------------

def test_group_tiers_make_an_escalation_and_roles_come_from_use(tmp_path: Path) -> None:
    """Events before any users export: assignees are operators, everyone else a customer."""
    from pipeline.ingest import ingest_paths

    home = Home(tmp_path / "home")
    config = ZendeskConfig(zendesk={"group_tiers": {"201": "L1", "202": "L2"}})
    [r] = ingest_paths(home, config, [FIXTURES / "incremental_ticket_events.json"], dialect="zendesk")
    assert (r.status, r.inserted) == ("loaded", 10)
    assert _rows(home, "SELECT event_type, assignee_id, target_tier FROM raw_ticket_events "
                       "WHERE event_id = 'zd:60042'") == [("escalate", "1002", "L2")]
    assert dict(_rows(home, "SELECT author_id, any_value(author_type) FROM raw_ticket_events GROUP BY 1")) == {
        "1001": "operator", "1002": "operator", "2002": "customer"}


def test_json_lines_and_minified_documents(tmp_path: Path) -> None:
    from pipeline.ingest import ingest_paths

    audits = [
        {"id": 1, "ticket_id": 9, "created_at": "2026-10-14T09:00:00Z", "author_id": 5, "via": {"channel": "web"},
         "events": [{"id": 11, "type": "Change", "field_name": "assignee_id", "value": "5", "previous_value": None},
                    {"id": 12, "type": "Comment", "author_id": 5, "public": True, "body": "hi"}]},
        {"id": 2, "ticket_id": 9, "created_at": "2026-10-14T10:00:00Z", "author_id": 5, "via": {"channel": "web"},
         "events": [{"id": 21, "type": "Change", "field_name": "status", "value": "solved", "previous_value": "open"}]},
    ]
    jsonl = tmp_path / "audits.jsonl"
    jsonl.write_text(json.dumps(audits[0]) + "\n{not json\n" + json.dumps(audits[1]) + "\n", encoding="utf-8")
    minified = tmp_path / "page.json"
    minified.write_text(json.dumps({"audits": audits}), encoding="utf-8")
    home = Home(tmp_path / "home")
    r1, r2 = ingest_paths(home, Config(), [jsonl, minified], dialect="zendesk")
    # line 1 holds two records (11, 12 = line 1 × 10 + 1..2), line 3 one (31); the bad line 2 is 20
    assert (r1.status, r1.read, r1.inserted, r1.quarantined) == ("partial", 4, 3, 1)
    assert _rows(home, "SELECT event_id, _line FROM raw_ticket_events ORDER BY 1") == [
        ("zd:11", 11), ("zd:12", 12), ("zd:21", 31)]
    assert _rows(home, "SELECT rule_id, line, message LIKE '%physical line 2%' FROM quarantine") == [
        ("invalid_json", 20, True)]
    # the same audits minified on one line: the same rows, duplicates
    assert (r2.status, r2.read, r2.inserted, r2.duplicate) == ("loaded", 3, 0, 3)


def test_rejected_files(tmp_path: Path) -> None:
    from pipeline.ingest import ingest_paths

    home = Home(tmp_path / "home")
    cases = {"broken.json": b'{"tickets": [{"id": 1,\n  "via": }]}\n', "other.json": b'{"groups": [{"id": 1}]}\n',
             "binary.json": b"\x00\x01\x02", "empty.json": b"\n"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    results = ingest_paths(home, Config(), [tmp_path / n for n in cases], dialect="zendesk")
    got = {r.file: (r.status, r.problems[0].rule_id, r.problems[0].location) for r in results}
    assert got == {"broken.json": ("rejected", "invalid_json", "broken.json:2:10"),
                   "other.json": ("rejected", "unknown_kind", "other.json:1:1"),
                   "binary.json": ("rejected", "binary_file", "binary.json:1:1"),
                   "empty.json": ("rejected", "empty_file", "empty.json:1:1")}


def test_metric_minutes_upsert_and_rebuild_from_archive(tmp_path: Path) -> None:
    """Newer metric sets replace older ones, older ones are ignored; a metric-only file is archived, so a
    rebuild of the warehouse replays it."""
    from pipeline.ingest import ingest_paths
    from pipeline.jobs.run import run_pipeline

    def metrics_file(name: str, updated: str, full: int) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps({"metric_sets": [{"id": 9102, "ticket_id": 102, "updated_at": updated,
                                                     "reply_time_in_minutes": {"calendar": 21, "business": 21},
                                                     "full_resolution_time_in_minutes": {"calendar": full,
                                                                                         "business": full}}]}),
                        encoding="utf-8")
        return path

    home = Home(tmp_path / "home")
    files = [metrics_file("m1.json", "2026-10-14T12:00:01Z", 183), metrics_file("m2.json", "2026-10-14T13:00:00Z", 180),
             metrics_file("m0.json", "2026-10-14T11:00:00Z", 999)]
    results = ingest_paths(home, Config(), files, dialect="zendesk")
    assert [r.status for r in results] == ["loaded"] * 3
    query = "SELECT ticket_id, full_resolution_calendar_min, _file FROM raw_zendesk_source_metrics"
    assert _rows(home, query) == [("102", 180, "m2.json")]
    shutil.rmtree(home.warehouse_dir)
    with zendesk_mart(tmp_path):
        run_pipeline(home, Config(), min_age_s=0)
    assert _rows(home, query) == [("102", 180, "m2.json")]


def test_an_author_of_unknown_role_counts_as_a_customer_with_a_warning(tmp_path: Path) -> None:
    from pipeline.ingest import ingest_paths

    audit = {"id": 1, "ticket_id": 9, "created_at": "2026-10-14T09:00:00Z", "author_id": 5,
             "via": {"channel": "web"},
             "events": [{"id": 11, "type": "Comment", "author_id": 77, "public": True, "body": "hi"}]}
    page = tmp_path / "audits.json"
    page.write_text(json.dumps({"audits": [audit]}), encoding="utf-8")
    [r] = ingest_paths(Home(tmp_path / "home"), Config(), [page], dialect="zendesk")
    assert r.status == "loaded"
    assert [p.rule_id for p in r.problems if p.action == "warn"] == ["zendesk_unknown_role"]
    assert _rows(Home(tmp_path / "home"), "SELECT author_id, author_type FROM raw_ticket_events") == [
        ("77", "customer")]
