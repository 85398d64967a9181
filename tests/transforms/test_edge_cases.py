"""Edge cases of the KPI engine (issue 3, done-when 3) on one small hand-made dataset, loaded once.

Each case uses its own operator-days, customers and queues, so every expected literal can be checked
by hand; the arithmetic is in the comment beside it. Times carry explicit offsets (Kyiv is +03:00
until 2026-10-25 04:00, then +02:00; Moscow is +03:00).
"""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from pipeline.core.config import Config
from pipeline.core.errors import OpkpiError
from pipeline.core.home import Home
from pipeline.ingest.contract import KINDS
from pipeline.transforms.calendars import parse_business_hours

from .conftest import load, query, rebuild, table, write_csv

CONFIG = Config(bots=["helper-bot"])
T1, T2 = "t1", "t2"


def _call(cid, leg, agent, ans, end, *, queue="qa", enq=None, phone=None, reason=None, outcome="answered",
          end_reason="resolved", talk=None, hold=None, wrap=None, transfer_to=None, direction="inbound"):
    return dict(call_id=cid, leg=leg, direction=direction, queue_id=queue, agent_id=agent, customer_phone=phone,
                reason_code=reason, enqueued_at=enq or ans, answered_at=ans if agent else None, ended_at=end,
                outcome=outcome, end_reason=end_reason if agent else None, transfer_to=transfer_to,
                talk_s=talk, hold_s=hold, wrap_s=wrap)


def _chat(cid, agent, queued, accepted, first_reply, ended, *, queue="qc", phone=None, reason=None,
          end_reason="resolved"):
    return dict(chat_id=cid, leg=1, channel="chat", direction="inbound", queue_id=queue, agent_id=agent,
                customer_phone=phone, reason_code=reason, queued_at=queued, accepted_at=accepted,
                first_reply_at=first_reply, ended_at=ended, outcome="answered", end_reason=end_reason)


def _ticket(tid, created, *, email, reason="r", queue="qe", status="closed", follow_up_of=None):
    return dict(ticket_id=tid, channel="email", direction="inbound", created_at=created, updated_at=created,
                status=status, customer_email=email, reason_code=reason, queue_id=queue, follow_up_of=follow_up_of)


_seq = iter(range(1, 10_000))


def _ev(tid, at, kind, author=None, author_type="operator", assignee=None, public="true"):
    return dict(event_id=f"E{next(_seq):04d}", ticket_id=tid, at=at, event_type=kind, author_id=author,
                author_type=author_type, is_public=public, assignee_id=assignee)


