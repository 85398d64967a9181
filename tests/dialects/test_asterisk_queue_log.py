"""`--format asterisk-queue-log`: fixtures written to the public queue_log documentation
(docs/formats/asterisk-queue-log.md lists the sources), expected values computed by hand.

Epochs are UTC seconds; `enqueued_at` = answer (or exit) − Asterisk's holdtime (or waittime).
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.core.config import Config
from pipeline.core.home import Home
from pipeline.ingest import ingest_paths
from pipeline.ingest.dialects import DialectContext
from pipeline.ingest.dialects import asterisk_queue_log as aql
from pipeline.ingest.schema import ensure_schema
from tests.conftest import run_cli

FIX = Path(__file__).parent / "fixtures" / "asterisk"
DIALECT = "asterisk-queue-log"
TEAMS_CSV = "team_id,name,timezone\nt1,Support,UTC\n"
QUEUES_CSV = """queue_id,team_id,timezone,channel,sl_threshold_s
1501,t1,UTC,phone,20
1509,t1,UTC,phone,20
support,t1,UTC,phone,20
sales,t1,UTC,phone,20
"""


def ts(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


def parse_direct(data: bytes, config: Config | None = None, name: str = "queue_log") -> dict:
    """The dialect alone (no loader, no warehouse file): kind → ParsedFile."""
    con = duckdb.connect()
    ensure_schema(con)
    ctx = DialectContext(config or Config(), con, Path(name), name, {"stateless": True}, None)
    out = dict(aql.read(data, ctx))
    con.close()
    return out


def read_direct(name: str, config: Config | None = None) -> dict[str, pl.DataFrame]:
    """A fixture through the dialect alone: kind → parsed frame."""
    return {kind: parsed.frame for kind, parsed in parse_direct((FIX / name).read_bytes(), config, name).items()}


def rows(frame: pl.DataFrame, *cols: str) -> list[tuple]:
    return [tuple(r) for r in frame.select(cols).iter_rows()]


def ingest(home: Home, config: Config, *paths: Path) -> list:
    return ingest_paths(home, config, list(paths), dialect=DIALECT)


def dims(home: Home, config: Config, tmp: Path) -> None:
    (tmp / "teams.csv").write_text(TEAMS_CSV)
    (tmp / "queues.csv").write_text(QUEUES_CSV)
    ingest_paths(home, config, [tmp / "teams.csv", tmp / "queues.csv"])


def query(home: Home, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def figures(home: Home, config: Config) -> dict:
    from pipeline.jobs.run import run_pipeline
    from pipeline.metrics import report

    run_pipeline(home, config, min_age_s=0)
    return {"queues": {r["queue_id"]: r for r in report.queues(home, grain="all")},
            "scorecard": {r["operator_id"]: r for r in report.scorecard(home, grain="all")},
            "teams": {r["dimension_value"]: r for r in report.teams(home, grain="all")}}


# --- field counts of several Asterisk versions (the dialect alone) -------------------------------

CALL_COLS = ("call_id", "leg", "queue_id", "agent_id", "enqueued_at", "answered_at", "ended_at", "outcome",
             "end_reason", "transfer_to", "talk_s")


def test_asterisk_1_2_short_lines() -> None:
    """1.2: ENTERQUEUE url|callerid, CONNECT holdtime|bridged, TRANSFER extension|context (no times),
    EXITWITHTIMEOUT position, EXITWITHKEY key|position, AGENTLOGOFF channel|logintime."""
    out = read_direct("v1_2.queue_log")
    assert rows(out["calls"], *CALL_COLS) == [
        # CONNECT at …18 with holdtime 8 → enqueued …10 (= ENTERQUEUE); TRANSFER at …78 has no calltime:
        # talk = 78 − 18 = 60 s; transfer_to = the extension
        ("1100000009.1", "1", "sales", "Agent/1001", ts(1100000010), ts(1100000018), ts(1100000078), "answered",
         "transfer", "2001", "60"),
        # no waittime field in 1.2: wait from ENTERQUEUE (…100 → …160 = 60 s)
        ("1100000099.3", "1", "sales", None, ts(1100000100), None, ts(1100000160), "timeout", None, None, None),
        ("1100000199.4", "1", "sales", None, ts(1100000200), None, ts(1100000207), "key_exit", None, None, None),
    ]
    assert rows(out["calls"], "customer_phone") == [("4951230001",), ("4951230002",), ("4951230003",)]
    # AGENTLOGIN …000 → AGENTLOGOFF …300
    assert rows(out["agent_states"], "operator_id", "state", "started_at", "ended_at") == [
        ("Agent/1001", "logged_in", ts(1100000000), ts(1100000300))]
    assert rows(out["operators"], "operator_id", "display_name", "team_id", "tier", "timezone", "valid_from") == [
        ("Agent/1001", "Agent/1001", None, None, "UTC", "2004-11-09")]


def test_asterisk_1_4_transfer_times_and_logintime() -> None:
    """1.4: CONNECT gains ringtime, TRANSFER holdtime|calltime; PAUSE/UNPAUSE with no reason."""
    out = read_direct("v1_4.queue_log")
    assert rows(out["calls"], *CALL_COLS) == [
        # CONNECT …25 holdtime 15 → enqueued …10; TRANSFER calltime 120 → talk 120 s
        ("1200000009.1", "1", "support", "SIP/2001", ts(1200000010), ts(1200000025), ts(1200000145), "answered",
         "transfer", "3001", "120"),
        # ABANDON waittime 4 → enqueued …300, a short abandon (< 5 s)
        ("1200000299.3", "1", "support", None, ts(1200000300), None, ts(1200000304), "abandoned", None, None, None),
    ]
    assert sorted(rows(out["agent_states"], "operator_id", "state", "started_at", "ended_at", "queue_id")) == [
        # AGENTLOGOFF with no login in the log: [500 − 600, 500] from its logintime
        ("Agent/2002", "logged_in", ts(1199999900), ts(1200000500), None),
        ("SIP/2001", "logged_in", ts(1200000000), ts(1200000400), "support"),
        ("SIP/2001", "paused", ts(1200000150), ts(1200000210), "support"),
    ]


def test_asterisk_1_8_waittime_fields_local_members_and_wrap() -> None:
    """1.8/11: ENTERQUEUE position, TRANSFER with origposition, EXITWITHTIMEOUT/EXITWITHKEY with
    waittime, PAUSE with a reason; members are Local channels (normalised to PJSIP/…)."""
    config = Config.model_validate({"asterisk": {"wrap_pause_reasons": ["wrapup"]}})
    out = read_direct("v1_8.queue_log", config)
    assert rows(out["calls"], *CALL_COLS) == [
        ("1300000009.1", "1", "support", "PJSIP/3001", ts(1300000010), ts(1300000040), ts(1300000100), "answered",
         "transfer", "4001", "60"),
        # waittime 90 → enqueued 290 − 90 = 200; EXITWITHKEY waittime 12 → 312 − 12 = 300
        ("1300000199.3", "1", "support", None, ts(1300000200), None, ts(1300000290), "timeout", None, None, None),
        ("1300000299.4", "1", "support", None, ts(1300000300), None, ts(1300000312), "key_exit", None, None, None),
    ]
    assert sorted(rows(out["agent_states"], "operator_id", "state", "started_at", "ended_at", "reason")) == [
        ("PJSIP/3001", "logged_in", ts(1300000000), None, None),           # still a member: open
        ("PJSIP/3001", "wrap", ts(1300000400), ts(1300000430), "wrapup"),  # a configured wrap reason
    ]
    assert rows(out["operator_identities"], "source_system", "source_id", "operator_id") == [
        ("asterisk", "PJSIP/3001", "PJSIP/3001")]


def test_asterisk_12_plus_transfers_exitempty_and_pauseall() -> None:
    """12+: BLINDTRANSFER, ATTENDEDTRANSFER BRIDGE|id and LINK|chan|chan (6 data fields),
    RINGCANCELED, EXITEMPTY, PAUSEALL followed by per-queue PAUSE lines, two queues' memberships."""
    out = read_direct("v18.queue_log")
    assert rows(out["calls"], *CALL_COLS) == [
        ("1700000009.1", "1", "support", "PJSIP/4001", ts(1700000010), ts(1700000020), ts(1700000110), "answered",
         "transfer", "5002", "90"),
        # RINGCANCELED then ABANDON waittime 8: a long abandon (≥ 5 s)
        ("1700000199.3", "1", "billing", None, ts(1700000200), None, ts(1700000208), "abandoned", None, None, None),
        ("1700000299.4", "1", "billing", "PJSIP/4001", ts(1700000300), ts(1700000305), ts(1700000365), "answered",
         "transfer", None, "60"),
        # LINK writes two channels: holdtime 5, calltime 20 read from the end of the line
        ("1700000399.6", "1", "support", "PJSIP/4001", ts(1700000400), ts(1700000405), ts(1700000425), "answered",
         "transfer", None, "20"),
        ("1700000499.8", "1", "support", None, ts(1700000500), None, ts(1700000530), "empty", None, None, None),
    ]
    # Memberships in two queues are one logged-in interval; PAUSEALL + two PAUSE lines one pause.
    assert sorted(rows(out["agent_states"], "operator_id", "state", "started_at", "ended_at", "reason",
                       "queue_id")) == [
        ("PJSIP/4001", "logged_in", ts(1700000000), ts(1700001000), None, None),
        ("PJSIP/4001", "paused", ts(1700000600), ts(1700000900), "Lunch", None),
    ]


