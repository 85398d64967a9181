"""Incremental builds (DESIGN §3, issue 3 done-when 4): late rows — a call 20 days back, a repeat of
a contact 3 days earlier, a late CSAT response and a reopen — change exactly the (operator, day) rows
they should, and the incremental build equals a full refresh."""

from __future__ import annotations

import csv
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.core.config import Config
from pipeline.core.home import Home
from pipeline.ingest.contract import KINDS

from .conftest import load, query, rebuild, table, write_csv

INCREMENTAL_MARTS = ("operator_daily", "operator_period", "queue_daily", "queue_period", "team_period",
                     "csat_language_period")
KYIV = ZoneInfo("Europe/Kyiv")


def _iso(ts: datetime) -> str:
    return ts.astimezone(KYIV).isoformat()


def _sample_rows(files: Path, name: str) -> list[dict[str, str]]:
    with (files / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _pick_repeat_target(home: Home, latest: datetime) -> dict:
    """An FCR-resolved inbound call whose customer has no other contact, resolved early enough that a
    repeat 3 days later is still before the latest loaded event."""
    rows = query(home, """
        SELECT s.contact_id, s.operator_id, s.local_date, s.ended_at, c.reason_code, c.queue_id
        FROM segment_facts s JOIN contact_facts c USING (contact_type, contact_id)
        WHERE s.contact_type = 'call' AND s.is_fcr_resolved AND c.segments_n = 1
          AND c.customer_key IN (SELECT customer_key FROM contact_facts GROUP BY customer_key HAVING count(*) = 1)
          AND s.ended_at + INTERVAL 3 DAY < ?::TIMESTAMPTZ - INTERVAL 1 HOUR
        ORDER BY s.ended_at LIMIT 1""", [latest])
    cid, op, day, ended, reason, queue = rows[0]
    return dict(call_id=cid, operator_id=op, local_date=day, ended_at=ended, reason=reason, queue=queue)


def _pick_unanswered_survey(home: Home) -> dict:
    rows = query(home, """
        SELECT a.contact_type, a.contact_id, a.survey_key, a.sent_at, s.operator_id, s.local_date
        FROM int_csat__attribution a JOIN segment_facts s ON s.segment_id = a.segment_id
        WHERE a.is_sent AND NOT a.is_responded AND s.operator_id IS NOT NULL AND a.contact_type = 'call'
          AND (SELECT count(*) FROM int_csat__attribution b
               WHERE b.contact_type = a.contact_type AND b.contact_id = a.contact_id) = 1
        ORDER BY a.sent_at LIMIT 1""")
    ctype, cid, survey, sent_at, op, day = rows[0]
    return dict(contact_type=ctype, contact_id=cid, survey_id=survey, sent_at=sent_at, operator_id=op, local_date=day)


def _pick_solved_ticket(home: Home, latest: datetime) -> dict:
    rows = query(home, """
        SELECT s.contact_id, s.operator_id, s.local_date, s.ended_at
        FROM segment_facts s JOIN contact_facts c USING (contact_type, contact_id)
        WHERE s.contact_type = 'ticket' AND s.end_reason = 'resolved' AND c.segments_n = 1 AND s.is_fcr_resolved
          AND NOT c.is_reopened AND s.ended_at + INTERVAL 2 DAY < ?::TIMESTAMPTZ - INTERVAL 1 HOUR
        ORDER BY s.ended_at LIMIT 1""", [latest])
    tid, op, day, solved = rows[0]
    return dict(ticket_id=tid, operator_id=op, local_date=day, solved_at=solved)


def _daily(home: Home) -> dict[tuple[str, date], tuple]:
    cols = [r[0] for r in query(home, "DESCRIBE operator_daily")]
    out = {}
    for r in query(home, "SELECT * FROM operator_daily"):
        row = dict(zip(cols, r, strict=True))
        out[(row["operator_id"], row["local_date"])] = r
    return out


def test_late_rows_change_exactly_their_rows_and_incremental_equals_full(
        sample_template: tuple[Path, Path], sample_home: Home, tmp_path: Path) -> None:
    files, _ = sample_template
    home, config = sample_home, Config()
    latest, first_day = query(home, "SELECT latest_event_at, date_from FROM data_range")[0]
    before = _daily(home)

    repeat = _pick_repeat_target(home, latest)
    survey = _pick_unanswered_survey(home)
    ticket = _pick_solved_ticket(home, latest)
    calls = {r["call_id"]: r for r in _sample_rows(files, "calls.csv")}
    original = calls[repeat["call_id"]]

    # 1. a call 20 days before the latest data, by an operator valid then, from a new customer
    old_day = latest.astimezone(KYIV).date() - timedelta(days=20)
    old_start = datetime(old_day.year, old_day.month, old_day.day, 10, 0, tzinfo=KYIV)
    # 2. the same customer, same reason, 3 days after the resolved call: a repeat; answered by OP-005
    rep_start = repeat["ended_at"] + timedelta(days=3)
    call_rows = [
        dict(call_id="LATE-OLD", leg=1, direction="inbound", queue_id="q_phone_general", agent_id="OP-005",
             customer_phone="+380671112233", reason_code="billing_question", enqueued_at=_iso(old_start),
             answered_at=_iso(old_start + timedelta(seconds=12)), ended_at=_iso(old_start + timedelta(minutes=4)),
             outcome="answered", end_reason="resolved", talk_s=200, hold_s=10, wrap_s=30),
        dict(call_id="LATE-REPEAT", leg=1, direction="inbound", queue_id=repeat["queue"], agent_id="OP-005",
             customer_phone=original["customer_phone"], reason_code=repeat["reason"],
             enqueued_at=_iso(rep_start), answered_at=_iso(rep_start + timedelta(seconds=8)),
             ended_at=_iso(rep_start + timedelta(minutes=3)), outcome="answered", end_reason="resolved",
             talk_s=150, hold_s=0, wrap_s=20),
    ]
    # 3. a late CSAT response to a survey sent but unanswered so far
    csat_rows = [dict(response_id="LATE-CR", survey_id=survey["survey_id"], contact_type=survey["contact_type"],
                      contact_id=survey["contact_id"], received_at=_iso(survey["sent_at"] + timedelta(hours=2)),
                      scale="1-5", score="5", language="uk")]
    # 4. the solved ticket is reopened 2 days after its solve
    event_rows = [dict(event_id="LATE-RE", ticket_id=ticket["ticket_id"],
                       at=_iso(ticket["solved_at"] + timedelta(days=2)), event_type="reopen", author_type="system",
                       author_id="router", is_public="true")]
    late = tmp_path / "late"
    load(home, config,
         write_csv(late / "calls_late.csv", KINDS["calls"].names, call_rows),
         write_csv(late / "csat_late.csv", KINDS["csat_responses"].names, csat_rows),
         write_csv(late / "events_late.csv", KINDS["ticket_events"].names, event_rows))

    report = rebuild(home, config)
    assert report.mode == "incremental", report.reason
    after = _daily(home)

    changed = {k for k in after if before.get(k) != after[k]} | {k for k in before if k not in after}
    # new days entering the loaded range appear for every operator valid on them, with zeros
    new_days = {first_day - timedelta(days=i) for i in range(1, (first_day - old_day).days + 1)}
    roster = {(op, d) for op, vf, vt in query(home, "SELECT operator_id, valid_from, valid_to FROM dim_operators")
              for d in new_days if vf <= d < vt}
    expected = roster | {
        ("OP-005", old_day),                                  # the call 20 days back
        (repeat["operator_id"], repeat["local_date"]),        # its FCR lost to the repeat
        ("OP-005", rep_start.astimezone(KYIV).date()),        # the repeat contact itself
        (survey["operator_id"], survey["local_date"]),        # the late CSAT on its attributed segment's date
        (ticket["operator_id"], ticket["local_date"]),        # the reopen: FCR and reopen rate of the solver
    }
    assert changed == expected
    assert all(after[k][2] == 0 for k in roster - {("OP-005", old_day)})  # contacts_handled 0 on idle days

    # the incremental build equals a full refresh of the same warehouse
    incremental = {m: table(home, m) for m in INCREMENTAL_MARTS}
    full_home = Home(tmp_path / "full")
    shutil.copytree(home.root, full_home.root, ignore=shutil.ignore_patterns(".lock"))
    report = rebuild(full_home, config, full_refresh=True)
    assert report.mode == "full"
    for m in INCREMENTAL_MARTS:
        assert table(full_home, m) == incremental[m], f"{m}: incremental build differs from a full refresh"


def test_no_new_data_touches_nothing_and_config_change_forces_full(sample_home: Home) -> None:
    config = Config()
    report = rebuild(sample_home, config)
    assert report.mode == "incremental" and report.touched_dates == []
    changed = config.model_copy(update={"fcr": config.fcr.model_copy(update={"window_days": 3})})
    report = rebuild(sample_home, changed)
    assert report.mode == "full" and "configuration" in report.reason
    report = rebuild(sample_home, changed)
    assert report.mode == "incremental"