def _dataset(d: Path) -> list[Path]:
    teams = [dict(team_id=T1, name="Kyiv L1", timezone="Europe/Kyiv", holiday_country="UA",
                  business_hours="mon-fri 09:00-18:00"),
             dict(team_id=T2, name="Moscow", timezone="Europe/Moscow", holiday_country="RU",
                  business_hours="mon-fri 09:00-18:00")]
    queues = [dict(queue_id=q, team_id=t, timezone=tz, channel=ch, sl_threshold_s=sl)
              for q, t, tz, ch, sl in (("qa", T1, "Europe/Kyiv", "phone", 20), ("qb", T1, "Europe/Kyiv", "phone", 20),
                                       ("qc", T1, "Europe/Kyiv", "chat", 60), ("qe", T1, "Europe/Kyiv", "email", None),
                                       ("qm", T2, "Europe/Moscow", "chat", 60), ("qp", T2, "Europe/Moscow", "phone", 20),
                                       ("qe2", T2, "Europe/Moscow", "email", None))]
    operators = [dict(operator_id=o, display_name=o, team_id=t, tier=tier, timezone=tz, valid_from="2026-01-01")
                 for o, t, tier, tz in (("A", T1, "L1", "Europe/Kyiv"), ("B", T1, "L1", "Europe/Kyiv"),
                                        ("C", T1, "L2", "Europe/Kyiv"), ("D", T1, "L1", "Europe/Kyiv"),
                                        ("E", T2, "L1", "Europe/Moscow"))]
    calls = [
        # a segment crossing local midnight and the month end: dated 2026-10-31 (its start)
        _call("MID-1", 1, "A", "2026-10-31T23:58:00+02:00", "2026-11-01T00:05:00+02:00", phone="+380501000001",
              reason="r1", talk=400, hold=0, wrap=20),
        # 01:30 Kyiv is still 2026-10-19 in UTC: dated 2026-10-20
        _call("MID-2", 1, "A", "2026-10-20T01:30:00+03:00", "2026-10-20T01:35:00+03:00", phone="+380501000002",
              reason="r2", talk=290, hold=0, wrap=10),
        # the DST night: 03:30 EEST → 03:10 EET is 40 minutes
        _call("DST-1", 1, "B", "2026-10-25T03:30:00+03:00", "2026-10-25T03:10:00+02:00", phone="+380501000010",
              reason="r10", talk=2400, hold=0, wrap=0),
        # a transfer between two operators of one team
        _call("TR-1", 1, "A", "2026-10-14T10:00:05+03:00", "2026-10-14T10:03:00+03:00",
              enq="2026-10-14T10:00:00+03:00", phone="+380501000003", reason="r3", end_reason="transfer",
              transfer_to="B", talk=170, hold=0, wrap=5),
        _call("TR-1", 2, "B", "2026-10-14T10:03:00+03:00", "2026-10-14T10:08:00+03:00", queue=None,
              phone="+380501000003", reason="r3", talk=290, hold=0, wrap=10),
        # a handoff to an L2 operator without an end_reason on the first leg: an escalation
        _call("ES-1", 1, "A", "2026-10-16T11:00:05+03:00", "2026-10-16T11:04:00+03:00", phone="+380501000004",
              reason="r4", end_reason=None, talk=230, hold=0, wrap=5),
        _call("ES-1", 2, "C", "2026-10-16T11:04:00+03:00", "2026-10-16T11:10:00+03:00", queue=None,
              phone="+380501000004", reason="r4", talk=350, hold=0, wrap=10),
        # a repeat on another channel (chat RC-2 two days later), and a non-repeat (other reason; too late)
        _call("RC-1", 1, "A", "2026-10-17T10:00:00+03:00", "2026-10-17T10:05:00+03:00", phone="+380501000006",
              reason="r7", talk=290, hold=0, wrap=10),
        _call("RC-3", 1, "A", "2026-10-17T12:00:00+03:00", "2026-10-17T12:05:00+03:00", phone="+380501000007",
              reason="r8", talk=290, hold=0, wrap=10),
        # short abandons and service level in qb on 2026-10-22
        _call("SA-1", 1, None, None, "2026-10-22T10:00:03+03:00", queue="qb", enq="2026-10-22T10:00:00+03:00",
              phone="+380501000007", reason="r8", outcome="abandoned"),
        _call("SA-2", 1, None, None, "2026-10-22T10:10:40+03:00", queue="qb", enq="2026-10-22T10:10:00+03:00",
              phone="+380501000011", reason="r11", outcome="abandoned"),
        _call("AN-1", 1, "B", "2026-10-22T10:20:15+03:00", "2026-10-22T10:25:00+03:00", queue="qb",
              enq="2026-10-22T10:20:00+03:00", phone="+380501000012", reason="r12", talk=285, hold=0, wrap=0),
        _call("AN-2", 1, "B", "2026-10-22T10:30:25+03:00", "2026-10-22T10:35:00+03:00", queue="qb",
              enq="2026-10-22T10:30:00+03:00", phone="+380501000013", reason="r13", talk=275, hold=0, wrap=0),
        # a call timing out of qa into qb
        _call("TO-1", 1, None, None, "2026-10-23T10:00:30+03:00", enq="2026-10-23T10:00:00+03:00",
              phone="+380501000014", reason="r14", outcome="timeout"),
        _call("TO-1", 2, "B", "2026-10-23T10:00:40+03:00", "2026-10-23T10:05:00+03:00", queue="qb",
              enq="2026-10-23T10:00:30+03:00", phone="+380501000014", reason="r14", talk=260, hold=0, wrap=0),
        # AHT components reported for only some calls of a cell
        _call("PC-1", 1, "E", "2026-10-15T10:00:00+03:00", "2026-10-15T10:02:30+03:00", queue="qp",
              phone="+380501000015", reason="r15", talk=100, hold=20, wrap=30),
        _call("PC-2", 1, "E", "2026-10-15T11:00:00+03:00", "2026-10-15T11:03:20+03:00", queue="qp",
              phone="+380501000016", reason="r16", talk=200),
        # an agent no identity maps: queue and team totals only
        _call("UN-1", 1, "ghost-7", "2026-10-24T10:00:10+03:00", "2026-10-24T10:04:00+03:00",
              enq="2026-10-24T10:00:00+03:00", phone="+380501000017", reason="r17", talk=230),
        # an old, settled call (not provisional)
        _call("OLD-1", 1, "A", "2026-09-01T10:00:00+03:00", "2026-09-01T10:05:00+03:00", phone="+380501000018",
              reason="r18", talk=290, hold=0, wrap=10),
    ]
    chats = [
        _chat("DST-C", "B", "2026-10-25T03:40:00+03:00", "2026-10-25T03:40:05+03:00", "2026-10-25T03:40:35+03:00",
              "2026-10-25T03:20:05+02:00", phone="+380501000019", reason="r19"),
        _chat("RC-2", "B", "2026-10-19T11:00:00+03:00", "2026-10-19T11:00:05+03:00", "2026-10-19T11:00:30+03:00",
              "2026-10-19T11:10:00+03:00", phone="+380501000006", reason="r7"),
        _chat("RC-4", "B", "2026-10-18T11:00:00+03:00", "2026-10-18T11:00:05+03:00", "2026-10-18T11:00:30+03:00",
              "2026-10-18T11:10:00+03:00", phone="+380501000007", reason="r9"),
        _chat("RC-5", "B", "2026-10-26T11:00:00+02:00", "2026-10-26T11:00:05+02:00", "2026-10-26T11:00:30+02:00",
              "2026-10-26T11:10:00+02:00", phone="+380501000007", reason="r8"),
        # three concurrent chats of E: 10:00-10:30, 10:10-10:40, 10:20-10:50 Moscow
        _chat("CC-1", "E", "2026-10-14T09:59:55+03:00", "2026-10-14T10:00:00+03:00", "2026-10-14T10:00:20+03:00",
              "2026-10-14T10:30:00+03:00", queue="qm", phone="+380501000021", reason="rc"),
        _chat("CC-2", "E", "2026-10-14T10:09:55+03:00", "2026-10-14T10:10:00+03:00", "2026-10-14T10:10:20+03:00",
              "2026-10-14T10:40:00+03:00", queue="qm", phone="+380501000022", reason="rc"),
        _chat("CC-3", "E", "2026-10-14T10:19:55+03:00", "2026-10-14T10:20:00+03:00", "2026-10-14T10:20:20+03:00",
              "2026-10-14T10:50:00+03:00", queue="qm", phone="+380501000023", reason="rc"),
    ]
    tickets = [
        _ticket("RO-1", "2026-10-13T09:00:00+03:00", email="ro@example.com", reason="r4"),
        _ticket("FU-1", "2026-10-13T11:00:00+03:00", email="fu@example.com", reason="r5"),
        _ticket("FU-2", "2026-10-16T12:00:00+03:00", email="fu2@example.com", reason="r6", follow_up_of="FU-1"),
        _ticket("BOT-1", "2026-10-20T09:00:00+03:00", email="bot1@example.com"),
        _ticket("BOT-2", "2026-10-20T09:00:00+03:00", email="bot2@example.com"),
        _ticket("UR-1", "2026-10-21T09:00:00+03:00", email="ur@example.com"),
        _ticket("BH-1", "2026-11-03T17:00:00+03:00", email="bh1@example.com", queue="qe2"),
        _ticket("BH-2", "2026-10-16T17:00:00+03:00", email="bh2@example.com"),
        _ticket("OPEN-1", "2026-09-02T09:00:00+03:00", email="open@example.com", status="open"),
    ]
    events = [
        # reopened ticket: solved 10-13 10:00, reopened 10-15 09:00, solved again 10:00
        _ev("RO-1", "2026-10-13T09:05:00+03:00", "assign", "router", "system", assignee="A"),
        _ev("RO-1", "2026-10-13T09:30:00+03:00", "reply", "A"),
        _ev("RO-1", "2026-10-13T10:00:00+03:00", "solve", "A"),
        _ev("RO-1", "2026-10-15T09:00:00+03:00", "reopen", "router", "system"),
        _ev("RO-1", "2026-10-15T09:30:00+03:00", "reply", "A"),
        _ev("RO-1", "2026-10-15T10:00:00+03:00", "solve", "A"),
        # a follow-up ticket (another customer, another reason) three days later
        _ev("FU-1", "2026-10-13T11:05:00+03:00", "assign", "router", "system", assignee="B"),
        _ev("FU-1", "2026-10-13T11:20:00+03:00", "reply", "B"),
        _ev("FU-1", "2026-10-13T11:30:00+03:00", "solve", "B"),
        _ev("FU-2", "2026-10-16T12:05:00+03:00", "assign", "router", "system", assignee="B"),
        _ev("FU-2", "2026-10-16T12:30:00+03:00", "reply", "B"),
        _ev("FU-2", "2026-10-16T12:40:00+03:00", "solve", "B"),
        # bot replies before the first human one (an author_type bot; an id listed in `bots`)
        _ev("BOT-1", "2026-10-20T09:00:10+03:00", "reply", "bot.ada", "bot"),
        _ev("BOT-1", "2026-10-20T09:10:00+03:00", "assign", "router", "system", assignee="B"),
        _ev("BOT-1", "2026-10-20T09:40:00+03:00", "reply", "B"),
        _ev("BOT-1", "2026-10-20T09:50:00+03:00", "solve", "B"),
        _ev("BOT-2", "2026-10-20T09:00:20+03:00", "reply", "helper-bot"),
        _ev("BOT-2", "2026-10-20T09:05:00+03:00", "assign", "router", "system", assignee="A"),
        _ev("BOT-2", "2026-10-20T09:15:00+03:00", "reply", "A"),
        _ev("BOT-2", "2026-10-20T09:20:00+03:00", "solve", "A"),
        # unassign on resolve, then a CSAT response
        _ev("UR-1", "2026-10-21T09:05:00+03:00", "assign", "router", "system", assignee="A"),
        _ev("UR-1", "2026-10-21T09:20:00+03:00", "reply", "A"),
        _ev("UR-1", "2026-10-21T09:30:00+03:00", "unassign", "router", "system"),
        _ev("UR-1", "2026-10-21T09:30:00+03:00", "solve", "A"),
        # business hours across a RU holiday (2026-11-04) and a UA weekend
        _ev("BH-1", "2026-11-03T17:10:00+03:00", "assign", "router", "system", assignee="E"),
        _ev("BH-1", "2026-11-03T17:20:00+03:00", "reply", "E"),
        _ev("BH-1", "2026-11-05T10:00:00+03:00", "solve", "E"),
        _ev("BH-2", "2026-10-16T17:10:00+03:00", "assign", "router", "system", assignee="B"),
        _ev("BH-2", "2026-10-16T17:20:00+03:00", "reply", "B"),
        _ev("BH-2", "2026-10-19T10:00:00+03:00", "solve", "B"),
        # a ticket still open
        _ev("OPEN-1", "2026-09-02T09:05:00+03:00", "assign", "router", "system", assignee="B"),
        _ev("OPEN-1", "2026-09-02T09:20:00+03:00", "reply", "B"),
    ]
    surveys = [dict(survey_id="SV-UR", contact_type="ticket", contact_id="UR-1", sent_at="2026-10-21T09:31:00+03:00",
                    scale="1-5"),
               dict(survey_id="SV-SA", contact_type="call", contact_id="SA-2", sent_at="2026-10-22T10:11:00+03:00",
                    scale="1-5")]
    responses = [dict(response_id="CR-UR", survey_id="SV-UR", contact_type="ticket", contact_id="UR-1",
                      received_at="2026-10-21T10:00:00+03:00", scale="1-5", score="5", language="uk"),
                 dict(response_id="CR-SA", survey_id="SV-SA", contact_type="call", contact_id="SA-2",
                      received_at="2026-10-22T10:20:00+03:00", scale="1-5", score="1", language="uk")]
    out = []
    for kind, rows in (("teams", teams), ("queues", queues), ("operators", operators), ("calls", calls),
                       ("chats", chats), ("tickets", tickets), ("ticket_events", events), ("surveys_sent", surveys),
                       ("csat_responses", responses)):
        out.append(write_csv(d / f"{kind}.csv", KINDS[kind].names, rows))
    return out


