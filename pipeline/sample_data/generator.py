"""`generate()`: a deterministic, realistic month of a contact center as canonical CSV files.

The run: roster (teams, operators, shifts) → pools → an event loop over call, chat and ticket
arrivals (repeats, escalations, surveys happen as they go) → QA evaluations → deliberately bad
rows → one CSV per kind plus `EXPECTED_QUARANTINE.toml`. Everything draws from random streams
seeded by `seed`, no wall clock, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import csv
import random
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipeline.core.errors import UsageError
from pipeline.sample_data.clock import DAY_S, KYIV, Formatter, local_ts
from pipeline.sample_data.contacts import schedule_arrivals
from pipeline.sample_data.faults import FILE_NAME, build_faults, insert_faults, write_expected
from pipeline.sample_data.feedback import qa_evaluations
from pipeline.sample_data.people import CustomerBook
from pipeline.sample_data.pools import Member, Pool
from pipeline.sample_data.roster import QUEUES, ROLE_POOLS, TEAMS, Roster, build_roster
from pipeline.sample_data.tickets import schedule_tickets
from pipeline.sample_data.world import Row, Segment, World

# The columns written per kind: the contract's names, in its order (tests check the subset).
COLUMNS: dict[str, tuple[str, ...]] = {
    "teams": ("team_id", "name", "timezone", "holiday_country", "business_hours", "updated_at"),
    "queues": ("queue_id", "team_id", "timezone", "channel", "sl_threshold_s", "updated_at"),
    "operators": ("operator_id", "display_name", "team_id", "tier", "timezone", "valid_from", "valid_to",
                  "languages", "employment_type", "fte", "hire_date", "probation_end", "termination_date",
                  "pay_plan_id", "updated_at"),
    "operator_identities": ("source_system", "source_id", "operator_id", "valid_from", "valid_to"),
    "shifts": ("shift_id", "operator_id", "start_at", "end_at", "shift_type", "unpaid_break_min"),
    "agent_states": ("operator_id", "state", "started_at", "ended_at", "reason"),
    "calls": ("call_id", "leg", "direction", "queue_id", "agent_id", "source_system", "customer_phone",
              "reason_code", "language", "enqueued_at", "answered_at", "ended_at", "outcome", "end_reason",
              "transfer_to", "talk_s", "hold_s", "wrap_s"),
    "chats": ("chat_id", "leg", "channel", "direction", "queue_id", "agent_id", "source_system", "customer_phone",
              "customer_email", "reason_code", "language", "queued_at", "accepted_at", "first_reply_at",
              "ended_at", "outcome", "end_reason", "transfer_to", "is_bot_handoff", "wrap_s"),
    "tickets": ("ticket_id", "channel", "direction", "created_at", "updated_at", "status", "customer_email",
                "customer_id", "reason_code", "language", "queue_id", "assignee_id", "is_auto_reply",
                "follow_up_of", "tracked_time_s"),
    "ticket_events": ("event_id", "ticket_id", "at", "event_type", "author_id", "author_type", "is_public",
                      "assignee_id", "target_tier"),
    "surveys_sent": ("survey_id", "contact_type", "contact_id", "sent_at", "assignee_id", "scale"),
    "csat_responses": ("response_id", "survey_id", "contact_type", "contact_id", "received_at", "scale", "score",
                       "language"),
    "qa_evaluations": ("evaluation_id", "version", "contact_type", "contact_id", "operator_id", "evaluator_id",
                       "form_id", "evaluated_at", "score", "is_auto_fail", "is_calibration"),
}

MIN_OPERATORS = 10
MIN_DAYS = 7


def generate(out: Path, *, operators: int = 40, days: int = 30, seed: int = 42,
             start: date = date(2026, 10, 12)) -> dict[str, Any]:
    """Write the sample into `out` and return a summary: files with row counts, planted cases."""
    if operators < MIN_OPERATORS:
        raise UsageError(f"Attempted to generate sample data for {operators} operators, but every team and "
                         f"planted case needs someone", f"Pass --operators {MIN_OPERATORS} or more")
    if days < MIN_DAYS:
        raise UsageError(f"Attempted to generate sample data for {days} days, but the planted team move, hire "
                         "and leaver sit mid-window", f"Pass --days {MIN_DAYS} or more")
    began = time.perf_counter()
    roster = build_roster(random.Random(f"{seed}:roster"), operators, start, days)
    lo = local_ts(start, 0, 0, KYIV)
    cutoff = local_ts(start + timedelta(days=days), 0, 0, KYIV)
    w = World(roster=roster, pools=_pools(roster, random.Random(f"{seed}:skills")), lo=lo, cutoff=cutoff,
              fmt=Formatter(lo - 2 * DAY_S, cutoff + 30 * DAY_S),
              customers=CustomerBook(random.Random(f"{seed}:customers")), rng=random.Random(f"{seed}:contacts"))
    schedule_arrivals(w)
    schedule_tickets(w)
    w.run()

    files = _tables(w, random.Random(f"{seed}:qa"))
    _plant_roster_cases(w)
    contacts = {"calls": len({r["call_id"] for r in files["calls"]}),
                "chats": len({r["chat_id"] for r in files["chats"]}), "tickets": len(files["tickets"])}
    fault_rng = random.Random(f"{seed}:faults")
    faults = build_faults(fault_rng, files, w.next_id)
    insert_faults(fault_rng, files, COLUMNS, faults)

    out.mkdir(parents=True, exist_ok=True)
    for kind, rows in files.items():
        _write_csv(out / f"{kind}.csv", COLUMNS[kind], rows)
    write_expected(out / FILE_NAME, faults, seed)
    return {
        "out": str(out),
        "window": {"first_day": start.isoformat(), "last_day": (start + timedelta(days=days - 1)).isoformat(),
                   "timezone": KYIV},
        "files": {f"{kind}.csv": len(rows) for kind, rows in files.items()},
        "contacts": contacts,
        "planted": w.planted,
        "quarantine": [{"file": f"{f.file}.csv", "line": f.line, "rule_id": f.rule_id, "column": f.column_index}
                       for f in faults],
        "seconds": round(time.perf_counter() - began, 2),
    }


def _pools(roster: Roster, rng: random.Random) -> dict[str, Pool]:
    pools: dict[str, Pool] = {}
    for q in QUEUES.values():
        if q.pool not in pools:
            pools[q.pool] = Pool(q.pool, TEAMS[q.team_id].tier)
    for op in roster.operators:
        for period in op.periods:
            slots = 3 if period.role == "chat" else 1
            member = Member(op, [0] * slots)
            for shift in op.shifts:
                if shift.worked and shift.team_id == period.team_id and shift.role == period.role:
                    member.add_shift(shift)
            for name in ROLE_POOLS[(period.team_id, period.role)]:
                pools[name].members.append(member)
            # Most of the day phone floor also has the billing skill (never nobody).
            if (period.team_id, period.role) == ("l1_day", "phone") and (
                    rng.random() < 0.7 or not pools["phone_billing"].members):
                pools["phone_billing"].members.append(member)
    return pools


def _tables(w: World, qa_rng: random.Random) -> dict[str, list[Row]]:
    roster = w.roster
    calls = sorted(w.calls, key=lambda r: (r["call_id"], int(r["leg"])))
    chats = sorted(w.chats, key=lambda r: (r["chat_id"], int(r["leg"])))
    tickets = sorted(w.tickets, key=lambda r: r["ticket_id"])
    events = [{"event_id": f"TE-{i + 1:07d}", **row}
              for i, (_, _, row) in enumerate(sorted(w.events, key=lambda e: (e[0], e[1])))]
    w.numbered("TE", len(events))
    surveys, responses = _csat(w)
    return {
        "teams": _teams(w), "queues": _queues(w), "operators": _operators(w),
        "operator_identities": _identities(roster), "shifts": _shifts(w), "agent_states": _agent_states(w),
        "calls": calls, "chats": chats, "tickets": tickets, "ticket_events": events,
        "surveys_sent": surveys, "csat_responses": responses, "qa_evaluations": qa_evaluations(w, qa_rng),
    }


def _stamp(w: World, day: date) -> str:
    return w.ts(local_ts(day, 9, 0, KYIV), KYIV)


def _teams(w: World) -> list[Row]:
    at = _stamp(w, w.roster.start - timedelta(days=30))
    return [{"team_id": t.team_id, "name": t.name, "timezone": t.timezone, "holiday_country": t.holiday_country,
             "business_hours": t.business_hours, "updated_at": at} for t in TEAMS.values()]


def _queues(w: World) -> list[Row]:
    at = _stamp(w, w.roster.start - timedelta(days=30))
    return [{"queue_id": q.queue_id, "team_id": q.team_id, "timezone": TEAMS[q.team_id].timezone,
             "channel": q.channel, "sl_threshold_s": str(q.sl_threshold_s), "updated_at": at}
            for q in QUEUES.values()]


def _operators(w: World) -> list[Row]:
    rows: list[Row] = []
    for op in w.roster.operators:
        changed = op.hire_date
        if len(op.periods) > 1:
            changed = w.roster.move_date - timedelta(days=7)  # HR entered the move a week ahead
        if op.termination_date is not None:
            changed = w.roster.start + timedelta(days=1)
        for p in op.periods:
            rows.append({
                "operator_id": op.operator_id, "display_name": op.display_name, "team_id": p.team_id,
                "tier": op.tier, "timezone": TEAMS[p.team_id].timezone, "valid_from": p.start.isoformat(),
                "valid_to": p.end.isoformat() if p.end else "", "languages": ",".join(op.languages),
                "employment_type": op.employment_type, "fte": f"{op.fte:.1f}", "hire_date": op.hire_date.isoformat(),
                "probation_end": op.probation_end.isoformat(),
                "termination_date": op.termination_date.isoformat() if op.termination_date else "",
                "pay_plan_id": op.pay_plan_id, "updated_at": _stamp(w, changed)})
    return rows


def _identities(roster: Roster) -> list[Row]:
    rows: list[Row] = []
    for op in roster.operators:
        if op.extension is None:
            continue
        night = op.periods[0]
        rows.append({"source_system": "asterisk", "source_id": op.extension, "operator_id": op.operator_id,
                     "valid_from": night.start.isoformat(), "valid_to": night.end.isoformat() if night.end else ""})
    rows.sort(key=lambda r: (r["source_id"], r["valid_from"]))
    return rows


def _shifts(w: World) -> list[Row]:
    all_shifts = sorted((s for op in w.roster.operators for s in op.shifts), key=lambda s: (s.start, s.operator_id))
    rows: list[Row] = []
    for i, s in enumerate(all_shifts):
        s.shift_id = f"SH-{i + 1:05d}"
        tz = TEAMS[s.team_id].timezone
        rows.append({"shift_id": s.shift_id, "operator_id": s.operator_id, "start_at": w.ts(s.start, tz),
                     "end_at": w.ts(s.end, tz), "shift_type": s.shift_type, "unpaid_break_min": str(s.unpaid_break_min)})
    return rows


def _agent_states(w: World) -> list[Row]:
    spans: list[tuple[int, str, str, int, str, str]] = []
    for op in w.roster.operators:
        for s in op.shifts:
            if not s.worked:
                continue
            tz = TEAMS[s.team_id].timezone
            spans.append((s.login, op.operator_id, "logged_in", s.logout, "", tz))
            spans.extend((a, op.operator_id, "paused", b, reason, tz) for a, b, reason in s.pauses)
    night_tz = TEAMS["l1_night"].timezone
    spans.extend((a, op_id, "paused", b, reason, night_tz) for op_id, a, b, reason in w.acw)
    spans.sort(key=lambda x: (x[0], x[1], x[2]))
    return [{"operator_id": op_id, "state": state, "started_at": w.ts(a, tz), "ended_at": w.ts(b, tz),
             "reason": reason} for a, op_id, state, b, reason, tz in spans]


def _csat(w: World) -> tuple[list[Row], list[Row]]:
    surveys: list[Row] = []
    answered: list[tuple[int, int, int, Row]] = []
    for i, s in enumerate(sorted(w.surveys, key=lambda s: (s.sent, s.seq))):
        s.survey_id = f"SV-{i + 1:06d}"
        surveys.append({"survey_id": s.survey_id, "contact_type": s.contact_type, "contact_id": s.contact_id,
                        "sent_at": w.ts(s.sent, s.tz), "assignee_id": s.assignee or "", "scale": s.scale})
        for j, (received, score) in enumerate(s.responses):
            answered.append((received, s.seq, j, {
                "survey_id": s.survey_id, "contact_type": s.contact_type, "contact_id": s.contact_id,
                "received_at": w.ts(received, s.tz), "scale": s.scale, "score": score, "language": s.language}))
    answered.sort(key=lambda a: (a[0], a[1], a[2]))
    responses = [{"response_id": f"CR-{i + 1:06d}", **row} for i, (_, _, _, row) in enumerate(answered)]
    w.numbered("CR", len(responses))
    return surveys, responses


def _plant_roster_cases(w: World) -> None:
    r = w.roster
    w.planted.update({
        "team_move": {"operator_id": r.mover.operator_id, "from_team": r.mover.periods[0].team_id,
                      "to_team": r.mover.periods[1].team_id, "on": r.move_date.isoformat()},
        "new_hire": {"operator_id": r.new_hire.operator_id, "hire_date": r.new_hire.hire_date.isoformat()},
        "leaver": {"operator_id": r.leaver.operator_id,
                   "termination_date": r.leaver.termination_date.isoformat() if r.leaver.termination_date else ""},
        "reused_extension": {"source_id": r.reused_extension, "before": r.mover.operator_id,
                             "after": r.new_hire.operator_id},
        "asterisk_operators": {o.extension: o.operator_id for o in r.operators if o.extension and o is not r.new_hire},
    })
    if r.local_channel_operator is not None:
        w.planted["local_channel_operator"] = r.local_channel_operator.operator_id
    w.planted["three_concurrent_chats"] = _three_chats(w.segments)


def _three_chats(segments: list[Segment]) -> dict[str, Any] | None:
    """The first moment an operator has three chats open at once."""
    by_op: dict[str, list[Segment]] = {}
    for s in segments:
        if s.contact_type == "chat":
            by_op.setdefault(s.op.operator_id, []).append(s)
    best: tuple[int, str, list[str]] | None = None
    for op_id, segs in by_op.items():
        segs.sort(key=lambda s: (s.start, s.contact_id))
        active: list[Segment] = []
        for s in segs:
            active = [a for a in active if a.end > s.start]
            active.append(s)
            if len(active) == 3:
                if best is None or (s.start, op_id) < best[:2]:
                    best = (s.start, op_id, [a.contact_id for a in active])
                break
    if best is None:
        return None
    return {"operator_id": best[1], "chat_ids": best[2]}


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
