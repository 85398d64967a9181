"""`--format asterisk-cdr`: cdr_csv Master.csv (16-21 columns) and cdr_custom files → calls.

Fixtures in fixtures/cdr/ are written to the documented layouts (cdr/cdr_csv.c build_csv_record():
16 base columns, then uniqueid, userfield, then peeraccount, linkedid, sequence); the expected
values below are computed by hand in the comments. docs/formats/asterisk-cdr.md has the rules.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.core.config import Config
from pipeline.core.errors import ConfigError, FileRejected
from pipeline.core.home import Home
from pipeline.ingest import ingest_paths
from pipeline.ingest.dialects import DialectContext
from pipeline.ingest.dialects import asterisk_cdr as cdr
from pipeline.ingest.rules import RULES
from pipeline.ingest.schema import ensure_schema
from tests.conftest import run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "cdr"
KYIV = Config.model_validate({"asterisk": {"timezone": "Europe/Kyiv"}})


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rows(home: Home, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def calls(home: Home) -> dict[int, tuple]:
    """raw_calls by source line: (call_id, leg, agent_id, enqueued_at, answered_at, ended_at, outcome, talk_s)."""
    return {r[0]: r[1:] for r in rows(home, """SELECT _line, call_id, leg, agent_id, enqueued_at, answered_at,
        ended_at, outcome, talk_s FROM raw_calls ORDER BY _line""")}


def read_direct(text: str, config: Config | None = None, con=None, label: str = "Master.csv"):
    """The dialect alone (no warehouse, no GE): (calls ParsedFile, operators ParsedFile | None)."""
    ctx = DialectContext(config=config or Config(), con=con, path=Path(label), label=label)
    out = dict(cdr.read(text.encode("utf-8"), ctx))
    return out["calls"], out.get("operators")


def cdr16(src: str, dcontext: str, channel: str, dstchannel: str, lastapp: str, start: str, answer: str,
          end: str, billsec: int, disposition: str) -> str:
    """One cdr_csv line of the 16 base columns (quoted as Asterisk writes them)."""
    dur = billsec + 5
    return (f'"","{src}","7009","{dcontext}","""C"" <{src}>","{channel}","{dstchannel}","{lastapp}","",'
            f'"{start}",{f"{chr(34)}{answer}{chr(34)}" if answer else ""},"{end}",{dur},{billsec},"{disposition}",'
            '"DOCUMENTATION"')


# --- 21 columns (loguniqueid + loguserfield + newcdrcolumns), Europe/Kyiv (UTC+3 in June) ----------

@pytest.fixture(scope="module")
def loaded21(tmp_path_factory) -> tuple[Home, list]:
    home = Home(tmp_path_factory.mktemp("cdr21") / "home")
    results = ingest_paths(home, KYIV, [FIXTURES / "master21.csv"], dialect="asterisk-cdr")
    return home, results


def test_master21_loads_inbound_direct_legs_only(loaded21):
    home, results = loaded21
    by_kind = {r.kind: r for r in results}
    # 11 lines: 3 inbound direct legs load (1, 2, 8); lines 7 and 10 are malformed; the rest are
    # skipped: 3-4 one queue call (line 4 has lastapp Queue, line 3 rang 7009 before the queue,
    # same linkedid), 5 outbound (outrt-1), 6 internal (from-internal), 9 the Local ;2 half of
    # line 8, 11 an IVR announcement with no dstchannel.
    c = by_kind["calls"]
    assert (c.status, c.read, c.inserted, c.quarantined, c.deferred) == ("partial", 5, 3, 2, 0)
    got = calls(home)
    assert sorted(got) == [1, 2, 8]
    # line 1: linkedid 1717397259.100, sequence 5 → leg 1000 + 5; dstchannel PJSIP/7009-0000001a →
    # PJSIP/7009; 09:47:39/09:47:45/09:49:45 Kyiv (+03:00) → 06:47:39/06:47:45/06:49:45 UTC; billsec 120.
    assert got[1] == ("1717397259.100", 1005, "PJSIP/7009", ts("2024-06-03T06:47:39"), ts("2024-06-03T06:47:45"),
                      ts("2024-06-03T06:49:45"), "answered", 120.0)
    # line 2: NO ANSWER at 7010 → abandoned, no agent, no talk, no answer time; 10:00:15 → 07:00:15 UTC.
    assert got[2] == ("1717398000.101", 1006, None, ts("2024-06-03T07:00:00"), None, ts("2024-06-03T07:00:15"),
                      "abandoned", None)
    # line 8: ring group through Local/7011@from-internal-0000002b;1 → Local/7011@from-internal →
    # asterisk.agent_normalize `^Local/(\d+)@.*$` → PJSIP/7011; 11:00:05 → 08:00:05 UTC; billsec 45.
    assert got[8] == ("1717401600.106", 1011, "PJSIP/7011", ts("2024-06-03T08:00:00"), ts("2024-06-03T08:00:05"),
                      ts("2024-06-03T08:00:50"), "answered", 45.0)
    assert {r[0] for r in rows(home, "SELECT DISTINCT direction FROM raw_calls")} == {"inbound"}
    assert {r[0] for r in rows(home, "SELECT DISTINCT source_system FROM raw_calls")} == {"asterisk"}
    # the caller's number is pseudonymised: a key, never the number
    assert rows(home, "SELECT count(*) FROM raw_calls WHERE customer_key IS NULL") == [(0,)]