@pytest.fixture(scope="module")
def edge_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    root = tmp_path_factory.mktemp("edge")
    home = Home(root / "home")
    load(home, CONFIG, *_dataset(root / "files"))
    rebuild(home, CONFIG)
    return home


def _one(home: Home, sql: str, params: list | None = None):
    rows = query(home, sql, params)
    assert len(rows) == 1, rows
    return rows[0]


def _daily(home: Home, op: str, day: str, *cols: str) -> tuple:
    return _one(home, f"SELECT {', '.join(cols)} FROM operator_daily WHERE operator_id = ? AND local_date = ?",
                [op, day])


def test_segment_crossing_midnight_and_month_end_counts_on_its_start_day(edge_home: Home) -> None:
    assert _one(edge_home, "SELECT local_date FROM segment_facts WHERE contact_id = 'MID-1'")[0] == date(2026, 10, 31)
    assert _daily(edge_home, "A", "2026-10-31", "calls_answered", "aht_phone_ms") == (1, 420_000.0)  # 400 + 0 + 20 s
    assert _daily(edge_home, "A", "2026-11-01", "calls_answered")[0] == 0
    oct_, nov = (_one(edge_home, """SELECT calls_answered FROM operator_period WHERE operator_id = 'A'
                                    AND grain = 'month' AND period_start = ?""", [d])[0]
                 for d in ("2026-10-01", "2026-11-01"))
    assert nov == 0 and oct_ >= 1
    # 01:30 in Kyiv is 22:30 UTC the day before: the local date wins
    assert _daily(edge_home, "A", "2026-10-20", "calls_answered")[0] == 1
    assert _daily(edge_home, "A", "2026-10-19", "calls_answered")[0] == 0