def test_table_export_padded_to_data5_reads_like_the_file() -> None:
    plain, padded = read_direct("acceptance.queue_log"), read_direct("acceptance_padded.queue_log")
    assert rows(padded["calls"], *CALL_COLS) == rows(plain["calls"], *CALL_COLS)


def test_restart_closes_open_calls_at_their_last_event() -> None:
    """QUEUESTART: Asterisk restarted, the calls in it are gone. A waiting caller is abandoned at its
    last event (wait 0: a short abandon), an answered one resolved with talk unknown."""
    data = b"""1000|1.1|q|NONE|ENTERQUEUE||4951230051|1
1010|2.2|q|NONE|ENTERQUEUE||4951230052|2
1015|2.2|q|PJSIP/1|CONNECT|5|2.3|2
2000|NONE|NONE|NONE|QUEUESTART|
"""
    calls = parse_direct(data)["calls"].frame
    assert rows(calls, "call_id", "enqueued_at", "answered_at", "ended_at", "outcome", "end_reason", "talk_s") == [
        ("1.1", ts(1000), None, ts(1000), "abandoned", None, None),
        ("2.2", ts(1010), ts(1015), ts(1015), "answered", "resolved", None),
    ]


def test_pause_reasons_split_intervals_and_logoff_ends_a_pause() -> None:
    """PAUSE without a reason then with one adopts it; a new reason starts a new interval; a
    configured wrap reason is `wrap`; REMOVEMEMBER of the last queue ends login and pause."""
    config = Config.model_validate({"asterisk": {"wrap_pause_reasons": ["acw"]}})
    data = b"""100|NONE|q|PJSIP/1|ADDMEMBER|
200|NONE|q|PJSIP/1|PAUSE|
200|NONE|q|PJSIP/1|PAUSE|acw
260|NONE|q|PJSIP/1|PAUSE|lunch
900|NONE|q|PJSIP/1|REMOVEMEMBER|
"""
    states = parse_direct(data, config)["agent_states"].frame
    assert sorted(rows(states, "state", "started_at", "ended_at", "reason")) == [
        ("logged_in", ts(100), ts(900), None),
        ("paused", ts(260), ts(900), "lunch"),
        ("wrap", ts(200), ts(260), "acw"),
    ]


