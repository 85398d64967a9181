"""`opkpi report` as people and pipes use it: the real command in a subprocess on a tiny home."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

TINY = {
    "teams.csv": """team_id,name,timezone
t1,Support Kyiv,Europe/Kyiv
""",
    "queues.csv": """queue_id,team_id,timezone,channel,sl_threshold_s
q1,t1,Europe/Kyiv,phone,20
""",
    "operators.csv": """operator_id,display_name,team_id,tier,timezone,valid_from
op-1,Ганна Коваленко,t1,L1,Europe/Kyiv,2026-01-01
op-2,Olivia Brown,t1,L2,Europe/Kyiv,2026-01-01
""",
    # c1: op-1, waits 10 s, talk 250 + hold 20 + wrap 30 = 300 s. c2: op-2, waits 30 s, 140 + 10 + 20 = 170 s.
    # c3: abandoned after 3 s (a short abandon, < 5 s). All on Wednesday 2026-10-14, Kyiv time.
    "calls.csv": """call_id,leg,direction,queue_id,agent_id,customer_phone,reason_code,enqueued_at,answered_at,\
ended_at,outcome,end_reason,talk_s,hold_s,wrap_s
c1,1,inbound,q1,op-1,+7 912 000-00-01,billing,2026-10-14T09:00:00+03:00,2026-10-14T09:00:10+03:00,\
2026-10-14T09:05:00+03:00,answered,resolved,250,20,30
c2,1,inbound,q1,op-2,+7 912 000-00-02,billing,2026-10-14T10:00:00+03:00,2026-10-14T10:00:30+03:00,\
2026-10-14T10:03:00+03:00,answered,resolved,140,10,20
c3,1,inbound,q1,,+7 912 000-00-03,,2026-10-14T11:00:00+03:00,,2026-10-14T11:00:03+03:00,abandoned,,,,
""",
    # CSAT: c1 (op-1) 5 in Ukrainian, c2 (op-2) 2 in Russian, and the abandoned c3 "good" without a language:
    # no operator to credit, so team t1 only (its queue's team), on the call's date.
    "csat_responses.csv": """response_id,survey_id,contact_type,contact_id,received_at,scale,score,language
r1,s1,call,c1,2026-10-14T09:10:00+03:00,1-5,5,uk
r2,s2,call,c2,2026-10-14T10:10:00+03:00,1-5,2,ru
r3,s3,call,c3,2026-10-14T11:10:00+03:00,good_bad,good,
""",
}

# /work/plan/issue3.md: the keys every row carries.
SCORECARD_KEYS = set("""operator_id period_start grain provisional contacts_handled calls_answered aht_phone_s
    aht_chat_s aht_email_s talk_s hold_s wrap_s fcr_rate fcr_num fcr_den csat_top2_rate csat_mean csat_responses
    frt_median_s resolution_median_s escalation_rate transfer_rate occupancy qa_score
    bonus_eligible_contacts""".split())
QUEUE_KEYS = set("""queue_id period_start grain provisional offered answered abandoned short_abandoned timeout
    service_level asa_s abandon_rate""".split())
TEAM_KEYS = {"dimension", "dimension_value", "period_start", "grain", "provisional"}
CSAT_KEYS = set("""language period_start grain provisional csat_responses csat_top2_rate csat_top2_num csat_top2_den
    csat_mean csat_mean_num csat_mean_den csat_wilson_low csat_wilson_high""".split())


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the tiny files ingested and one published run."""
    root = tmp_path_factory.mktemp("report_cli")
    files = []
    for name, text in TINY.items():
        path = root / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    h = root / "home"
    ingest = run_cli("--home", str(h), "ingest", *files)
    assert ingest.returncode == 0, ingest.stderr
    run = run_cli("--home", str(h), "run", "--min-age", "0")
    assert run.returncode == 0, run.stderr
    return h


def report(home: Path, *args: str):
    return run_cli("--home", str(home), "report", *args)


# --- usage errors come first: exit 2, nothing on stdout, whether or not anything is published --------------