def test_dst_night_durations_are_elapsed_time(edge_home: Home) -> None:
    started, ended, day = _one(edge_home, """SELECT started_at, ended_at, local_date FROM segment_facts
                                             WHERE contact_id = 'DST-1'""")
    assert ended - started == timedelta(minutes=40) and day == date(2026, 10, 25)
    assert _one(edge_home, "SELECT chat_active_ms FROM segment_facts WHERE contact_id = 'DST-C'")[0] == 2_400_000


def test_transfer_between_two_operators(edge_home: Home) -> None:
    rows = query(edge_home, """SELECT operator_id, end_reason, is_fcr_eligible, is_fcr_resolved FROM segment_facts
                               WHERE contact_id = 'TR-1' ORDER BY started_at""")
    assert rows == [("A", "transfer", True, False), ("B", "resolved", True, True)]
    assert _daily(edge_home, "A", "2026-10-14", "transfer_num", "transfer_rate", "fcr_num", "fcr_den") == (1, 1.0, 0, 1)
    # the team handled one contact and resolved it itself: team FCR 1/1
    team = _one(edge_home, """SELECT contacts_handled, fcr_num, fcr_den FROM team_period WHERE dimension = 'team'
                              AND dimension_value = 't1' AND grain = 'day' AND period_start = '2026-10-14'""")
    assert team == (1, 1, 1)


