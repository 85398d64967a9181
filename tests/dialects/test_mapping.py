"""`opkpi ingest --mapping`: the shipped mappings on fixtures in each system's documented export layout
(docs/formats/freshdesk.md, chatwoot.md, per-call-csv.md), the mapping language's conversions, and
locations that point into the source file. Expected values are computed by hand in the comments."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import duckdb
import pytest

from pipeline.core.config import Config
from pipeline.core.errors import ConfigError
from pipeline.core.home import Home
from pipeline.ingest import ingest_paths
from pipeline.ingest.dialects.mapping import load_mapping, translate_date_format
from pipeline.ingest.readers import read_file
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "mapping"
MAPPINGS = ROOT / "mappings"
KYIV = Config.model_validate({"ingest": {"timezone": "Europe/Kyiv"}})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ingest(tmp_path: Path, file: Path, mapping: str, *, name: str = "m.toml", config: Config | None = None):
    home = Home(tmp_path / "home")
    results = ingest_paths(home, config or Config(), [file], dialect="mapping",
                           options={"mapping": mapping, "mapping_name": name})
    return home, results


def query(home: Home, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def shipped(name: str) -> str:
    return (MAPPINGS / name).read_text(encoding="utf-8")


# --- Freshdesk ------------------------------------------------------------------------------------

def test_freshdesk_ticket_export_loads_tickets_and_one_segment_per_ticket(tmp_path):
    # Times are Kyiv local (UTC+3 in June): 2024-06-03 09:15:00 → 06:15:00Z.
    home, results = ingest(tmp_path, FIXTURES / "freshdesk_tickets.csv", shipped("freshdesk_tickets.toml"),
                           name="freshdesk_tickets.toml", config=KYIV)
    by_kind = {r.kind: r for r in results}
    assert by_kind["tickets"].status == "loaded" and by_kind["tickets"].inserted == 6
    rows = query(home, """SELECT ticket_id, status, channel, direction, created_at, updated_at, queue_id,
        assignee_id, source_system, tracked_time_s, customer_key IS NOT NULL, _line FROM raw_tickets ORDER BY _line""")
    assert rows == [
        # Resolved → solved; Email → email; Time tracked 00:25 → 1500 s
        ("fd-101", "solved", "email", "inbound", utc(2024, 6, 3, 6, 15), utc(2024, 6, 3, 8, 40, 5), "Billing",
         "Olena Shevchenko", "freshdesk", 1500.0, True, 2),
        # Portal (web form) → email; 01:05 → 3900 s
        ("fd-102", "closed", "email", "inbound", utc(2024, 6, 3, 7), utc(2024, 6, 7, 5, 30), "Support",
         "Ivan Petrenko", "freshdesk", 3900.0, True, 3),
        ("fd-103", "open", "phone", "inbound", utc(2024, 6, 4, 10), utc(2024, 6, 4, 10, 5), "Support",
         "Olena Shevchenko", "freshdesk", None, True, 4),
        # custom status "Waiting on Customer" → pending; nobody assigned
        ("fd-104", "pending", "chat", "inbound", utc(2024, 6, 4, 11, 10), utc(2024, 6, 4, 12), "Support",
         None, "freshdesk", None, True, 5),
        # Outbound Email → channel email, direction outbound
        ("fd-105", "solved", "email", "outbound", utc(2024, 6, 5, 5), utc(2024, 6, 5, 5, 5), "Billing",
         "Ivan Petrenko", "freshdesk", 600.0, True, 6),
        # Twitter → social; no e-mail → no customer key
        ("fd-106", "pending", "social", "inbound", utc(2024, 6, 5, 6), utc(2024, 6, 5, 6, 30), "Support",
         "Olena Shevchenko", "freshdesk", None, False, 7),
    ]
    events = query(home, """SELECT event_id, event_type, "at", author_id, author_type, assignee_id, _line
        FROM raw_ticket_events ORDER BY _line""")
    # create for all 6, assign for the 5 assigned, solve for the 3 resolved/closed ones with a resolved time;
    # _line = source line * 10 + (1 create, 2 assign, 4 solve)
    assert events == [
        ("fd-101:create", "create", utc(2024, 6, 3, 6, 15), None, "customer", None, 21),
        ("fd-101:assign", "assign", utc(2024, 6, 3, 6, 15), None, "system", "Olena Shevchenko", 22),
        ("fd-101:solve", "solve", utc(2024, 6, 3, 8, 40), "Olena Shevchenko", "operator", None, 24),
        ("fd-102:create", "create", utc(2024, 6, 3, 7), None, "customer", None, 31),
        ("fd-102:assign", "assign", utc(2024, 6, 3, 7), None, "system", "Ivan Petrenko", 32),
        ("fd-102:solve", "solve", utc(2024, 6, 4, 5, 30), "Ivan Petrenko", "operator", None, 34),
        ("fd-103:create", "create", utc(2024, 6, 4, 10), None, "customer", None, 41),
        ("fd-103:assign", "assign", utc(2024, 6, 4, 10), None, "system", "Olena Shevchenko", 42),
        ("fd-104:create", "create", utc(2024, 6, 4, 11, 10), None, "customer", None, 51),
        ("fd-105:create", "create", utc(2024, 6, 5, 5), None, "customer", None, 61),
        ("fd-105:assign", "assign", utc(2024, 6, 5, 5), None, "system", "Ivan Petrenko", 62),
        ("fd-105:solve", "solve", utc(2024, 6, 5, 5, 5), "Ivan Petrenko", "operator", None, 64),
        ("fd-106:create", "create", utc(2024, 6, 5, 6), None, "customer", None, 71),
        ("fd-106:assign", "assign", utc(2024, 6, 5, 6), None, "system", "Olena Shevchenko", 72),
    ]
    # The requester's e-mail never reaches the warehouse; the full name is not mapped at all.
    dump = " ".join(str(r) for r in query(home, "SELECT * FROM raw_tickets"))
    assert "one@example.com" not in dump and "Customer One" not in dump


def test_a_later_export_moves_the_segment_to_the_final_assignee(tmp_path):
    text = shipped("freshdesk_tickets.toml")
    first = FIXTURES / "freshdesk_tickets.csv"
    later = tmp_path / "later.csv"
    later.write_text(first.read_text(encoding="utf-8").replace(
        "103,Call back please,Customer asked for a call back,Open,Low,Phone,Question,Olena Shevchenko",
        "103,Call back please,Customer asked for a call back,Open,Low,Phone,Question,Ivan Petrenko").replace(
        "2024-06-04 13:05:00", "2024-06-04 15:00:00"), encoding="utf-8")
    home = Home(tmp_path / "home")
    opts = {"mapping": text, "mapping_name": "freshdesk_tickets.toml"}
    ingest_paths(home, KYIV, [first], dialect="mapping", options=opts)
    results = ingest_paths(home, KYIV, [later], dialect="mapping", options=opts)
    assert {r.kind: r.updated for r in results} == {"tickets": 1, "ticket_events": 1}
    assert query(home, "SELECT assignee_id FROM raw_ticket_events WHERE event_id = 'fd-103:assign'") == [
        ("Ivan Petrenko",)]
    assert query(home, "SELECT count(*) FROM raw_ticket_events_history") == [(1,)]


# --- Chatwoot -------------------------------------------------------------------------------------

def test_chatwoot_conversations_load_as_tickets_with_derived_segments(tmp_path):
    home, results = ingest(tmp_path, FIXTURES / "chatwoot_conversations.jsonl",
                           shipped("chatwoot_conversations.toml"), name="chatwoot_conversations.toml")
    assert [(r.kind, r.status, r.inserted) for r in results] == [("tickets", "loaded", 5), ("ticket_events", "loaded", 10)]
    rows = query(home, """SELECT ticket_id, status, channel, queue_id, assignee_id, created_at, updated_at,
        customer_key_source FROM raw_tickets ORDER BY _line""")
    assert rows == [
        # epoch 1717397243 = 2024-06-03 06:47:23Z; meta.assignee.id = 3; sender e-mail → key
        ("cw-41", "solved", "chat", "2", "3", utc(2024, 6, 3, 6, 47, 23), utc(2024, 6, 3, 7, 5), "email"),
        # Channel::Whatsapp → social; only a phone number
        ("cw-42", "open", "social", "3", "5", utc(2024, 6, 3, 7), utc(2024, 6, 3, 7, 1), "phone"),
        # pending (with the bot) → new; unassigned
        ("cw-43", "new", "email", "4", None, utc(2024, 6, 3, 7, 16, 40), utc(2024, 6, 3, 7, 16, 40), "email"),
        ("cw-44", "solved", "chat", "2", None, utc(2024, 6, 3, 7, 33, 20), utc(2024, 6, 3, 7, 43, 20), "id"),
        ("cw-45", "hold", "chat", "2", "3", utc(2024, 6, 3, 7, 50), utc(2024, 6, 3, 7, 58, 20), "id"),
    ]
    events = query(home, 'SELECT event_id, "at", author_id, author_type FROM raw_ticket_events '
                         "WHERE event_type = 'solve' ORDER BY _line")
    # resolved at the last activity; cw-44 was never assigned, so a system solve (no segment)
    assert events == [("cw-41:solve", utc(2024, 6, 3, 7, 5), "3", "operator"),
                      ("cw-44:solve", utc(2024, 6, 3, 7, 43, 20), None, "system")]


def test_first_reply_opt_in_adds_a_public_reply_by_the_final_assignee(tmp_path):
    text = shipped("chatwoot_conversations.toml").replace(
        '# first_reply_at = "first_reply_created_at"', 'first_reply_at = "first_reply_created_at"')
    home, _ = ingest(tmp_path, FIXTURES / "chatwoot_conversations.jsonl", text)
    # first_reply_created_at 1717397300 = 06:48:20Z for cw-41, 1717401100 = 07:51:40Z for cw-45; 0 = never
    assert query(home, """SELECT event_id, "at", author_id, is_public, _line FROM raw_ticket_events
        WHERE event_type = 'reply' ORDER BY _line""") == [
        ("cw-41:reply", utc(2024, 6, 3, 6, 48, 20), "3", True, 13),
        ("cw-45:reply", utc(2024, 6, 3, 7, 51, 40), "3", True, 53)]


# --- per-call CSV ---------------------------------------------------------------------------------

def test_per_call_csv_yields_calls_and_csat_responses(tmp_path):
    # cp1251, `;`, decimal comma, dd.mm.yyyy HH:MM in Kyiv local time (UTC+3).
    home, results = ingest(tmp_path, FIXTURES / "per_call.csv", shipped("per_call_csv.toml"),
                           name="per_call_csv.toml", config=KYIV)
    by_kind = {r.kind: r for r in results}
    calls, csat = by_kind["calls"], by_kind["csat_responses"]
    assert (calls.status, calls.read, calls.inserted, calls.quarantined) == ("partial", 5, 3, 2)
    assert (csat.status, csat.read, csat.inserted) == ("loaded", 2, 2)
    assert query(home, """SELECT call_id, leg, direction, queue_id, agent_id, outcome, enqueued_at, answered_at,
        ended_at, talk_s FROM raw_calls ORDER BY _line""") == [
        # 09:00 local = 06:00Z; wait 12,5 s → answered 06:00:12.5; + talk 95,5 s → ended 06:01:48
        ("c-1", 1, "inbound", "sales", "Ґалина Їжакевич", "answered", utc(2024, 6, 3, 6),
         datetime(2024, 6, 3, 6, 0, 12, 500000, tzinfo=UTC), utc(2024, 6, 3, 6, 1, 48), 95.5),
        # not answered: no answered_at, ended after the 40 s wait
        ("c-2", 1, "inbound", "sales", None, "abandoned", utc(2024, 6, 3, 6, 30), None,
         utc(2024, 6, 3, 6, 30, 40), 0.0),
        # talk "1 200,0" (space as thousands separator) = 1200 s: 07:15 + 3 s + 1200 s = 07:35:03
        ("c-3", 1, "inbound", "support", "Ivan Petrenko", "answered", utc(2024, 6, 3, 7, 15),
         utc(2024, 6, 3, 7, 15, 3), utc(2024, 6, 3, 7, 35, 3), 1200.0),
    ]
    # Rated calls only; c-4 is left out with its quarantined call row.
    assert query(home, """SELECT response_id, contact_type, contact_id, received_at, scale, score
        FROM raw_csat_responses ORDER BY _line""") == [
        ("c-1", "call", "c-1", utc(2024, 6, 3, 6, 1, 48), "1-5", "5"),
        ("c-3", "call", "c-3", utc(2024, 6, 3, 7, 35, 3), "1-5", "4")]
    # Bad source rows are quarantined at the SOURCE file:line:column.
    assert query(home, "SELECT location, rule_id, column_name FROM quarantine ORDER BY line") == [
        ("per_call.csv:5:2", "type_mismatch", "enqueued_at"),      # 32.06.2024 is no date
        ("per_call.csv:6:5", "allowed_value", "outcome"),          # "maybe" has no value map entry
    ]


def test_mapping_timezone_converts_local_times_and_quarantines_nonexistent_ones(tmp_path):
    mapping = """
