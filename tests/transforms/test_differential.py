"""Differential test (issue 3, done-when 2): on the generated sample, AHT, FCR and CSAT per operator
and day from `operator_daily` equal a plain-Python reading of DESIGN §3–§4 over the raw_* tables.

The reference below deliberately shares no code or SQL with the engine: loops over rows, dicts,
`zoneinfo` for local dates. A ticket segment after a reopen is judged on its own episode's window
(reopen, next solve + 7 d], as the golden fixtures specify. It follows the definitions as written in DESIGN.md and the decisions in
docs/DECISIONS.md (ticket ownership, handoffs, CSAT attribution order).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.core.config import Config

from .conftest import query, raw

WINDOW = timedelta(days=Config().fcr.window_days)
CUTOFF = timedelta(days=Config().csat.cutoff_days)
SHORT_CALL, SHORT_CHAT = Config().queues.short_abandon_s, Config().chat.short_abandon_s
TYPE_RANK = {"assign": 0, "transfer": 0, "escalate": 0, "reopen": 1, "reply": 2, "note": 2, "solve": 3,
             "unassign": 4}


def _ld(ts: datetime, tz: str) -> date:
    return ts.astimezone(ZoneInfo(tz)).date()


class Reference:
    def __init__(self, home) -> None:
        self.ops: dict[str, list[dict]] = defaultdict(list)
        for v in raw(home, "raw_operators"):
            v["valid_to"] = v["valid_to"] or date(9999, 12, 31)
            self.ops[v["operator_id"]].append(v)
        for vs in self.ops.values():
            vs.sort(key=lambda v: v["valid_from"])
        self.idents = raw(home, "raw_operator_identities")
        self.queues = {q["queue_id"]: q for q in raw(home, "raw_queues")}
        self.calls = raw(home, "raw_calls")
        self.chats = raw(home, "raw_chats")
        self.tickets = {t["ticket_id"]: t for t in raw(home, "raw_tickets") if t["status"] not in ("deleted", "merged")}
        self.events = raw(home, "raw_ticket_events")
        self.responses = raw(home, "raw_csat_responses")
        self.sent = raw(home, "raw_surveys_sent")

    # --- operators ------------------------------------------------------------------------------
    def version_at(self, op: str, ts: datetime) -> dict | None:
        vs = self.ops.get(op)
        if not vs:
            return None
        for v in vs:
            if v["valid_from"] <= _ld(ts, v["timezone"]) < v["valid_to"]:
                return v

        def dist(v: dict) -> int:
            d = _ld(ts, v["timezone"])
            return (v["valid_from"] - d).days if d < v["valid_from"] else (d - v["valid_to"]).days
        return min(vs, key=lambda v: (dist(v), -v["valid_from"].toordinal()))

    def resolve(self, system: str | None, agent: str | None, ts: datetime) -> str | None:
        if agent is None:
            return None
        system = system or "canonical"
        hits = []
        for i in self.idents:
            if i["source_id"] == agent and i["source_system"] == system:
                tz = self.ops[i["operator_id"]][-1]["timezone"] if i["operator_id"] in self.ops else "UTC"
                d = _ld(ts, tz)
                if i["valid_from"] <= d < (i["valid_to"] or date(9999, 12, 31)):
                    hits.append(i)
        if hits:
            return max(hits, key=lambda i: i["valid_from"])["operator_id"]
        return agent if agent in self.ops else None

    # --- segments ---------------------------------------------------------------------------------
    def segments(self) -> list[dict]:
        segs: list[dict] = []
        for kind, rows, key, start_col in (("call", self.calls, "call_id", "answered_at"),
                                           ("chat", self.chats, "chat_id", "accepted_at")):
            by_contact: dict[str, list[dict]] = defaultdict(list)
            for r in rows:
                if r[start_col] is not None and r["agent_id"] is not None:
                    by_contact[r[key]].append(r)
            for cid, legs in by_contact.items():
                legs.sort(key=lambda r: r["leg"])
                for i, r in enumerate(legs):
                    op = self.resolve(r["source_system"], r["agent_id"], r[start_col])
                    agent_key = op or f"?{r['agent_id']}"
                    reason = r["end_reason"]
                    target = None
                    if i + 1 < len(legs):
                        nxt = legs[i + 1]
                        target = self.resolve(nxt["source_system"], nxt["agent_id"], nxt[start_col])
                        target_key = target or f"?{nxt['agent_id']}"
                    if reason is None:
                        if r["outcome"] == "in_progress":
                            reason = "open"
                        elif i + 1 < len(legs) and target_key != agent_key:
                            reason = self._handoff(op, r[start_col], target, legs[i + 1][start_col], None, False)
                        else:
                            reason = "resolved"
                    segs.append(dict(kind=kind, contact=cid, op=op, start=r[start_col], end=r["ended_at"],
                                     end_reason=reason, talk=r.get("talk_s"), hold=r.get("hold_s"),
                                     wrap=r.get("wrap_s")))
        segs += self.ticket_segments()
        for s in segs:
            v = self.version_at(s["op"], s["start"]) if s["op"] else None
            s["date"] = _ld(s["start"], v["timezone"]) if v else None
        return segs

    def _handoff(self, op, at, target, target_at, hint, is_escalate) -> str:
        mine = self.version_at(op, at)["tier"] if op else None
        theirs = (self.version_at(target, target_at)["tier"] if target else None) or hint
        if mine is None or theirs is None:
            return "escalation" if is_escalate else "transfer"
        return "escalation" if theirs > mine else "transfer"

    def ticket_segments(self) -> list[dict]:
        by_ticket: dict[str, list[dict]] = defaultdict(list)
        for e in self.events:
            if e["ticket_id"] in self.tickets:
                by_ticket[e["ticket_id"]].append(e)
        segs = []
        for tid, evs in by_ticket.items():
            evs.sort(key=lambda e: (e["at"], TYPE_RANK.get(e["event_type"], 5), e["event_id"]))
            owner = explicit = None
            prev_type = None
            intervals: list[dict] = []
            for n, e in enumerate(evs):
                human = e["author_type"] == "operator" and e["author_id"] is not None
                author = self.resolve(e["source_system"], e["author_id"], e["at"]) if human else None
                author = author or (f"?{e['author_id']}" if human else None)
                assignee = self.resolve(e["source_system"], e["assignee_id"], e["at"]) if e["assignee_id"] else None
                if e["assignee_id"] and assignee is None:
                    assignee = f"?{e['assignee_id']}"
                t = e["event_type"]
                new = owner
                if t in ("assign", "transfer", "escalate"):
                    explicit = new = assignee
                elif t == "unassign":
                    explicit = new = None
                elif t == "solve" and human:
                    explicit = new = author
                elif t == "reply" and human and e["is_public"] is not False and explicit is None:
                    new = author
                if n == 0 or new != owner or prev_type == "solve":
                    intervals.append(dict(owner=new, assigned=e["at"], first_reply=None, solved=None,
                                          owner_solved=False, start_event=e))
                owner = new
                cur = intervals[-1]
                if t == "reply" and human and e["is_public"] is not False and author == owner and cur["first_reply"] is None:
                    cur["first_reply"] = e["at"]
                if t == "solve":
                    cur["solved"] = e["at"]
                    cur["owner_solved"] = cur["owner_solved"] or (human and author == owner)
                prev_type = t
            for k, iv in enumerate(intervals):
                if iv["owner"] is None or (iv["first_reply"] is None and not iv["owner_solved"]):
                    continue
                starts = [x for x in (iv["first_reply"], iv["solved"] if iv["owner_solved"] else None) if x]
                nxt = intervals[k + 1] if k + 1 < len(intervals) else None
                op = None if iv["owner"].startswith("?") else iv["owner"]
                if iv["solved"] is not None:
                    reason, end = "resolved", iv["solved"]
                elif nxt is None:
                    reason, end = "open", None
                elif nxt["start_event"]["event_type"] == "unassign":
                    reason, end = "unassigned", nxt["assigned"]
                else:
                    target = nxt["owner"] if nxt["owner"] and not nxt["owner"].startswith("?") else None
                    reason = self._handoff(op, min(starts), target, nxt["assigned"],
                                           nxt["start_event"]["target_tier"],
                                           nxt["start_event"]["event_type"] == "escalate")
                    end = nxt["assigned"]
                segs.append(dict(kind="ticket", contact=tid, op=op, start=min(starts), end=end, end_reason=reason,
                                 talk=None, hold=None, wrap=None))
        return segs

    # --- contacts -----------------------------------------------------------------------------------
    def contacts(self, segs: list[dict]) -> dict[tuple[str, str], dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, rows, key, q_col, a_col, short in (("call", self.calls, "call_id", "enqueued_at", "answered_at", SHORT_CALL),
                                                      ("chat", self.chats, "chat_id", "queued_at", "accepted_at", SHORT_CHAT)):
            by: dict[str, list[dict]] = defaultdict(list)
            for r in rows:
                by[r[key]].append(r)
            for cid, legs in by.items():
                legs.sort(key=lambda r: r["leg"])
                first = next((r[k] for r in legs for k in ("customer_key",) if r[k]), None)
                source = next((r["customer_key_source"] for r in legs if r["customer_key_source"]), None)
                created = min(r[q_col] or r[a_col] or r["ended_at"] for r in legs)
                answered = any(r[a_col] for r in legs)
                out[(kind, cid)] = dict(
                    direction=legs[0]["direction"] or "inbound", key=first, source=source,
                    reason=next((r["reason_code"] for r in legs if r["reason_code"]), None),
                    queue=next((r["queue_id"] for r in legs if r["queue_id"]), None), created=created,
                    short=(not answered and legs[-1]["outcome"] == "abandoned"
                           and (max(r["ended_at"] for r in legs) - created).total_seconds() < short),
                    auto=False, follow_up_of=None)
        for tid, t in self.tickets.items():
            out[("ticket", tid)] = dict(direction=t["direction"], key=t["customer_key"], source=t["customer_key_source"],
                                        reason=t["reason_code"], queue=t["queue_id"], created=t["created_at"],
                                        short=False, auto=bool(t["is_auto_reply"]), follow_up_of=t["follow_up_of"])
        solves: dict[str, list[datetime]] = defaultdict(list)
        self.solves = solves
        self.reopens: dict[str, list[datetime]] = defaultdict(list)
        for e in self.events:
            if e["event_type"] == "solve":
                solves[e["ticket_id"]].append(e["at"])
            if e["event_type"] == "reopen":
                self.reopens[e["ticket_id"]].append(e["at"])
        by_contact: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for s in segs:
            by_contact[(s["kind"], s["contact"])].append(s)
        for ck, c in out.items():
            ss = by_contact.get(ck, [])
            if ck[0] == "ticket":
                c["resolved_at"] = min(solves[ck[1]]) if solves.get(ck[1]) else None
            else:
                res = [s["end"] for s in ss if s["end_reason"] == "resolved"]
                c["resolved_at"] = min(res) if res else None
            ends = [s["end"] or s["start"] for s in ss]
            c["anchor"] = c["resolved_at"] or (max(ends) if ends else c["created"])
        return out

    def episode(self, s: dict) -> int:
        """A ticket segment after a reopen belongs to that reopen's episode."""
        if s["kind"] != "ticket":
            return 0
        return sum(1 for r in self.reopens.get(s["contact"], []) if r < s["start"])

    def has_repeat(self, ck: tuple[str, str], contacts: dict, episode: int = 0) -> bool:
        c = contacts[ck]
        lo, hi = c["created"], c["anchor"] + WINDOW
        if episode:
            lo = sorted(self.reopens[ck[1]])[episode - 1]
            solves = [t for t in self.solves.get(ck[1], []) if t > lo]
            hi = (min(solves) if solves else lo) + WINDOW
        if ck[0] == "ticket":
            if any(lo < r <= hi for r in self.reopens.get(ck[1], [])):
                return True
            for ok, o in contacts.items():
                if ok[0] == "ticket" and o["follow_up_of"] == ck[1] and lo < o["created"] <= hi:
                    return True
        if c["key"] is None:
            return False
        for ok, o in contacts.items():
            if ok == ck or o["key"] != c["key"] or not (lo < o["created"] <= hi):
                continue
            if o["direction"] != "inbound" or o["short"] or o["auto"]:
                continue
            if c["reason"] and o["reason"]:
                if c["reason"] == o["reason"]:
                    return True
            elif c["queue"] == o["queue"]:  # fcr.reason_fallback = "queue" (default)
                return True
        return False

    # --- the three KPIs per operator and day ---------------------------------------------------------
    def cells(self) -> dict[tuple[str, date], dict[str, Any]]:
        segs = self.segments()
        contacts = self.contacts(segs)
        cells: dict[tuple[str, date], dict[str, Any]] = defaultdict(
            lambda: dict(phone=[], fcr_num=0, fcr_den=0, top2_num=0, top2_den=0))
        for s in segs:
            if s["op"] is None:
                continue
            cell = cells[(s["op"], s["date"])]
            if s["kind"] == "call":
                cell["phone"].append(s)
            c = contacts[(s["kind"], s["contact"])]
            eligible = (c["direction"] == "inbound" and c["key"] is not None and c["source"] != "anonymous"
                        and s["end_reason"] in ("resolved", "transfer", "escalation"))
            if eligible:
                cell["fcr_den"] += 1
                if s["end_reason"] == "resolved" and not self.has_repeat((s["kind"], s["contact"]), contacts,
                                                                         self.episode(s)):
                    cell["fcr_num"] += 1
        for cell in cells.values():
            comps = [n for n in ("talk", "hold", "wrap") if cell["phone"] and all(s[n] is not None for s in cell["phone"])]
            total = sum(round(s[n] * 1000) for s in cell["phone"] for n in comps)
            cell["aht_phone_num_ms"] = total if comps else None
            cell["aht_phone_den"] = len(cell["phone"])
        self._csat(segs, contacts, cells)
        return cells

    def _csat(self, segs: list[dict], contacts: dict, cells: dict) -> None:
        valid = {"1-5": {str(i): i >= 4 for i in range(1, 6)}, "0-10": {str(i): i >= 9 for i in range(11)},
                 "good_bad": {"good": True, "bad": False}}
        kept: dict[tuple, dict] = {}
        for r in self.responses:
            ck = (r["contact_type"], r["contact_id"])
            score = (r["score"] or "").strip().lower()
            if score.endswith(".0"):
                score = score[:-2]
            if ck not in contacts or score not in valid.get(r["scale"], {}):
                continue
            if r["received_at"] > contacts[ck]["anchor"] + CUTOFF:
                continue
            k = (*ck, r["survey_id"] or "")
            if k not in kept or (r["received_at"], r["response_id"]) > (kept[k]["received_at"], kept[k]["response_id"]):
                kept[k] = {**r, "top": valid[r["scale"]][score]}
        snapshot = {s["survey_id"]: s for s in sorted(self.sent, key=lambda s: s["sent_at"], reverse=True)}
        by_contact: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for s in segs:
            if s["op"] is not None:
                by_contact[(s["kind"], s["contact"])].append(s)
        for (ctype, cid, survey), r in kept.items():
            ref = r["received_at"]
            ss = by_contact.get((ctype, cid), [])
            chosen = None
            sent = snapshot.get(survey)
            if sent and sent["assignee_id"] and sent["contact_id"] == cid:
                who = self.resolve(sent.get("source_system"), sent["assignee_id"], sent["sent_at"])
                mine = [s for s in ss if s["op"] == who]
                before = [s for s in mine if s["start"] <= ref]
                chosen = max(before, key=lambda s: s["start"]) if before else (min(mine, key=lambda s: s["start"]) if mine else None)
            if chosen is None:
                solved = [s for s in ss if s["end_reason"] == "resolved" and s["end"] <= ref]
                chosen = max(solved, key=lambda s: s["end"]) if solved else None
            if chosen is None:
                replied = [s for s in ss if s["start"] <= ref]
                chosen = max(replied, key=lambda s: s["start"]) if replied else None
            if chosen is not None:
                cell = cells[(chosen["op"], chosen["date"])]
                cell["top2_den"] += 1
                cell["top2_num"] += int(r["top"])


