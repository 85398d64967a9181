"""Tickets (e-mail and social): each one's life as events, from creation to solve and close.

Ticket workers are not a queueing simulation: they reply the next time they are logged in, so
a ticket that arrives at night waits for the morning shift, and what is still open at the cutoff
stays open (status and assignee are the latest before it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.sample_data.clock import DAY_S, HOUR_S, MOSCOW, local_ts
from pipeline.sample_data.contacts import offer_survey, op_factor
from pipeline.sample_data.people import Customer, format_email
from pipeline.sample_data.pools import Member
from pipeline.sample_data.roster import Operator
from pipeline.sample_data.world import Row, Segment, Survey, World

# With ~500 s of work per ticket, 6.5 an hour keeps e-mail occupancy under 100% (measured ~90%).
TICKETS_PER_AGENT_HOUR = 6.5
HORIZON_S = 5 * DAY_S
P_OUTBOUND = 0.01
P_AUTO_REPLY = 0.022
P_BOT = {"email": 0.03, "social": 0.12}
P_ESCALATE = {"L1": 0.12, "L2": 0.12}
P_TRANSFER = 0.03
P_REOPEN = 0.05
BOT_ID = "bot.ada"
# Share of a day's e-mail and social posts arriving in each local hour.
_PROFILE = (1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 4.0, 6.0, 7.0, 7.0, 6.5, 6.5, 6.0, 6.0, 5.5, 5.0,
            4.5, 4.0, 3.5, 3.0, 2.5, 1.5)
_NEXT_POOL = {"L1": ("tickets_l2", "q_l2_tickets", "L2"), "L2": ("tickets_l3", "q_l3_tickets", "L3")}


def schedule_tickets(w: World) -> None:
    pool = w.pools["tickets_l1"]
    total = sum(_PROFILE)
    for offset in range(w.roster.days):
        day_lo = local_ts(w.roster.start, 0, 0, MOSCOW) + offset * DAY_S
        agent_s = pool.agent_seconds(day_lo, 1, DAY_S)[0]
        volume = agent_s / HOUR_S * TICKETS_PER_AGENT_HOUR
        for h, weight in enumerate(_PROFILE):
            rate = volume * weight / total / HOUR_S
            t, end = float(day_lo + h * HOUR_S), day_lo + (h + 1) * HOUR_S
            while rate > 0:
                t += w.rng.expovariate(rate)
                if t >= end:
                    break
                if w.lo <= t < w.cutoff:
                    w.schedule(int(t), _arrival, "email" if w.rng.random() < 0.75 else "social")


@dataclass
class TicketRun:
    w: World
    ticket_id: str
    channel: str
    queue: str
    customer: Customer
    reason: str
    lang: str
    events: list[tuple[int, Row]] = field(default_factory=list)
    last: int = 0
    status: str = "new"
    assignee: str = ""
    work_s: int = 0
    cut: bool = False
    reopened: bool = False
    escalated_to: str = ""
    segments: dict[str, Segment] = field(default_factory=dict)

    def add(self, at: int, event_type: str, author_type: str, author_id: str = "", *, public: bool | None = None,
            assignee: str | None = None, target_tier: str = "", work: int = 0) -> bool:
        """Append an event unless it falls after the cutoff (then the ticket's story stops there)."""
        if self.cut:
            return False
        at = max(at, self.last)
        if at > self.w.cutoff:
            self.cut = True
            return False
        self.last = at
        self.events.append((at, {
            "ticket_id": self.ticket_id, "at": self.w.ts(at, MOSCOW), "event_type": event_type,
            "author_id": author_id, "author_type": author_type,
            "is_public": "" if public is None else ("true" if public else "false"),
            "assignee_id": assignee or "", "target_tier": target_tier}))
        self.work_s += work
        self._track(event_type, author_type, assignee)
        return True

    def _track(self, event_type: str, author_type: str, assignee: str | None) -> None:
        if event_type in ("assign", "transfer", "escalate"):
            self.assignee = assignee or ""
            self.status = "open"
        elif event_type == "unassign":
            self.assignee = ""
        elif event_type == "reply" and author_type == "operator":
            self.status = "pending"
        elif event_type == "reply" and author_type == "customer" and self.status != "new":
            self.status = "open"
        elif event_type in ("solve", "reopen", "close"):
            self.status = {"solve": "solved", "reopen": "open", "close": "closed"}[event_type]


def _arrival(w: World, t: int, channel: str) -> None:
    rng = w.rng
    ticket_id = w.next_id("TKT", 6)
    queue = "q_email" if channel == "email" else "q_social"
    r = rng.random()
    if r < P_OUTBOUND:
        _outbound(w, t, ticket_id, channel, queue)
        return
    auto = channel == "email" and r < P_OUTBOUND + P_AUTO_REPLY
    follow_up = ""
    if auto:
        # An out-of-office answer to our own mail opens a ticket: never a repeat contact.
        customer = w.customers.returning() or w.customer_for(channel, t)[0]
        reason = "other"
    else:
        customer, reason, intent = w.customer_for(channel, t)
        if intent is not None and intent.origin_type == "ticket" and channel == "email" and rng.random() < 0.4:
            follow_up = intent.origin_id
    run = TicketRun(w, ticket_id, channel, queue, customer, reason, customer.language)
    run.add(t, "create", "customer", public=True)
    bot = not auto and rng.random() < P_BOT[channel]
    if bot:
        run.add(t + rng.randint(5, 40), "reply", "bot", BOT_ID, public=True)
    got = w.pools["tickets_l1"].on_duty(rng, t + rng.randint(60, 900), run.lang, HORIZON_S)
    if got is not None:
        member, at = got
        run.add(at, "assign", "system", "router", assignee=member.op.operator_id)
        if auto:
            done = member.next_available(at + rng.randint(60, 600), HORIZON_S)
            if done is not None and run.add(done, "solve", "operator", member.op.operator_id, work=30):
                _segment_mark(run, member.op, done)
        else:
            _handle(w, run, member, at)
    _emit(w, run, "inbound", auto, follow_up, bot)


def _outbound(w: World, t: int, ticket_id: str, channel: str, queue: str) -> None:
    """A proactive e-mail by an operator (an outage notice, a contract reminder)."""
    rng = w.rng
    customer = w.customers.returning() or w.customer_for(channel, t)[0]
    run = TicketRun(w, ticket_id, channel, queue, customer, rng.choice(("internet_down", "tariff_change", "other")),
                    customer.language)
    got = w.pools["tickets_l1"].on_duty(rng, t, run.lang, HORIZON_S)
    if got is None:
        return
    member, at = got
    op_id = member.op.operator_id
    run.add(at, "create", "operator", op_id, public=True, work=w.lognormal(200, 0.5, 30, 1_800))
    run.add(at, "assign", "system", "router", assignee=op_id)
    run.add(at + rng.randint(60, 600), "solve", "operator", op_id, work=20)
    _segment_mark(run, member.op, at)
    _emit(w, run, "outbound", False, "", False)


def _segment_mark(run: TicketRun, op: Operator, at: int) -> None:
    seg = run.segments.get(op.operator_id)
    if seg is None:
        run.segments[op.operator_id] = Segment(op, "ticket", run.ticket_id, run.channel, at, at)
    else:
        seg.end = at


def _reply(w: World, run: TicketRun, member: Member, t: int) -> int | None:
    at = member.next_available(t, HORIZON_S)
    if at is None:
        return None
    op = member.op
    if w.rng.random() < 0.15:
        run.add(at, "note", "operator", op.operator_id, public=False, work=w.rng.randint(40, 240))
        at += w.rng.randint(60, 600)
    work = int(w.lognormal(200, 0.6, 30, 3_600) * op_factor(op))
    if not run.add(at, "reply", "operator", op.operator_id, public=True, work=work):
        return None
    _segment_mark(run, op, at)
    return at + work


def _conversation(w: World, run: TicketRun, member: Member, t: int) -> int | None:
    """First reply after `t`, then a few rounds with the customer; the time of the last reply."""
    rng = w.rng
    last = _reply(w, run, member, t + 120 + int(rng.expovariate(1 / 2_100)))
    rounds = rng.choices((0, 1, 2), (55, 30, 15))[0]
    for _ in range(rounds):
        if last is None:
            return None
        back = last + 600 + int(rng.expovariate(1 / (6 * HOUR_S)))
        if not run.add(back, "reply", "customer", public=True):
            return None
        last = _reply(w, run, member, back + 120 + int(rng.expovariate(1 / 3_000)))
    return last


def _pass_on(w: World, run: TicketRun, member: Member, last: int) -> tuple[Member, int] | None:
    """Escalate to the next tier or transfer to a colleague; the new owner and their last reply."""
    rng, op = w.rng, member.op
    nxt = _NEXT_POOL.get(op.tier)
    r = rng.random()
    if nxt is not None and r < P_ESCALATE.get(op.tier, 0.0) and w.pools[nxt[0]].members:
        pool_name, queue, tier = nxt
        at = member.next_available(last + rng.randint(300, 2_400), HORIZON_S)
        got = w.pools[pool_name].on_duty(rng, (at or last) + rng.randint(600, 7_200), run.lang, HORIZON_S)
        if at is None or got is None:
            run.cut = True  # nobody to take it before the cutoff: the story stops here
            return None
        if not run.add(at, "escalate", "operator", op.operator_id, assignee=got[0].op.operator_id,
                       target_tier=tier, work=rng.randint(60, 180)):
            return None
        run.queue, run.escalated_to = queue, tier
        new_last = _conversation(w, run, got[0], got[1])
        if new_last is None:
            run.cut = True
            return None
        return _pass_on(w, run, got[0], new_last) or (got[0], new_last)
    if op.tier == "L1" and r > 1 - P_TRANSFER and len(w.pools["tickets_l1"].members) > 1:
        got = w.pools["tickets_l1"].on_duty(rng, last + rng.randint(300, 3_600), run.lang, HORIZON_S, exclude=member)
        at = member.next_available(last + rng.randint(120, 900), HORIZON_S)
        if got is None or at is None:
            run.cut = True
            return None
        if not run.add(at, "transfer", "operator", op.operator_id, assignee=got[0].op.operator_id,
                       work=rng.randint(30, 120)):
            return None
        new_last = _conversation(w, run, got[0], max(got[1], at))
        if new_last is None:
            run.cut = True
            return None
        return got[0], new_last
    return None


def _handle(w: World, run: TicketRun, member: Member, at: int) -> None:
    rng = w.rng
    last = _conversation(w, run, member, at)
    if last is None:
        return
    owner = member
    passed = _pass_on(w, run, member, last)
    if passed is not None:
        owner, last = passed
    if run.cut:
        return
    solve_at = owner.next_available(last + rng.randint(120, 1_500), HORIZON_S)
    op = owner.op
    if solve_at is None or not run.add(solve_at, "solve", "operator", op.operator_id, work=rng.randint(20, 90)):
        return
    _segment_mark(run, op, solve_at)
    plant = (not w.planted.get("unassign_on_resolve_ticket") and run.channel == "email" and op.tier == "L1"
             and solve_at > w.lo + 2 * DAY_S and solve_at + 4 * HOUR_S < w.cutoff - DAY_S)
    if plant:
        # Zendesk-style trigger: solving clears the assignee, so the survey snapshot has none.
        run.add(solve_at + 1, "unassign", "system", "router")
        w.planted["unassign_on_resolve_ticket"] = run.ticket_id
    w.after_resolution(run.channel, run.customer, run.reason, solve_at, op, "ticket", run.ticket_id)
    run.customer.last_reason = run.reason
    if plant or rng.random() < 0.9:
        scale = "good_bad" if run.channel == "social" else ("0-10" if op.tier != "L1" else "1-5")
        sent = solve_at + rng.randint(HOUR_S, 3 * HOUR_S)
        offer_survey(w, Survey(sent, w.seq(), "ticket", run.ticket_id, None if plant else op.operator_id, scale,
                               MOSCOW, run.lang), op, 0.17, "email", force=plant)
    if not plant and rng.random() < P_REOPEN:
        _reopen(w, run, owner, solve_at)
    if run.status == "solved":
        run.add(run.last + 4 * DAY_S, "close", "system", "router")


def _reopen(w: World, run: TicketRun, owner: Member, solved: int) -> None:
    rng = w.rng
    back = solved + HOUR_S + int(min(6 * DAY_S, rng.expovariate(1 / (1.5 * DAY_S))))
    if not (run.add(back, "reply", "customer", public=True) and run.add(back + 1, "reopen", "system", "router")):
        return
    run.reopened = True
    last = _reply(w, run, owner, back + 600 + int(rng.expovariate(1 / 3_600)))
    if last is None:
        return
    at = owner.next_available(last + rng.randint(120, 1_200), HORIZON_S)
    if at is not None and run.add(at, "solve", "operator", owner.op.operator_id, work=rng.randint(20, 90)):
        _segment_mark(run, owner.op, at)


def _emit(w: World, run: TicketRun, direction: str, auto: bool, follow_up: str, bot: bool) -> None:
    if not run.events:
        return
    rng = w.rng
    created = run.events[0][0]
    tracked = run.channel == "email" and run.work_s > 0 and rng.random() < 0.75
    contact = ({"customer_email": format_email(run.customer, rng), "customer_id": ""} if run.channel == "email"
               else {"customer_email": "", "customer_id": run.customer.social_id})
    w.tickets.append({
        "ticket_id": run.ticket_id, "channel": run.channel, "direction": direction,
        "created_at": w.ts(created, MOSCOW), "updated_at": w.ts(run.last, MOSCOW), "status": run.status,
        **contact, "reason_code": run.reason, "language": run.lang, "queue_id": run.queue,
        "assignee_id": run.assignee, "is_auto_reply": "true" if auto else "false", "follow_up_of": follow_up,
        "tracked_time_s": str(run.work_s) if tracked else ""})
    for at, row in run.events:
        w.events.append((at, w.seq(), row))
    for seg in run.segments.values():
        w.segments.append(seg)
    _note_planted(w, run, auto, follow_up, bot)


def _note_planted(w: World, run: TicketRun, auto: bool, follow_up: str, bot: bool) -> None:
    humans = [e for _, e in run.events if e["author_type"] == "operator" and e["event_type"] == "reply"]
    found = {
        "bot_handoff_ticket": bot and bool(humans),
        "auto_reply_ticket": auto,
        "follow_up_ticket": bool(follow_up),
        "reopened_ticket": run.reopened,
        "escalated_to_l3_ticket": run.escalated_to == "L3",
    }
    for key, hit in found.items():
        if hit and key not in w.planted:
            w.planted[key] = run.ticket_id