def test_master21_quarantines_malformed_lines_with_their_line_number(loaded21):
    home, _ = loaded21
    q = rows(home, 'SELECT line, "column", rule_id, location FROM quarantine ORDER BY line')
    # line 7 has 4 fields: the 5th is the first missing one; line 10's billsec (field 14) is "abc".
    assert q == [(7, 5, "field_count", "master21.csv:7:5"), (10, 14, "type_mismatch", "master21.csv:10:14")]
    # the row shown for review hides the caller's name and number
    (raw,) = rows(home, "SELECT raw_masked FROM quarantine WHERE line = 10")[0]
    assert "Client Six" not in raw and "79000000006" not in raw and '"abc"' not in raw and ",abc," in raw


def test_master21_auto_registers_answering_agents(loaded21):
    home, results = loaded21
    ops = rows(home, "SELECT operator_id, display_name, team_id, tier, timezone, valid_from FROM raw_operators "
                     "ORDER BY operator_id")
    # PJSIP/7010 only rang (NO ANSWER): not an answering agent, not registered. Valid from the local
    # date of the first answer: 2024-06-03 09:47:45 and 11:00:05 Kyiv.
    june3 = datetime(2024, 6, 3).date()
    assert ops == [("PJSIP/7009", "PJSIP/7009", None, None, "Europe/Kyiv", june3),
                   ("PJSIP/7011", "PJSIP/7011", None, None, "Europe/Kyiv", june3)]
    assert rows(home, "SELECT source_system, source_id, operator_id, valid_from FROM raw_operator_identities "
                      "ORDER BY source_id") == [("asterisk", "PJSIP/7009", "PJSIP/7009", june3),
                                                ("asterisk", "PJSIP/7011", "PJSIP/7011", june3)]
    assert any(r.kind == "operators" and r.inserted == 2 for r in results)


def test_master21_figures(loaded21):
    """Through the SQL models: PJSIP/7009 answered 1 call with 120 s talk, PJSIP/7011 1 with 45 s;
    no queue figures come from CDR (queue_log owns queues)."""
    from pipeline.jobs.run import run_pipeline
    from pipeline.metrics.report import queues, scorecard

    home, _ = loaded21
    run_pipeline(home, KYIV, min_age_s=0)
    card = {r["operator_id"]: r for r in scorecard(home, grain="all")}
    assert (card["PJSIP/7009"]["calls_answered"], card["PJSIP/7009"]["talk_s"]) == (1, 120.0)
    assert (card["PJSIP/7011"]["calls_answered"], card["PJSIP/7011"]["talk_s"]) == (1, 45.0)
    assert set(card) == {"PJSIP/7009", "PJSIP/7011"}
    assert queues(home, grain="all") == []


# --- other layouts ---------------------------------------------------------------------------------