def test_vendor_events_warn_and_binary_lines_are_quarantined() -> None:
    """`unknown_event` (warn): each vendor event name is reported once; `binary_line` (quarantine)."""
    from pipeline.ingest.rules import RULES

    assert RULES["unknown_event"].action == "warn" and RULES["binary_line"].action == "quarantine"
    data = (FIX / "malformed.queue_log").read_bytes()
    after = {p.line: p.rule_id for p in parse_direct(data)["calls"].problems}
    assert after[9] == "unknown_event" and after[6] == "binary_line"


# --- the real sequence: figures through the whole pipeline ---------------------------------------

@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, dict, list]:
    tmp = tmp_path_factory.mktemp("asterisk_real")
    home, config = Home(tmp / "home"), Config()
    dims(home, config, tmp)
    results = ingest(home, config, FIX / "acceptance.queue_log")
    return home, figures(home, config), results


def test_real_sequence_rows(real: tuple[Home, dict, list]) -> None:
    home, _, results = real
    assert {r.kind: r.status for r in results} == {"operators": "loaded", "operator_identities": "loaded",
                                                   "calls": "loaded"}
    assert query(home, """SELECT call_id, leg, queue_id, agent_id, epoch(enqueued_at)::BIGINT,
        epoch(answered_at)::BIGINT, epoch(ended_at)::BIGINT, outcome, end_reason, talk_s, customer_key IS NOT NULL
        FROM raw_calls ORDER BY leg""") == [
        # 1501: CONNECT 271 − holdtime 12 = 259 (the ENTERQUEUE); the ATTENDEDTRANSFER logged under the
        # consultation id …830 closes 7009's segment: ended 391, talk = calltime 120
        ("1717397243.239826", 1, "1501", "PJSIP/7009", 1717397259, 1717397271, 1717397391, "answered", "transfer",
         120.0, True),
        # 1509 has no ENTERQUEUE: the CONNECT opens the stint at 397 − 7 = 390; COMPLETEAGENT talk 173;
        # every leg carries the caller's number from the first ENTERQUEUE
        ("1717397243.239826", 2, "1509", "PJSIP/7051", 1717397390, 1717397397, 1717397570, "answered", "resolved",
         173.0, True),
    ]
    # auto-registered with the queues' team
    assert query(home, "SELECT operator_id, team_id, tier, valid_from::VARCHAR FROM raw_operators ORDER BY 1") == [
        ("PJSIP/7009", "t1", None, "2024-06-03"), ("PJSIP/7051", "t1", None, "2024-06-03")]