def test_parquet_without_out_is_a_usage_error(tmp_path: Path) -> None:
    r = report(tmp_path / "nothing", "scorecard", "--format", "parquet")
    assert r.returncode == 2, r.stderr
    assert "--out" in r.stderr and r.stdout == ""


def test_period_and_from_are_exclusive(tmp_path: Path) -> None:
    r = report(tmp_path / "nothing", "scorecard", "--period", "2026-10", "--from", "2026-10-01")
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("Attempted") and "--period" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("args", [
    ("scorecard", "--period", "2026-13"),
    ("scorecard", "--period", "October"),
    ("queues", "--from", "2026-10-32"),
    ("queues", "--from", "2026-10-05", "--to", "2026-10-01"),
    ("scorecard", "--grain", "year"),
    ("teams", "--dimension", "galaxy"),
    ("csat", "--grain", "year"),
    ("scorecard", "--format", "xml"),
])
def test_bad_options_exit_2_in_our_words(tmp_path: Path, args: tuple[str, ...]) -> None:
    r = report(tmp_path / "nothing", *args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("Attempted") and r.stdout == ""


def test_report_before_any_run_exits_3(tmp_path: Path) -> None:
    r = report(tmp_path / "fresh", "scorecard", "--format", "json")
    assert r.returncode == 3, r.stderr
    assert "opkpi run" in r.stderr and r.stdout == ""


# --- output formats on a published snapshot ---------------------------------------------------------------

def test_scorecard_json_is_a_clean_list_with_the_required_keys(home: Path) -> None:
    r = report(home, "scorecard", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)  # stdout holds the JSON and nothing else
    assert isinstance(rows, list) and rows
    for row in rows:
        assert SCORECARD_KEYS <= set(row), SCORECARD_KEYS - set(row)
        assert row["grain"] == "all"
    assert {row["operator_id"] for row in rows} == {"op-1", "op-2"}


def test_scorecard_figures_end_to_end(home: Path) -> None:
    r = report(home, "scorecard", "--format", "json", "--period", "2026-10")
    assert r.returncode == 0, r.stderr
    by_op = {row["operator_id"]: row for row in json.loads(r.stdout)}
    assert by_op["op-1"]["period_start"] == "2026-10-01"  # grain all: the first day of the range
    assert by_op["op-1"]["calls_answered"] == 1 and by_op["op-1"]["contacts_handled"] == 1
    assert by_op["op-1"]["aht_phone_s"] == pytest.approx(300.0)  # (250 + 20 + 30) / 1
    assert by_op["op-2"]["aht_phone_s"] == pytest.approx(170.0)  # (140 + 10 + 20) / 1
    assert by_op["op-1"]["qa_score"] is None and by_op["op-1"]["bonus_eligible_contacts"] is None


def test_operator_filter(home: Path) -> None:
    r = report(home, "scorecard", "--format", "json", "--operator", "op-2")
    assert r.returncode == 0, r.stderr
    assert [row["operator_id"] for row in json.loads(r.stdout)] == ["op-2"]


def test_queues_json_has_the_required_keys_and_figures(home: Path) -> None:
    r = report(home, "queues", "--format", "json", "--queue", "q1")
    assert r.returncode == 0, r.stderr
    [row] = json.loads(r.stdout)
    assert QUEUE_KEYS <= set(row), QUEUE_KEYS - set(row)
    assert (row["offered"], row["answered"], row["abandoned"], row["short_abandoned"]) == (3, 2, 1, 1)
    assert row["service_level"] == pytest.approx(0.5)  # c1 within 20 s: 1 / (3 offered − 1 short)
    assert row["asa_s"] == pytest.approx(20.0)  # (10 + 30) / 2 answered
    assert row["abandon_rate"] == pytest.approx(0.0)  # (1 − 1 short) / (3 − 1)


def test_teams_json_by_tier(home: Path) -> None:
    r = report(home, "teams", "--dimension", "tier", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and all(TEAM_KEYS <= set(row) for row in rows)
    assert {row["dimension"] for row in rows} == {"tier"}
    assert {row["dimension_value"] for row in rows} <= {"L1", "L2", "L3"}


def test_csat_by_language_json(home: Path) -> None:
    r = report(home, "csat", "--format", "json", "--period", "2026-10")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and all(CSAT_KEYS <= set(row) for row in rows), [CSAT_KEYS - set(row) for row in rows]
    by_language = {row["language"]: row for row in rows}
    assert set(by_language) == {"ru", "uk", "unknown"}  # r3 has no language
    assert {(row["grain"], row["period_start"], "team_id" in row) for row in rows} == {("all", "2026-10-01", False)}
    uk, ru, unknown = by_language["uk"], by_language["ru"], by_language["unknown"]
    assert (uk["csat_responses"], uk["csat_top2_num"], uk["csat_top2_rate"], uk["csat_mean"]) == (1, 1, 1.0, 5.0)
    assert (ru["csat_responses"], ru["csat_top2_num"], ru["csat_top2_rate"], ru["csat_mean"]) == (1, 0, 0.0, 2.0)
    assert (unknown["csat_top2_num"], unknown["csat_top2_den"], unknown["csat_mean"]) == (1, 1, None)  # good_bad
    assert uk["csat_wilson_low"] == pytest.approx(1 / (1 + 1.959963984540054 ** 2))  # n=1 p=1: 1 / (1 + z²)
    assert uk["csat_wilson_high"] == 1.0 and ru["csat_wilson_low"] == 0.0
    # the languages add up to the team's CSAT, the uncredited r3 included
    team = json.loads(report(home, "teams", "--format", "json", "--period", "2026-10").stdout)
    assert [(t["csat_top2_num"], t["csat_top2_den"]) for t in team] == [(2, 3)]  # 1 + 0 + 1, 1 + 1 + 1
    # filters: one language (matched lower-cased), one team, by day
    r = report(home, "csat", "--format", "json", "--language", "RU", "--team", "t1", "--grain", "day",
               "--from", "2026-10-14", "--to", "2026-10-14")
    assert r.returncode == 0, r.stderr
    [row] = json.loads(r.stdout)
    assert (row["language"], row["team_id"], row["period_start"], row["csat_top2_den"]) == ("ru", "t1", "2026-10-14", 1)


def test_csat_table_shows_the_headline_columns(home: Path) -> None:
    r = report(home, "csat", "--period", "2026-10")
    assert r.returncode == 0, r.stderr
    assert "Survey" in r.stdout and "Wilson" in r.stdout  # catalogue labels (wrapped), not column names
    assert "unknown" in r.stdout and "100.0%" in r.stdout and "csat_top2_rate" not in r.stdout


def test_scorecard_csv_has_a_header_and_one_row_per_operator(home: Path) -> None:
    r = report(home, "scorecard", "--format", "csv")
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split(",")
    assert SCORECARD_KEYS <= set(header), SCORECARD_KEYS - set(header)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert sorted(row["operator_id"] for row in rows) == ["op-1", "op-2"]


def test_queues_parquet_to_a_file(home: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    target = tmp_path / "out" / "queues.parquet"
    r = report(home, "queues", "--format", "parquet", "--out", str(target))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    table = pq.read_table(target)
    assert QUEUE_KEYS <= set(table.column_names)
    assert table.num_rows == 1


def test_table_uses_catalogue_labels_and_rounds(home: Path) -> None:
    r = report(home, "queues")
    assert r.returncode == 0, r.stderr
    assert "Queue" in r.stdout and "Offered" in r.stdout and "queue_id" not in r.stdout
    assert "50.0%" in r.stdout  # service level 0.5 shown as a percentage with one decimal
    assert "20.0" in r.stdout  # ASA in seconds, one decimal


def test_format_from_the_environment(home: Path) -> None:
    r = run_cli("--home", str(home), "report", "queues", env={"OPKPI_REPORT_FORMAT": "json"})
    assert r.returncode == 0, r.stderr
    assert isinstance(json.loads(r.stdout), list)