def test_handoff_to_a_higher_tier_is_an_escalation(edge_home: Home) -> None:
    assert _one(edge_home, """SELECT end_reason, escalation_target_tier FROM segment_facts
                              WHERE contact_id = 'ES-1' AND operator_id = 'A'""") == ("escalation", "L2")
    assert _daily(edge_home, "A", "2026-10-16", "escalation_num", "escalation_l2_n", "escalation_rate") == (1, 1, 1.0)
    # tier FCR: L1 handed it out (in the den, not the num); L2 resolved it (both)
    tiers = query(edge_home, """SELECT dimension_value, is_fcr_eligible, is_fcr_resolved FROM team_contact_facts
                                WHERE dimension = 'tier' AND contact_id = 'ES-1' ORDER BY 1""")
    assert tiers == [("L1", True, False), ("L2", True, True)]
    l2 = _one(edge_home, """SELECT fcr_num, fcr_den, contacts_handled FROM team_period WHERE dimension = 'tier'
                            AND dimension_value = 'L2' AND grain = 'day' AND period_start = '2026-10-16'""")
    assert l2 == (1, 1, 1)


def test_reopened_ticket(edge_home: Home) -> None:
    rows = query(edge_home, """SELECT local_date, end_reason, is_reopened, has_repeat, is_fcr_resolved
                               FROM segment_facts WHERE contact_id = 'RO-1' ORDER BY started_at""")
    # the reopen is a repeat for the first solve; the segment after it has its own window
    # (reopen 10-15 09:00, its solve 10:00 + 7 d] with nothing in it
    assert rows == [(date(2026, 10, 13), "resolved", True, True, False),
                    (date(2026, 10, 15), "resolved", False, False, True)]
    assert _daily(edge_home, "A", "2026-10-13", "reopen_num", "reopen_den", "fcr_num", "fcr_den") == (1, 1, 0, 1)
    contact = _one(edge_home, """SELECT resolution_ms, full_resolution_ms, resolution_business_ms,
        full_resolution_business_ms, is_reopened FROM contact_facts WHERE contact_id = 'RO-1'""")
    # created Tue 09:00, first solve 10:00 (1 h); last solve Thu 10:00: 9 h + 9 h + 1 h of business time
    assert contact == (3_600_000, 2 * 86_400_000 + 3_600_000, 3_600_000, 19 * 3_600_000, True)