kind = "calls"
delimiter = "|"
date_format = "dd.mm.yyyy HH:MM"
timezone = "Europe/Kyiv"
[columns]
"id" = "call_id"
"end" = "ended_at"
[constants]
leg = 1
direction = "inbound"
outcome = "abandoned"
"""
    src = tmp_path / "tz.txt"
    # 29.03.2026 03:30 does not exist in Kyiv (clocks jump 03:00 → 04:00);
    # 25.10.2026 03:30 happens twice: the earlier offset (+03:00) gives 00:30Z, with a warning.
    src.write_text("id|end\nk1|29.03.2026 03:30\nk2|25.10.2026 03:30\nk3|01.07.2026 12:00\n", encoding="utf-8")
    home, [r] = ingest(tmp_path, src, mapping)
    assert (r.inserted, r.quarantined, r.warnings) == (2, 1, 1)
    assert query(home, "SELECT call_id, ended_at FROM raw_calls ORDER BY _line") == [
        ("k2", utc(2026, 10, 25, 0, 30)), ("k3", utc(2026, 7, 1, 9))]
    assert query(home, "SELECT location, rule_id FROM quarantine") == [("tz.txt:2:2", "nonexistent_local_time")]
    assert query(home, "SELECT location, rule_id FROM load_warnings WHERE rule_id <> 'unknown_agent'") == [
        ("tz.txt:3:2", "ambiguous_local_time")]


# --- Excel ----------------------------------------------------------------------------------------

def _xlsx(sheet: str, rows: list[list[object]]) -> bytes:
    """A minimal .xlsx (inline strings; ("date", serial) cells carry a date format)."""
    def ref(c: int, r: int) -> str:
        letters, c = "", c + 1
        while c:
            c, rem = divmod(c - 1, 26)
            letters = chr(65 + rem) + letters
        return f"{letters}{r}"

    body = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, tuple):
                cells.append(f'<c r="{ref(c, r)}" s="1"><v>{v[1]}</v></c>')
            elif isinstance(v, int | float):
                cells.append(f'<c r="{ref(c, r)}"><v>{v}</v></c>')
            else:
                cells.append(f'<c r="{ref(c, r)}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>')
        body.append(f'<row r="{r}">{"".join(cells)}</row>')
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    files = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/></Types>',
        "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook {ns} xmlns:r="{rel}"><sheets>'
        f'<sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{rel}/styles" Target="styles.xml"/></Relationships>',
        "xl/styles.xml": f'<styleSheet {ns}><fonts count="1"><font/></fonts><fills count="1"><fill/></fills>'
        '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="22" applyNumberFormat="1"/></cellXfs></styleSheet>',
        "xl/worksheets/sheet1.xml": f'<worksheet {ns}><sheetData>{"".join(body)}</sheetData></worksheet>',
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + text)
    return buf.getvalue()


def test_freshdesk_excel_export_loads_and_locates_bad_rows_by_sheet_and_row(tmp_path):
    pytest.importorskip("fastexcel")
    header = ["Ticket ID", "Subject", "Status", "Source", "Agent", "Group", "Created time", "Resolved time",
              "Last update time", "Time tracked"]
    rows = [header,
            # a real date cell: serial 45446.385416667 = 2024-06-03 09:15:00 (Kyiv) → 06:15Z
            [201, "Invoice", "Resolved", "Email", "Olena Shevchenko", "Billing", ("date", 45446.385416667),
             "2024-06-03 11:40:00", "2024-06-03 11:40:05", "00:25"],
            [None] * len(header),            # an empty row keeps the row numbering
            [203, "Login", "Open", "Phone", "Ivan Petrenko", "Support", "not a date", None,
             "2024-06-04 13:05:00", None]]
    book = tmp_path / "freshdesk.xlsx"
    book.write_bytes(_xlsx("Tickets", rows))
    home, results = ingest(tmp_path, book, shipped("freshdesk_tickets.toml"), config=KYIV)
    tickets = next(r for r in results if r.kind == "tickets")
    assert (tickets.inserted, tickets.quarantined) == (1, 1)
    assert query(home, "SELECT ticket_id, created_at, tracked_time_s, _line FROM raw_tickets") == [
        ("fd-201", utc(2024, 6, 3, 6, 15), 1500.0, 2)]
    assert query(home, "SELECT location, rule_id FROM quarantine") == [("freshdesk.xlsx:Tickets!4", "type_mismatch")]


# --- the mapping language -------------------------------------------------------------------------

def test_human_date_formats_translate_to_strftime():
    assert translate_date_format("dd.mm.yyyy HH:MM") == "%d.%m.%Y %H:%M"
    assert translate_date_format("dd.MM.yyyy HH:mm:ss") == "%d.%m.%Y %H:%M:%S"
    assert translate_date_format("yyyy-mm-dd") == "%Y-%m-%d"
    assert translate_date_format("%d/%m/%Y %H:%M") == "%d/%m/%Y %H:%M"
    with pytest.raises(ValueError):
        translate_date_format("dd.mm.yyyy HH:MM tt")


@pytest.mark.parametrize(("text", "expected"), [
    ('kind = "tickets"\n[columns]\n"ID" = "ticket_idd"', "`columns.\"ID\"` maps to `ticket_idd`"),
    ('kind = "calls"\n[columns]\n"id" = "call_id"', "needs leg, direction, ended_at, outcome"),
    ('kind = "tickets\n', "is not valid TOML"),
    ('kind = "nope"', "`kind` is 'nope', which is no canonical kind"),
    ('kind = "tickets"\ndate_format = "dd.mm.yyyy QQ"', "`date_format`"),
    ('kind = "tickets"\ntimezone = "Mars/Base"', "`timezone` is not a known IANA timezone"),
    ('kind = "tickets"\ncolumn = {}', "`column` is not a key of the mapping language"),
    ('kind = "tickets"\ndelimiter = ";;"', "`delimiter` must be one character"),
])
def test_a_bad_mapping_is_a_config_error_naming_the_key(text, expected):
    with pytest.raises(ConfigError) as exc:
        load_mapping(text, "bad.toml")
    assert str(exc.value).startswith("Attempted to read the mapping bad.toml, but")
    assert expected in str(exc.value)


def test_a_bad_mapping_exits_2_through_the_cli(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "tickets"\n[columns]\n"Ticket ID" = "ticket_idd"\n', encoding="utf-8")
    r = run_cli("--home", str(tmp_path / "h"), "ingest", "--mapping", str(bad),
                str(FIXTURES / "freshdesk_tickets.csv"))
    assert r.returncode == 2, r.stderr
    assert "bad.toml" in r.stderr and "ticket_idd" in r.stderr and "Traceback" not in r.stderr


def test_a_missing_required_source_column_rejects_the_file(tmp_path):
    text = shipped("freshdesk_tickets.toml").replace('"Created time" = "created_at"', '"Opened" = "created_at"')
    _, [r] = ingest(tmp_path, FIXTURES / "freshdesk_tickets.csv", text, name="fd.toml", config=KYIV)
    assert r.status == "rejected"
    assert r.problems[0].rule_id == "missing_required_column" and "`opened`" in r.message.lower()


def test_a_file_with_another_delimiter_than_the_mapping_is_rejected_with_a_hint(tmp_path):
    src = tmp_path / "calls.csv"
    src.write_text("Call ID,Start\nc1,03.06.2024 09:00\n", encoding="utf-8")
    _, [r] = ingest(tmp_path, src, shipped("per_call_csv.toml"))
    assert r.status == "rejected" and r.problems[0].rule_id == "wrong_delimiter"
    assert "`delimiter`" in r.message


def test_read_file_reads_other_delimiters_with_quoting_and_line_numbers():
    data = b'a;b\n"x;1";2\n3;"open\n'
    parsed = read_file(Path("f.csv"), data, delimiter=";")
    assert parsed.header == ["a", "b"]
    assert parsed.frame.rows() == [("x;1", "2", 2)]
    [p] = parsed.problems
    assert (p.rule_id, p.line, p.column) == ("unterminated_quote", 3, 2)


def test_derived_events_give_one_segment_per_resolved_ticket_for_its_final_assignee(tmp_path):
    from pipeline.jobs.run import run_pipeline

    home, _ = ingest(tmp_path, FIXTURES / "freshdesk_tickets.csv", shipped("freshdesk_tickets.toml"), config=KYIV)
    from pipeline.warehouse import open_snapshot

    run_pipeline(home, KYIV, min_age_s=0)
    # fd-101, fd-102, fd-105 are resolved/closed with a resolved time; open, pending and unassigned
    # tickets (103, 104, 106) yield no segment.
    con = open_snapshot(home)
    try:
        segments = con.execute("SELECT segment_id, agent_id, assigned_at, ended_at, end_reason FROM segment_facts "
                               "ORDER BY segment_id").fetchall()
    finally:
        con.close()
    assert segments == [
        ("ticket:fd-101:1", "Olena Shevchenko", utc(2024, 6, 3, 6, 15), utc(2024, 6, 3, 8, 40), "resolved"),
        ("ticket:fd-102:1", "Ivan Petrenko", utc(2024, 6, 3, 7), utc(2024, 6, 4, 5, 30), "resolved"),
        ("ticket:fd-105:1", "Ivan Petrenko", utc(2024, 6, 5, 5), utc(2024, 6, 5, 5, 5), "resolved"),
    ]