def test_real_sequence_queue_figures(real: tuple[Home, dict, list]) -> None:
    q = real[1]["queues"]
    # 1501: offered 1, answered 1, SL 1/1 (12 ≤ 20), ASA 12 s; 1509: 1, 1, 1/1 (7 ≤ 20), ASA 7 s
    assert {k: (v["offered"], v["answered"], v["abandoned"], v["service_level"], v["asa_s"])
            for k, v in q.items() if k in ("1501", "1509")} == {"1501": (1, 1, 0, 1.0, 12.0), "1509": (1, 1, 0, 1.0, 7.0)}


def test_real_sequence_agent_and_team_figures(real: tuple[Home, dict, list]) -> None:
    s = real[1]["scorecard"]
    # 7009: 1 answered, talk 120 s, transfer rate 1/1; 7051: 1 answered, talk 173 s, no transfer
    assert (s["PJSIP/7009"]["calls_answered"], s["PJSIP/7009"]["talk_s"], s["PJSIP/7009"]["transfer_rate"]) == (
        1, 120.0, 1.0)
    assert (s["PJSIP/7051"]["calls_answered"], s["PJSIP/7051"]["talk_s"], s["PJSIP/7051"]["transfer_rate"]) == (
        1, 173.0, 0.0)
    # the team: one customer call through two queues is offered once and handled once
    t = real[1]["teams"]["t1"]
    assert (t["offered"], t["contacts_handled"]) == (1, 1)


# --- malformed lines ------------------------------------------------------------------------------