def test_master16_without_uniqueid_groups_rows_by_channel(tmp_path):
    home = Home(tmp_path / "home")
    (c,) = [r for r in ingest_paths(home, Config(), [FIXTURES / "master16.csv"], dialect="asterisk-cdr")
            if r.kind == "calls"]
    assert (c.read, c.inserted, c.quarantined) == (4, 4, 0)
    got = calls(home)
    # lines 1-2: one ring group call on PJSIP/trunk-00000030 (08:00:00-08:03:10): same synthetic id.
    # No sequence: leg = start 2024-06-04 08:00:00 UTC = epoch 1717488000, × 10^6, + a content hash
    # below 10^6, so the two dial attempts differ and keep their keys on every read.
    assert got[1][0] == got[2][0] and got[1][0].startswith("cdr-")
    assert got[1][1] // 10**6 == got[2][1] // 10**6 == 1717488000 and got[1][1] != got[2][1]
    assert (got[1][2], got[1][6:]) == ("PJSIP/7009", ("answered", 180.0))
    assert (got[2][2], got[2][6:]) == (None, ("abandoned", None))
    # line 3: another channel; line 4: the same channel name at 15:00, after the first call ended
    # (08:03:10): a new call. usegmtime: asterisk.timezone UTC, so times are as written.
    assert len({got[1][0], got[3][0], got[4][0]}) == 3
    assert got[4][4] == ts("2024-06-04T15:00:05") and got[4][7] == 30.0
    assert [p.rule_id for p in c.problems if p.rule_id == "cdr_no_uniqueid"] == ["cdr_no_uniqueid"]


def test_master17_uniqueid_is_the_call_id(tmp_path):
    home = Home(tmp_path / "home")
    ingest_paths(home, Config(), [FIXTURES / "master17.csv"], dialect="asterisk-cdr")
    # line 1: uniqueid 1717488000.200 (17th field, shaped <epoch>.<n>); no sequence → leg from the
    # start, 08:00:00 UTC = 1717488000. Line 2 is an internal call (from-internal): skipped.
    got = calls(home)
    assert list(got) == [1] and got[1][1] // 10**6 == 1717488000
    assert got[1][:1] + got[1][2:] == ("1717488000.200", "PJSIP/7009", ts("2024-06-04T08:00:00"),
                                       ts("2024-06-04T08:00:06"), ts("2024-06-04T08:00:36"), "answered", 30.0)