def test_aht_fcr_csat_per_operator_and_day_match_an_independent_implementation(sample_template) -> None:
    from pipeline.core.home import Home

    _, root = sample_template
    home = Home(root)
    expected = Reference(home).cells()
    cols = ("operator_id", "local_date", "aht_phone_num_ms", "aht_phone_den", "aht_phone_ms", "fcr_num", "fcr_den",
            "fcr_rate", "csat_top2_num", "csat_top2_den")
    con_rows = {(r[0], r[1]): dict(zip(cols, r, strict=True)) for r in _select(home, cols)}
    assert sum(c["aht_phone_den"] for c in expected.values()) > 500, "the sample should hold calls"
    assert sum(c["fcr_den"] for c in expected.values()) > 500
    assert sum(c["top2_den"] for c in expected.values()) > 100
    mismatches = []
    for key, want in sorted(expected.items()):
        got = con_rows.get(key)
        if got is None:
            mismatches.append((key, "missing in operator_daily"))
            continue
        pairs = {"aht_phone_num_ms": want["aht_phone_num_ms"], "aht_phone_den": want["aht_phone_den"],
                 "fcr_num": want["fcr_num"], "fcr_den": want["fcr_den"],
                 "csat_top2_num": want["top2_num"], "csat_top2_den": want["top2_den"]}
        diff = {k: (got[k], v) for k, v in pairs.items() if got[k] != v}
        if want["aht_phone_den"] and want["aht_phone_num_ms"] is not None:
            aht = want["aht_phone_num_ms"] / want["aht_phone_den"]
            if abs(got["aht_phone_ms"] - aht) > 1e-6:
                diff["aht_phone_ms"] = (got["aht_phone_ms"], aht)
        if diff:
            mismatches.append((key, diff))
    # operator-days the reference never saw must be empty in the mart
    for key, got in con_rows.items():
        if key not in expected and (got["aht_phone_den"] or got["fcr_den"] or got["csat_top2_den"]):
            mismatches.append((key, "figures the reference does not have"))
    assert not mismatches, mismatches[:10]


def _select(home, cols):
    return query(home, f"SELECT {', '.join(cols)} FROM operator_daily")