def test_malformed_lines_are_quarantined_with_line_numbers(tmp_path: Path) -> None:
    home, config = Home(tmp_path / "home"), Config()
    results = {r.kind: r for r in ingest(home, config, FIX / "malformed.queue_log")}
    calls = results["calls"]
    assert calls.status == "partial"
    assert query(home, "SELECT line, \"column\", rule_id FROM quarantine ORDER BY line") == [
        (2, None, "field_count"),          # `;`-separated
        (3, 1, "type_mismatch"),           # epoch 17175OOO10
        (5, 4, "field_count"),             # cut after the queue
        (6, None, query_rule_binary()),    # NUL and invalid UTF-8 bytes
        (7, 6, "type_mismatch"),           # holdtime `abc`
        (11, 8, "negative_duration"),      # waittime −3
    ]
    # The rest loads: call …999.1 (CONNECT line 4, COMPLETECALLER line 8, talk 60) and …079.4
    # (the ABANDON of line 12: waittime 10 → enqueued 080).
    assert query(home, """SELECT call_id, outcome, talk_s, epoch(enqueued_at)::BIGINT FROM raw_calls
        ORDER BY call_id""") == [("1717499999.1", "answered", 60.0, 1717500000),
                                 ("1717500079.4", "abandoned", None, 1717500080)]
    assert calls.read == calls.inserted + calls.updated + calls.duplicate + calls.quarantined + calls.deferred


def query_rule_binary() -> str:
    from pipeline.ingest.rules import RULES

    return "binary_line" if "binary_line" in RULES else "type_mismatch"


def test_a_binary_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_bytes(b"\x00\x01PK\x03\x04" + bytes(range(256)) * 4)
    home = Home(tmp_path / "home")
    (result,) = ingest(home, Config(), path)
    assert result.status == "rejected" and result.problems[0].rule_id == "binary_file"


# --- a live log: two appends with a call open at the cut, then a logrotate ---------------------------

# tail_gen1 + tail_gen2, whole: support stints (wait): …009.1 answered (10), …029.3 abandoned (3: short),
# …049.4 abandoned (45), …109.5 answered (15), …140.10 leg 1 answered (5, then transferred by 7003 under
# the consultation id …150.12), …229.7 answered (20); sales: …140.10 leg 2 — the consultation's stint
# (ENTERQUEUE 150) merged into the customer's call — answered by 7051 (16).
# support: offered 6, answered 4, abandoned 2, short 1, SL = 4 (all ≤ 20) / (6 − 1) = 0.8,
# ASA = (10 + 15 + 5 + 20) / 4 = 12.5, abandon rate = (2 − 1) / (6 − 1) = 0.2. sales: 1, 1, SL 1.0, ASA 16.
# Agents: 7001 answered 1 (talk 50), 7002 answered 2 (80 + 115 = 195), 7003 1 (14, transferred),
# 7051 1 (124). 7001 paused 40 → 200 (lunch) within logged-in 1 → 400.
TABLES = {
    "raw_calls": "call_id, leg, queue_id, agent_id, customer_key IS NOT NULL, enqueued_at, answered_at, ended_at, outcome, "
                 "end_reason, transfer_to, talk_s",
    "raw_agent_states": "operator_id, state, started_at, ended_at, reason, queue_id",
    "raw_operators": "operator_id, display_name, team_id, tier, timezone, valid_from",
    "raw_operator_identities": "source_system, source_id, operator_id, valid_from",
}