def test_follow_up_ticket_is_a_repeat(edge_home: Home) -> None:
    assert _one(edge_home, """SELECT has_repeat, repeat_contact_id FROM contact_facts
                              WHERE contact_id = 'FU-1'""") == (True, "FU-2")
    assert _daily(edge_home, "B", "2026-10-13", "fcr_num", "fcr_den") == (0, 1)


def test_repeat_on_another_channel_and_non_repeats(edge_home: Home) -> None:
    assert _one(edge_home, """SELECT has_repeat, repeat_contact_type, repeat_contact_id FROM contact_facts
                              WHERE contact_id = 'RC-1'""") == (True, "chat", "RC-2")
    # RC-3: the same customer came back with another reason (RC-4), then after the window (RC-5): no repeat;
    # the short abandon SA-1 (same customer and reason, within the window) is never a repeat
    assert _one(edge_home, "SELECT has_repeat FROM contact_facts WHERE contact_id = 'RC-3'")[0] is False
    assert _daily(edge_home, "A", "2026-10-17", "fcr_num", "fcr_den", "fcr_rate") == (1, 2, 0.5)


def test_bot_replies_before_the_first_human_one(edge_home: Home) -> None:
    frt = dict(query(edge_home, "SELECT contact_id, frt_ms FROM contact_facts WHERE contact_id LIKE 'BOT-%'"))
    assert frt == {"BOT-1": 40 * 60_000, "BOT-2": 15 * 60_000}  # created 09:00 → human replies 09:40, 09:15
    owners = query(edge_home, """SELECT contact_id, operator_id, operator_first_reply_ms FROM segment_facts
                                 WHERE contact_id LIKE 'BOT-%' ORDER BY contact_id""")
    assert owners == [("BOT-1", "B", 30 * 60_000), ("BOT-2", "A", 10 * 60_000)]  # assign → own first reply
    assert not query(edge_home, "SELECT * FROM dq_unresolved_agents WHERE agent_id IN ('bot.ada', 'helper-bot')")


def test_unassign_on_resolve_keeps_the_resolution_and_the_csat(edge_home: Home) -> None:
    assert _one(edge_home, "SELECT operator_id, end_reason FROM segment_facts WHERE contact_id = 'UR-1'") == (
        "A", "resolved")
    assert _daily(edge_home, "A", "2026-10-21", "csat_top2_num", "csat_top2_den", "csat_mean", "csat_response_rate",
                  "csat_wilson_low", "csat_wilson_high") == pytest.approx(
        (1, 1, 5.0, 1.0, 1 / (1 + 1.959963984540054 ** 2), 1.0))  # Wilson 95% for 1/1: 1 / (1 + z²)


def test_unattributed_csat_counts_for_the_team_only(edge_home: Home) -> None:
    assert query(edge_home, "SELECT contact_id, score_value, team_id FROM dq_unattributed_csat") == [("SA-2", 1, "t1")]
    team = _one(edge_home, """SELECT csat_top2_num, csat_top2_den FROM team_period WHERE dimension = 'team'
                              AND dimension_value = 't1' AND grain = 'day' AND period_start = '2026-10-22'""")
    assert team == (0, 1)
    assert _one(edge_home, "SELECT sum(csat_top2_den) FROM operator_daily WHERE local_date = '2026-10-22'")[0] == 0


def test_operator_without_contacts_has_zero_counts_and_null_rates(edge_home: Home) -> None:
    rows = query(edge_home, """SELECT contacts_handled, calls_answered, fcr_num, fcr_den, fcr_rate, aht_phone_ms,
        csat_top2_rate, escalation_rate, occupancy, qa_n FROM operator_daily WHERE operator_id = 'D'""")
    days = _one(edge_home, "SELECT date_to - date_from + 1 FROM data_range")[0]
    assert len(rows) == days and set(rows) == {(0, 0, 0, 0, None, None, None, None, None, 0)}