def test_master18_dst_gap_quarantined_and_overlap_takes_earlier_offset(tmp_path):
    home = Home(tmp_path / "home")
    ingest_paths(home, KYIV, [FIXTURES / "master18.csv"], dialect="asterisk-cdr")
    got = calls(home)
    # line 1: 2024-03-31 03:30 does not exist in Kyiv (03:00 → 04:00): start (10) and answer (11).
    assert rows(home, 'SELECT line, "column", rule_id FROM quarantine ORDER BY "column"') == [
        (1, 10, "nonexistent_local_time"), (1, 11, "nonexistent_local_time")]
    # line 2: 2024-10-27 03:30 happens twice (04:00 EEST → 03:00 EET): the earlier, +03:00 →
    # 00:30:00 UTC; answer 00:30:10, end 00:32:10; three warnings, the row loads.
    assert got[2][3:] == (ts("2024-10-27T00:30:00"), ts("2024-10-27T00:30:10"), ts("2024-10-27T00:32:10"),
                          "answered", 120.0)
    assert rows(home, """SELECT line, "column", rule_id FROM load_warnings WHERE rule_id = 'ambiguous_local_time'
        ORDER BY "column" """) == [(2, 10, "ambiguous_local_time"), (2, 11, "ambiguous_local_time"),
                                   (2, 12, "ambiguous_local_time")]
    # line 3: 2024-06-05 12:00:04 EEST → 09:00:04 UTC; uniqueid then userfield "vip".
    assert (got[3][0], got[3][1] // 10**6, got[3][2]) == ("1717578000.302", 1717578000, "PJSIP/7010")
    assert got[3][4] == ts("2024-06-05T09:00:04")


def test_layout_change_mid_file_loads_both_halves(tmp_path):
    home = Home(tmp_path / "home")
    ingest_paths(home, Config(), [FIXTURES / "mixed.csv"], dialect="asterisk-cdr")
    got = calls(home)
    # lines 1-2: 18 columns (uniqueid, userfield), no sequence → legs from the start (08:00 and 08:10
    # UTC on 2024-06-06 = 1717660800, 1717661400); lines 3-4: 21 columns after `newcdrcolumns=yes`
    # and a restart (sequence 0 and 1) → legs 1000 and 1001; call_id = linkedid.
    assert [(ln, g[0], g[1] // 10**6 if g[1] > 10**6 else g[1], g[7]) for ln, g in sorted(got.items())] == [
        (1, "1717660800.500", 1717660800, 10.0), (2, "1717661400.501", 1717661400, 20.0),
        (3, "1717664400.1", 1000, 30.0), (4, "1717665000.3", 1001, 40.0)]


def test_cdr_custom_order_from_config(tmp_path):
    # configs/basic-pbx/cdr_custom.conf: clid first, accountcode 16th, then uniqueid, userfield, sequence.
    config = Config.model_validate({"asterisk": {"cdr_layout": "custom", "cdr_custom_columns": [
        "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start", "answer",
        "end", "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield",
        "sequence"]}})
    home = Home(tmp_path / "home")
    ingest_paths(home, config, [FIXTURES / "custom.csv"], dialect="asterisk-cdr")
    # line 1: uniqueid 1717668000.400, sequence 42 → leg 1042; PJSIP/7012 answered, billsec 75.
    assert calls(home) == {1: ("1717668000.400", 1042, "PJSIP/7012", ts("2024-06-06T10:00:00"),
                               ts("2024-06-06T10:00:05"), ts("2024-06-06T10:01:20"), "answered", 75.0)}
    # line 2 lacks the sequence: 18 fields of 19 → the 19th is missing.
    assert rows(home, 'SELECT line, "column", rule_id FROM quarantine') == [(2, 19, "field_count")]


def test_growing_file_is_read_on_from_the_consumed_prefix(tmp_path):
    lines = (FIXTURES / "master21.csv").read_text(encoding="utf-8").splitlines()
    master = tmp_path / "Master.csv"
    home = Home(tmp_path / "home")

    def load(text: str, **kw):
        master.write_text(text, encoding="utf-8")
        return next(r for r in ingest_paths(home, KYIV, [master], dialect="asterisk-cdr", **kw) if r.kind == "calls")

    # 1: line 1 whole, line 2 (fixture line 8) still being written → held back.
    first = load(lines[0] + "\n" + lines[7])
    assert (first.read, first.inserted, first.deferred) == (2, 1, 1)
    # 2: line 2 completed, line 3 (fixture line 2) appended: only the bytes after line 1 are read.
    second = load(lines[0] + "\n" + lines[7] + "\n" + lines[1] + "\n")
    assert (second.read, second.inserted, second.duplicate, second.deferred) == (2, 2, 0, 0)
    assert sorted(calls(home)) == [1, 2, 3]   # physical line numbers of the whole file
    # --force reads the same bytes whole again: every row a duplicate, nothing lost or doubled.
    forced = load(lines[0] + "\n" + lines[7] + "\n" + lines[1] + "\n", force=True)
    assert (forced.read, forced.inserted, forced.duplicate) == (3, 0, 3)
    # 3: a rotated, new Master.csv (it no longer starts with what was read): read from its start.
    third = load(lines[9].replace("abc", "61") + "\n")
    assert (third.read, third.inserted) == (1, 1)
    assert rows(home, "SELECT count(*) FROM raw_calls") == [(4,)]
    assert [r[0] for r in rows(home, "SELECT operator_id FROM raw_operators ORDER BY 1")] == ["PJSIP/7009",
                                                                                             "PJSIP/7011"]


def test_cli_ingest_master_csv(tmp_path):
    home = tmp_path / "H"
    home.mkdir()
    (home / "opkpi.toml").write_text('[asterisk]\ntimezone = "Europe/Kyiv"\n', encoding="utf-8")
    master = tmp_path / "Master.csv"
    shutil.copy(FIXTURES / "master21.csv", master)
    proc = run_cli("--home", str(home), "ingest", "--format", "asterisk-cdr", str(master))
    assert proc.returncode == 0, proc.stderr
    assert "Master.csv: partial as calls: read 5, inserted 3, updated 0, duplicate 0, quarantined 2" in proc.stderr
    assert proc.stdout == ""
    assert sorted(calls(Home(home))) == [1, 2, 8]


# --- the dialect alone (fast: no warehouse) ----------------------------------------------------------

@pytest.mark.parametrize(("channel", "agent"), [
    ("PJSIP/7009-0000001a", "PJSIP/7009"),
    ("SIP/sales-desk-0000000a", "SIP/sales-desk"),
    ("DAHDI/1-1", "DAHDI/1"),
    ("Local/7011@from-internal-0000002b;1", "PJSIP/7011"),
    ("", None),
])
def test_agent_from_channel(channel, agent):
    assert cdr.agent_from_channel(channel, Config().asterisk.agent_normalize) == agent


def test_customer_number_from_src_then_clid():
    frame = pl.DataFrame({"src": ["+79000000001", None, None], "clid": ['"X" <+79000000009>',
                                                                      '"Client" <+79000000009>', "anonymous"]})
    got = frame.select(cdr.customer_number(pl.col("src"), pl.col("clid"))).to_series().to_list()
    assert got == ["+79000000001", "+79000000009", None]


def test_17_fields_with_a_userfield_are_not_a_uniqueid():
    line = cdr16("+79000000001", "from-trunk", "PJSIP/trunk-1", "PJSIP/7009-2", "Dial", "2024-06-04 08:00:00",
                 "2024-06-04 08:00:05", "2024-06-04 08:01:05", 60, "ANSWERED")
    parsed, _ = read_direct(line + ',"vip"\n')
    assert parsed.frame["call_id"][0].startswith("cdr-")   # "vip" is free text: no uniqueid
    parsed, _ = read_direct(line + ',"1717488000.7"\n')
    assert parsed.frame["call_id"].to_list() == ["1717488000.7"]


def test_direction_from_configured_context_globs():
    line = cdr16("+79000000001", "ext-local", "PJSIP/trunk-1", "PJSIP/7009-2", "Dial", "2024-06-04 08:00:00",
                 "2024-06-04 08:00:05", "2024-06-04 08:01:05", 60, "ANSWERED") + "\n"
    parsed, _ = read_direct(line)
    assert parsed.frame.height == 0   # ext-local is in no default list: skipped, not guessed
    config = Config.model_validate({"asterisk": {"inbound_contexts": ["ext-*"]}})
    parsed, _ = read_direct(line, config)
    assert parsed.frame["direction"].to_list() == ["inbound"]


def test_skip_and_no_uniqueid_warnings():
    assert RULES["cdr_rows_skipped"].action == RULES["cdr_no_uniqueid"].action == "warn"
    text = "\n".join([
        cdr16("+79000000001", "from-trunk", "PJSIP/trunk-1", "PJSIP/7009-2", "Dial", "2024-06-04 08:00:00",
              "2024-06-04 08:00:05", "2024-06-04 08:01:05", 60, "ANSWERED"),
        cdr16("7009", "outrt-2", "PJSIP/7009-3", "PJSIP/trunk-4", "Dial", "2024-06-04 09:00:00",
              "2024-06-04 09:00:05", "2024-06-04 09:01:05", 60, "ANSWERED"),
        cdr16("+79000000002", "weird-ctx", "PJSIP/trunk-5", "PJSIP/7009-6", "Dial", "2024-06-04 10:00:00",
              "2024-06-04 10:00:05", "2024-06-04 10:01:05", 60, "ANSWERED"),
    ]) + "\n"
    parsed, _ = read_direct(text)
    msgs = {p.rule_id + ":" + p.message.split(" skipped:")[-1].split(" (")[0] for p in parsed.problems}
    assert "cdr_rows_skipped: outbound legs" in msgs
    assert "cdr_rows_skipped: rows whose dcontext is in no configured context list" in msgs
    assert any(p.rule_id == "cdr_no_uniqueid" and p.line is None for p in parsed.problems)
    assert any("weird-ctx: 1" in p.message for p in parsed.problems)


def test_unclosed_quote_spoils_only_its_line():
    good = cdr16("+79000000001", "from-trunk", "PJSIP/trunk-1", "PJSIP/7009-2", "Dial", "2024-06-04 08:00:00",
                 "2024-06-04 08:00:05", "2024-06-04 08:01:05", 60, "ANSWERED")
    # A line cut inside its last field (a crash mid-write), then the log went on.
    broken = good[:-5]
    parsed, _ = read_direct(broken + "\n" + good + "\n")
    assert [(p.rule_id, p.line, p.column) for p in parsed.problems if p.action != "warn"] == [("unterminated_quote", 1, 16)]
    assert parsed.frame["_line"].to_list() == [2]
    # A stray quote mid-line shifts the fields (as csv reads it): the count gives it away.
    parsed, _ = read_direct(good.replace('"Dial"', '"Dial') + "\n")
    assert [p.rule_id for p in parsed.problems if p.action != "warn"] == ["field_count"]


def test_binary_file_rejected_but_nul_garbage_line_quarantined():
    ctx = DialectContext(config=Config(), con=None, path=Path("Master.csv"), label="Master.csv")
    with pytest.raises(FileRejected) as exc:
        cdr.read(b"\x1f\x8b\x08\x00\x00\x00\x00", ctx)
    assert exc.value.rule_id == "binary_file"
    good = cdr16("+79000000001", "from-trunk", "PJSIP/trunk-1", "PJSIP/7009-2", "Dial", "2024-06-04 08:00:00",
                 "2024-06-04 08:00:05", "2024-06-04 08:01:05", 60, "ANSWERED")
    parsed, _ = read_direct(good + "\n\x00\x00\x00\x00\n")
    assert [(p.rule_id, p.line) for p in parsed.problems if p.action != "warn"] == [("field_count", 2)]
    assert parsed.frame.height == 1


def test_unknown_disposition_and_custom_columns_checked():
    bad = cdr16("+79000000001", "from-trunk", "PJSIP/trunk-1", "PJSIP/7009-2", "Dial", "2024-06-04 08:00:00",
                "2024-06-04 08:00:05", "2024-06-04 08:01:05", 60, "8")
    parsed, _ = read_direct(bad + "\n")
    assert [(p.rule_id, p.line, p.column) for p in parsed.problems if p.action != "warn"] == [("allowed_value", 1, 15)]
    config = Config.model_validate({"asterisk": {"cdr_layout": "custom", "cdr_custom_columns": ["src", "start"]}})
    with pytest.raises(ConfigError, match="lacks dcontext"):
        read_direct(bad + "\n", config)


def test_known_agents_are_not_registered_again():
    con = duckdb.connect(":memory:")
    ensure_schema(con)
    con.execute("""INSERT INTO raw_operators (operator_id, display_name, team_id, timezone, valid_from)
        VALUES ('PJSIP/7009', 'Ганна Коваленко', 't1', 'Europe/Kyiv', DATE '2024-01-01')""")
    text = "\n".join([
        cdr16("+79000000001", "from-trunk", "PJSIP/trunk-1", "PJSIP/7009-2", "Dial", "2024-06-04 08:00:00",
              "2024-06-04 08:00:05", "2024-06-04 08:01:05", 60, "ANSWERED"),
        cdr16("+79000000002", "from-trunk", "PJSIP/trunk-3", "PJSIP/7010-4", "Dial", "2024-06-04 09:00:00",
              "2024-06-04 09:00:05", "2024-06-04 09:01:05", 60, "ANSWERED"),
    ]) + "\n"
    _, operators = read_direct(text, con=con)
    assert operators.frame["operator_id"].to_list() == ["PJSIP/7010"]
    config = Config.model_validate({"asterisk": {"auto_register_operators": False}})
    assert read_direct(text, config, con=con)[1] is None


def test_tail_offset_advances_only_after_the_loader_committed():
    con = duckdb.connect(":memory:")
    ensure_schema(con)
    one = cdr16("+79000000001", "from-trunk", "PJSIP/trunk-1", "PJSIP/7009-2", "Dial", "2024-06-04 08:00:00",
                "2024-06-04 08:00:05", "2024-06-04 08:01:05", 60, "ANSWERED") + "\n"
    two = one + cdr16("+79000000002", "from-trunk", "PJSIP/trunk-3", "PJSIP/7010-4", "Dial",
                      "2024-06-04 09:00:00", "2024-06-04 09:00:05", "2024-06-04 09:01:05", 60, "ANSWERED") + "\n"
    ctx = DialectContext(config=Config(), con=con, path=Path("Master.csv"), label="Master.csv")
    first = dict(cdr.read(one.encode(), ctx))["calls"]
    assert first.frame["_line"].to_list() == [1]
    # the load of `one` never reached the manifest (killed): its pending read is dropped, `two` is read whole
    assert dict(cdr.read(two.encode(), ctx))["calls"].frame["_line"].to_list() == [1, 2]
    # now the manifest shows `one` loaded (its kinds: calls, operators, operator_identities)
    con.execute("DELETE FROM asterisk_cdr_tail")
    cdr.read(one.encode(), ctx)
    for kind in ("calls", "operators", "operator_identities"):
        con.execute("INSERT INTO load_manifest (sha256, kind, dialect, status) VALUES (?, ?, 'asterisk-cdr', "
                    "'loaded')", [cdr._sha256(one.encode()), kind])
    again = dict(cdr.read(two.encode(), ctx))["calls"]
    assert again.frame["_line"].to_list() == [2]   # read on after the 1 line consumed
    assert cdr.tail_state(con, "Master.csv")[0]["byte_offset"] == len(one.encode())
    # `stateless` (replaying archived bytes alone) neither reads nor writes the state
    ctx.options["stateless"] = True
    assert dict(cdr.read(two.encode(), ctx))["calls"].frame["_line"].to_list() == [1, 2]