def content(home: Home) -> dict[str, list[tuple]]:
    return {t: query(home, f"SELECT {cols} FROM {t} ORDER BY ALL") for t, cols in TABLES.items()}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Steps: (1) lines 1–10 and the start of line 11 (no newline); (2) lines 1–18: call …109.5
    connected, the consultation …150.12 waiting in `sales`, 7001 paused; (3) gen1 rotated to
    queue_log.1.gz with lines 19–22 written before the rotation, the new queue_log = gen2.
    After each step a fresh home loads the whole log as it is at once."""
    tmp = tmp_path_factory.mktemp("asterisk_live")
    config = Config()
    gen1, gen2 = (FIX / "tail_gen1.queue_log").read_bytes(), (FIX / "tail_gen2.queue_log").read_bytes()
    lines = gen1.splitlines(keepends=True)
    steps = [b"".join(lines[:10]) + lines[10][:20], b"".join(lines[:18]), None]
    whole = [steps[0], steps[1], gen1 + gen2]
    live_dir = tmp / "asterisk"
    live_dir.mkdir()
    log = live_dir / "queue_log"
    inc = Home(tmp / "incremental")
    dims(inc, config, tmp)
    out: dict = {"steps": []}
    for i, data in enumerate(steps):
        if data is None:
            log.rename(live_dir / "queue_log.1")
            (live_dir / "queue_log.1.gz").write_bytes(gzip.compress(gen1))
            (live_dir / "queue_log.1").unlink()
            log.write_bytes(gen2)
        else:
            log.write_bytes(data)
        results = ingest(inc, config, log)
        at_once = Home(tmp / f"whole{i}")
        dims(at_once, config, tmp)
        (tmp / f"w{i}").mkdir()
        (tmp / f"w{i}" / "queue_log").write_bytes(whole[i])
        ingest(at_once, config, tmp / f"w{i}" / "queue_log")
        out["steps"].append({"results": results, "inc": content(inc), "whole": content(at_once), "home": at_once})
    out["inc"], out["config"] = inc, config
    return out


@pytest.mark.parametrize("step", [0, 1, 2])
def test_each_step_loads_what_the_whole_log_loads(live: dict, step: int) -> None:
    s = live["steps"][step]
    for table in TABLES:
        assert s["inc"][table] == s["whole"][table], table


def test_the_unfinished_last_line_is_deferred_and_open_calls_are_in_progress(live: dict) -> None:
    first = {r.kind: r for r in live["steps"][0]["results"]}
    assert first["calls"].deferred == 1
    step2 = live["steps"][1]["inc"]["raw_calls"]
    by_key = {(r[0], r[1]): r for r in step2}
    # …109.5 connected at 125 (holdtime 15), still talking at the cut: in progress, not abandoned
    assert by_key[("1717400109.5", 1)][8:10] == ("in_progress", "open")
    # the consultation waits in `sales` under its own id until the transfer (after the cut) merges it
    assert by_key[("1717400150.12", 1)][8] == "in_progress"
    final = {(r[0], r[1]): r for r in live["steps"][2]["inc"]["raw_calls"]}
    assert ("1717400150.12", 1) not in final  # merged into …140.10 leg 2, the in_progress row removed
    assert final[("1717400140.10", 2)][2:4] == ("sales", "PJSIP/7051")
    assert all(r[8] != "in_progress" for r in final.values())


def test_rotation_consumed_the_rest_of_the_old_file(live: dict) -> None:
    final = {(r[0], r[1]): r for r in live["steps"][2]["inc"]["raw_calls"]}
    # ENTERQUEUE of …229.7 is line 22 of the rotated file: its number is kept
    assert final[("1717400229.7", 1)][4] is not None
    assert final[("1717400229.7", 1)][11] == 50.0


def test_live_figures_equal_the_whole_log_figures(live: dict) -> None:
    config = live["config"]
    inc, at_once = figures(live["inc"], config), figures(live["steps"][2]["home"], config)
    assert inc == at_once
    support, sales = inc["queues"]["support"], inc["queues"]["sales"]
    assert (support["offered"], support["answered"], support["abandoned"], support["short_abandoned"]) == (6, 4, 2, 1)
    assert (support["service_level"], support["asa_s"], support["abandon_rate"]) == (0.8, 12.5, 0.2)
    assert (sales["offered"], sales["answered"], sales["service_level"], sales["asa_s"]) == (1, 1, 1.0, 16.0)
    s = inc["scorecard"]
    assert {op: (s[op]["calls_answered"], s[op]["talk_s"]) for op in s} == {
        "PJSIP/7001": (1, 50.0), "PJSIP/7002": (2, 195.0), "PJSIP/7003": (1, 14.0), "PJSIP/7051": (1, 124.0)}
    assert s["PJSIP/7003"]["transfer_rate"] == 1.0


def test_a_rebuild_replays_the_rotated_rest(live: dict) -> None:
    """The rest of queue_log.1.gz is in no archived version of queue_log: it is archived on its own."""
    inc: Home = live["inc"]
    before = content(inc)
    shutil.rmtree(inc.warehouse_dir)
    from pipeline.ingest import writer
    from pipeline.warehouse import rebuild_from_archive

    with writer(inc, what="a rebuild") as con:
        rebuild_from_archive(inc, live["config"], con)
    assert content(inc) == before


def test_an_interrupted_load_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows of a read are committed after it; when that fails, the next read starts from the
    last committed offset, so nothing is lost."""
    from pipeline.ingest import loader

    config = Config()
    gen1 = (FIX / "tail_gen1.queue_log").read_bytes()
    lines = gen1.splitlines(keepends=True)
    log = tmp_path / "queue_log"
    home = Home(tmp_path / "home")
    log.write_bytes(b"".join(lines[:12]))
    ingest(home, config, log)
    log.write_bytes(b"".join(lines[:16]))
    real_commit = loader._commit_chunks

    def dying(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(loader, "_commit_chunks", dying)
    with pytest.raises(RuntimeError):
        ingest(home, config, log)
    monkeypatch.setattr(loader, "_commit_chunks", real_commit)
    log.write_bytes(gen1)
    ingest(home, config, log)
    at_once = Home(tmp_path / "at_once")
    ingest(at_once, config, FIX / "tail_gen1.queue_log")
    assert content(home) == content(at_once)


def test_an_agent_first_seen_without_a_queue_gets_its_team_later(tmp_path: Path) -> None:
    """Agent/1001 logs in (queue NONE) before the cut and takes a `sales` call after it: its
    operator row gets sales' team, as when the whole log is loaded at once."""
    config = Config()
    lines = (FIX / "v1_2.queue_log").read_bytes().splitlines(keepends=True)
    log = tmp_path / "queue_log"
    inc, at_once = Home(tmp_path / "inc"), Home(tmp_path / "at_once")
    for home in (inc, at_once):
        dims(home, config, tmp_path)
    log.write_bytes(lines[0])
    ingest(inc, config, log)
    assert query(inc, "SELECT operator_id, team_id FROM raw_operators") == [("Agent/1001", None)]
    log.write_bytes(b"".join(lines))
    ingest(inc, config, log)
    ingest(at_once, config, FIX / "v1_2.queue_log")
    assert content(inc) == content(at_once)
    assert query(inc, "SELECT operator_id, team_id FROM raw_operators") == [("Agent/1001", "t1")]


# --- the command line ----------------------------------------------------------------------------

def test_cli_ingests_a_queue_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = run_cli("--home", str(home), "ingest", "--format", DIALECT, str(FIX / "malformed.queue_log"))
    assert r.returncode == 0, r.stderr
    assert "partial as calls" in r.stderr and "quarantined 6" in r.stderr
    assert "loaded as operators" in r.stderr


def test_only_a_queue_log_then_the_cli_reports(tmp_path: Path) -> None:
    """Issue 4, point 2: nothing but the queue_log is ingested; the reports come from the real CLI."""
    import json

    home = str(tmp_path / "home")
    r = run_cli("--home", home, "ingest", "--format", DIALECT, str(FIX / "acceptance.queue_log"))
    assert r.returncode == 0, r.stderr
    assert run_cli("--home", home, "run", "--min-age", "0").returncode == 0
    cards = {c["operator_id"]: c for c in json.loads(
        run_cli("--home", home, "report", "scorecard", "--grain", "all", "--format", "json").stdout)}
    queues = {q["queue_id"]: q for q in json.loads(
        run_cli("--home", home, "report", "queues", "--grain", "all", "--format", "json").stdout)}
    # PJSIP/7009: CONNECT 1717397271 → ATTENDEDTRANSFER 1717397391 = 120 s talk, 1 transfer of 1 segment
    assert (cards["PJSIP/7009"]["calls_answered"], cards["PJSIP/7009"]["talk_s"]) == (1, 120.0)
    assert cards["PJSIP/7009"]["transfer_rate"] == 1.0
    # PJSIP/7051: COMPLETEAGENT calltime 173 s
    assert (cards["PJSIP/7051"]["calls_answered"], cards["PJSIP/7051"]["talk_s"]) == (1, 173.0)
    # 1501: ENTERQUEUE, CONNECT after 12 s (≤ 20 s) → SL 1/1, ASA 12; 1509: CONNECT holdtime 7 s → SL 1/1, ASA 7
    got = {q: (queues[q]["offered"], queues[q]["answered"], queues[q]["abandoned"], queues[q]["service_level"],
               queues[q]["asa_s"]) for q in ("1501", "1509")}
    assert got == {"1501": (1, 1, 0, 1.0, 12.0), "1509": (1, 1, 0, 1.0, 7.0)}