def test_short_abandons_service_level_and_asa(edge_home: Home) -> None:
    q = _one(edge_home, """SELECT offered, answered, abandoned, short_abandoned, service_level_num, service_level_den,
        service_level, abandon_rate, asa_ms FROM queue_daily WHERE queue_id = 'qb' AND local_date = '2026-10-22'""")
    # offered 4, short 1: SL = 1 (AN-1 at 15 s) / 3; abandon = (2 − 1) / 3; ASA = (15 + 25) / 2 s
    assert q == pytest.approx((4, 2, 2, 1, 1, 3, 1 / 3, 1 / 3, 20_000.0))
    assert _one(edge_home, "SELECT is_short_abandon FROM contact_facts WHERE contact_id = 'SA-1'")[0] is True


def test_call_timing_out_of_one_queue_into_another(edge_home: Home) -> None:
    qa = _one(edge_home, """SELECT offered, timeout, answered, service_level FROM queue_daily
                            WHERE queue_id = 'qa' AND local_date = '2026-10-23'""")
    qb = _one(edge_home, """SELECT offered, answered, service_level, asa_ms FROM queue_daily
                            WHERE queue_id = 'qb' AND local_date = '2026-10-23'""")
    assert qa == (1, 1, 0, 0.0) and qb == (1, 1, 1.0, 10_000.0)
    # once to the team, waiting from the first entry (10:00:00) to the answer (10:00:40): 40 s > T = 20 s
    team = _one(edge_home, """SELECT offered, answered, service_level, asa_ms FROM team_period WHERE dimension = 'team'
                              AND dimension_value = 't1' AND grain = 'day' AND period_start = '2026-10-23'""")
    assert team == (1, 1, 0.0, 40_000.0)


def test_three_concurrent_chats(edge_home: Home) -> None:
    eff = dict(query(edge_home, "SELECT contact_id, chat_effective_ms FROM segment_facts WHERE contact_id LIKE 'CC-%'"))
    # n(t) = 1, 2, 3, 2, 1 over five 10-minute steps: CC-1 = 10 + 10/2 + 10/3 min, CC-2 = 10/2 + 10/3 + 10/2 min
    assert eff == {"CC-1": 1_100_000, "CC-2": 800_000, "CC-3": 1_100_000}
    row = _daily(edge_home, "E", "2026-10-14", "chats_handled", "aht_chat_ms", "chat_effective_handle_ms",
                 "avg_chat_concurrency", "avg_chat_concurrency_num_ms", "avg_chat_concurrency_den_ms")
    # 3 × 30 min of chats over 50 busy minutes
    assert row == pytest.approx((3, 1_800_000.0, 1_000_000.0, 1.8, 5_400_000, 3_000_000))


def test_aht_sums_only_components_reported_for_every_call(edge_home: Home) -> None:
    row = _daily(edge_home, "E", "2026-10-15", "aht_phone_ms", "aht_phone_num_ms", "aht_phone_den", "aht_components",
                 "aht_partial_n", "talk_ms", "hold_ms", "wrap_ms")
    # PC-1 reports talk, hold, wrap; PC-2 only talk: AHT = (100 + 200) / 2 s over talk only
    assert row == (150_000.0, 300_000, 2, "talk", 1, 300_000, 20_000, 30_000)


def test_business_hours_skip_holidays_and_weekends(edge_home: Home) -> None:
    rb = dict(query(edge_home, "SELECT contact_id, resolution_business_ms FROM contact_facts WHERE contact_id LIKE 'BH-%'"))
    # BH-1: Tue 17:00 → Thu 10:00 Moscow, Wed 2026-11-04 is Unity Day: 1 h + 1 h
    # BH-2: Fri 17:00 → Mon 10:00 Kyiv: 1 h + 1 h
    assert rb == {"BH-1": 7_200_000, "BH-2": 7_200_000}
    day = _one(edge_home, """SELECT is_day_off, business_minutes, holiday_name FROM int_business_hours__team_days
                             WHERE team_id = 't2' AND local_date = '2026-11-04'""")
    assert day[0] is True and day[1] == 0 and "Unity" in day[2]


def test_unresolved_agent_counts_for_queue_and_team_not_operators(edge_home: Home) -> None:
    assert query(edge_home, "SELECT unresolved_agent, legs_n FROM dq_unresolved_agents") == [("canonical:ghost-7", 1)]
    assert _one(edge_home, """SELECT answered FROM queue_daily WHERE queue_id = 'qa' AND local_date = '2026-10-24'""")[0] == 1
    team = _one(edge_home, """SELECT contacts_handled FROM team_period WHERE dimension = 'team'
                              AND dimension_value = 't1' AND grain = 'day' AND period_start = '2026-10-24'""")
    assert team == (1,)
    assert _one(edge_home, "SELECT sum(contacts_handled) FROM operator_daily WHERE local_date = '2026-10-24'")[0] == 0


def test_provisional_rows(edge_home: Home) -> None:
    # OLD-1 resolved 2026-09-01: more than 14 days before the latest event (2026-11-05) → settled
    assert _daily(edge_home, "A", "2026-09-01", "provisional")[0] is False
    # OPEN-1 is still open → its day stays provisional; so does every recent day
    assert _daily(edge_home, "B", "2026-09-02", "provisional")[0] is True
    assert _daily(edge_home, "A", "2026-10-31", "provisional")[0] is True
    assert _daily(edge_home, "D", "2026-09-01", "provisional")[0] is False  # nothing dated in it
    month = _one(edge_home, """SELECT provisional FROM operator_period WHERE operator_id = 'B' AND grain = 'month'
                               AND period_start = '2026-09-01'""")
    assert month == (True,)


def test_results_do_not_depend_on_the_process_timezone(edge_home: Home, tmp_path: Path) -> None:
    before = {m: table(edge_home, m) for m in ("segment_facts", "operator_daily", "queue_daily", "team_period")}
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Vladivostok" if old != "Asia/Vladivostok" else "America/Los_Angeles"
    time.tzset()
    try:
        rebuild(edge_home, CONFIG, full_refresh=True)
        after = {m: table(edge_home, m) for m in before}
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()
    assert after == before


def test_business_hours_parser() -> None:
    assert parse_business_hours("mon-fri 09:00-18:00; sat 10:00-14:00") == [
        (d, 540, 1080) for d in range(1, 6)] + [(6, 600, 840)]
    assert parse_business_hours("sun 22:00-02:00") == [(1, 0, 120), (7, 1320, 1440)]
    assert parse_business_hours("24/7") == [(d, 0, 1440) for d in range(1, 8)]
    with pytest.raises(OpkpiError, match="team x"):
        parse_business_hours("weekdays 9-18", team_id="x")


def test_missing_calendar_year_is_an_error_naming_team_and_year(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    d = tmp_path / "files"
    load(home, CONFIG,
         write_csv(d / "teams.csv", KINDS["teams"].names, [dict(team_id="far", name="Far", timezone="Europe/Moscow",
                                                                 holiday_country="RU", business_hours="mon-fri 09:00-18:00")]),
         write_csv(d / "queues.csv", KINDS["queues"].names, [dict(queue_id="qf", team_id="far", timezone="Europe/Moscow",
                                                                   channel="email")]),
         write_csv(d / "tickets.csv", KINDS["tickets"].names, [_ticket("FAR-1", "2031-03-03T10:00:00+03:00",
                                                                        email="far@example.com", queue="qf")]))
    with pytest.raises(OpkpiError, match=r"team far in 2031"):
        rebuild(home, CONFIG)


def test_fcr_policy_escalations_excluded_customers_and_all_repliers(edge_home: Home, tmp_path: Path) -> None:
    import shutil

    home = Home(tmp_path / "copy")
    shutil.copytree(edge_home.root, home.root, ignore=shutil.ignore_patterns(".lock"))
    config = CONFIG.model_copy(update={
        "fcr": CONFIG.fcr.model_copy(update={"policy_escalation_reasons": ["r4"],
                                             "exclude_customers": ["+380 50 100 0003"]}),
        "csat": CONFIG.csat.model_copy(update={"attribution": "all_repliers"})})
    assert rebuild(home, config).mode == "full"
    # ES-1 (reason r4) escalated by policy: out of A's FCR denominator; C still resolved it
    assert _daily(home, "A", "2026-10-16", "fcr_num", "fcr_den", "escalation_num") == (0, 0, 1)
    # TR-1's customer is excluded (the same number written another way): neither leg counts
    assert _daily(home, "A", "2026-10-14", "fcr_den")[0] == 0
    assert _daily(home, "B", "2026-10-14", "fcr_num", "fcr_den") == (0, 0)
    # all_repliers: the UR-1 response still goes to A, its only replier
    assert _daily(home, "A", "2026-10-21", "csat_top2_num", "csat_top2_den") == (1, 1)
