"""Calls and chats: arrivals scaled to the floor on duty, queue stints, answered legs, abandons,
overflow timeouts, transfers, escalations up the tiers and callbacks.

A call is one row per queue stint or operator leg: a stint answered by an operator is one row
with both queue and agent; an overflow is a `timeout` stint followed by a stint in the next queue;
a direct transfer to a colleague is a leg without a queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.sample_data.clock import HOUR_S, KYIV
from pipeline.sample_data.people import ANONYMOUS_CALLERS, Customer, format_email, format_phone
from pipeline.sample_data.pools import Pick
from pipeline.sample_data.roster import QUEUES, TEAMS, Operator
from pipeline.sample_data.world import BILLING_REASONS, Row, Segment, Survey, World

P_ANONYMOUS = 0.02
P_SHORT_ABANDON = 0.035
HORIZON_S = 1_800
CHAT_FIT_S = 600
BUCKET_S = 900
UNKNOWN_AGENT = "temp.agent07"

# Pool → (planned occupancy, mean seconds an operator slot is busy per contact, slots). Volume
# follows from staffing: small floors need slack, or the queue math makes everyone abandon.
ARRIVALS: dict[str, tuple[float, float, int]] = {
    "phone_day": (0.62, 216.0, 1),
    "phone_night": (0.42, 216.0, 1),
    "chat_day": (0.85, 500.0, 3),
    "chat_night": (0.75, 500.0, 3),
    "messenger": (0.85, 500.0, 3),
    # Business customers call L2 directly; the rest of the L2 floor is kept for escalations.
    "phone_l2": (0.2, 450.0, 1),
}
_DIRECT_QUEUES = {"phone_night": "q_phone_night", "phone_l2": "q_l2_business"}
_NEXT_TIER = {"L1": "L2", "L2": "L3"}
# end-reason chances per tier: (customer hangs up, escalation, transfer)
_CALL_ENDS = {"L1": (0.015, 0.14, 0.04), "L2": (0.01, 0.08, 0.02), "L3": (0.01, 0.0, 0.0)}
_CHAT_ENDS = {"L1": (0.04, 0.13, 0.03), "L2": (0.04, 0.0, 0.01), "L3": (0.0, 0.0, 0.0)}
_TIER_POOLS = {("phone", "L2"): ("phone_l2", "q_l2_phone"), ("phone", "L3"): ("phone_l3", "q_l3_phone"),
               ("chat", "L2"): ("chat_l2", "q_l2_chat")}


def op_factor(op: Operator) -> float:
    """Experienced operators are faster; a new hire is slower."""
    return min(1.3, max(0.75, 1.0 - 0.12 * op.skill))


# --- arrivals -----------------------------------------------------------------------------------
def schedule_arrivals(w: World) -> None:
    # Quarter-hour buckets: a lunch break on a two-person night floor halves capacity for half
    # an hour, and demand planned per hour would swamp the one operator left.
    buckets = (w.cutoff - w.lo) // BUCKET_S
    for name, (util, busy, slots) in ARRIVALS.items():
        pool = w.pools[name]
        handler = _call_arrival if name.startswith("phone") else _chat_arrival
        capacity = pool.agent_seconds(w.lo, buckets, BUCKET_S, tail=_expected("L1") if slots == 1 else CHAT_FIT_S)
        for b, agent_s in enumerate(capacity):
            rate = agent_s / BUCKET_S * util * slots / busy  # arrivals per second
            if rate <= 0:
                continue
            t = float(w.lo + b * BUCKET_S)
            end = t + BUCKET_S
            while True:
                t += w.rng.expovariate(rate)
                if t >= end:
                    break
                w.schedule(int(t), handler, name)


# --- calls --------------------------------------------------------------------------------------
@dataclass
class Call:
    call_id: str
    customer: Customer | None
    phone_text: str
    reason: str
    lang: str
    source_system: str
    legs: list[Row] = field(default_factory=list)
    handled: list[tuple[Operator, int, int]] = field(default_factory=list)
    last_queue: str = ""
    last_pick: Pick | None = None


def _call_arrival(w: World, t: int, pool_name: str) -> None:
    rng = w.rng
    if rng.random() < P_ANONYMOUS:
        customer, text, reason = None, rng.choice(ANONYMOUS_CALLERS), w.reason()
        lang = "uk" if rng.random() < 0.6 else "ru"
    else:
        customer, reason, _ = w.customer_for("call", t)
        text, lang = format_phone(customer, rng, "pbx"), customer.language
    night = pool_name == "phone_night"
    if pool_name in _DIRECT_QUEUES:
        queue = _DIRECT_QUEUES[pool_name]
    else:
        queue = "q_phone_billing" if reason in BILLING_REASONS else "q_phone_general"
    call = Call(w.next_id("CALL", 6), customer, text, reason, lang, "asterisk" if night else "canonical")
    patience = w.lognormal(300, 0.9, 6, HORIZON_S)
    if rng.random() < P_SHORT_ABANDON:
        _abandon(w, call, queue, t, t + rng.randint(1, 4), short=True)
        return
    _stint(w, t, call, queue, patience)


def _durations(w: World, tier: str, op: Operator) -> tuple[int, int, int]:
    """(talk, hold, wrap) seconds for an answered leg."""
    rng, f = w.rng, op_factor(op)
    median, hold_p, hold_mean, wrap_lo, wrap_hi = {
        "L1": (150, 0.28, 40, 5, 45), "L2": (330, 0.45, 70, 20, 90), "L3": (500, 0.5, 90, 30, 120)}[tier]
    talk = int(w.lognormal(median, 0.55, 15, 2_400) * f)
    hold = int(rng.expovariate(1 / hold_mean) * f) + 5 if rng.random() < hold_p else 0
    wrap = int(rng.uniform(wrap_lo, wrap_hi) * f)
    return talk, hold, wrap


def _row(call: Call, leg_no: int, **values: str) -> Row:
    row: Row = {"call_id": call.call_id, "leg": str(leg_no), "direction": "inbound", "queue_id": "",
                "agent_id": "", "source_system": call.source_system, "customer_phone": call.phone_text,
                "reason_code": call.reason, "language": call.lang, "enqueued_at": "", "answered_at": "",
                "ended_at": "", "outcome": "", "end_reason": "", "transfer_to": "", "talk_s": "",
                "hold_s": "", "wrap_s": ""}
    row.update(values)
    return row


def _abandon(w: World, call: Call, queue: str, t: int, end: int, *, short: bool = False,
             outcome: str = "abandoned") -> None:
    call.legs.append(_row(call, len(call.legs) + 1, queue_id=queue, enqueued_at=w.ts(t, KYIV),
                          ended_at=w.ts(end, KYIV), outcome=outcome))
    if outcome == "abandoned":
        _finish_call(w, call, abandoned_at=end, short=short)


def _stint(w: World, t: int, call: Call, queue_id: str, patience: int) -> None:
    queue = QUEUES[queue_id]
    pool = w.pools[queue.pool]
    tier = pool.tier
    call.last_queue = queue_id
    rng = w.rng
    pick = pool.dispatch(t, _expected(tier), call.lang, HORIZON_S) if pool.members else None
    answered = None if pick is None else pick.start + rng.randint(2, 7)
    if queue.timeout_s is not None and queue.overflow_to and patience > queue.timeout_s and (
            answered is None or answered - t > queue.timeout_s):
        _abandon(w, call, queue_id, t, t + queue.timeout_s, outcome="timeout")
        w.schedule(t + queue.timeout_s, _stint_event, call, queue.overflow_to, patience - queue.timeout_s)
        return
    if pick is None or answered is None or answered - t > patience:
        _abandon(w, call, queue_id, t, t + patience)
        return
    _answer(w, call, pick, tier, queue_id, t, answered)


def _expected(tier: str) -> int:
    # The dispatcher looks for a stretch long enough for a typical leg; the drawn leg is then cut
    # to the window so no call runs into a pause.
    return {"L1": 240, "L2": 480, "L3": 700}[tier]


def _stint_event(w: World, t: int, call: Call, queue_id: str, patience: int) -> None:
    _stint(w, t, call, queue_id, patience)


def _answer(w: World, call: Call, pick: Pick, tier: str, queue_id: str | None, t: int, answered: int) -> None:
    op = pick.member.op
    talk, hold, wrap = _durations(w, tier, op)
    window_end = pick.member.windows[pick.window][1]
    # Keep the leg and its wrap-up inside the log-in window (the break waits for the call).
    room = window_end - answered
    if talk + hold + wrap > room:
        scale = max(room, 30) / (talk + hold + wrap)
        talk, hold, wrap = max(10, int(talk * scale)), int(hold * scale), int(wrap * scale)
    ended = answered + talk + hold
    pick.member.slots[pick.slot] = ended + wrap
    asterisk = pick.source_system == "asterisk"
    values = {"agent_id": pick.agent_id, "answered_at": w.ts(answered, KYIV), "ended_at": w.ts(ended, KYIV),
              "outcome": "answered", "source_system": pick.source_system,
              # Asterisk reports talk including hold and no wrap-up (that shows as an ACW pause).
              "talk_s": str(talk + hold if asterisk else talk), "hold_s": "" if asterisk else str(hold),
              "wrap_s": "" if asterisk else str(wrap)}
    if queue_id is not None:
        values.update(queue_id=queue_id, enqueued_at=w.ts(t, KYIV))
    if asterisk and wrap > 0:
        w.acw.append((op.operator_id, ended, ended + wrap, "acw"))
    row = _row(call, len(call.legs) + 1, **values)
    call.legs.append(row)
    call.handled.append((op, answered, ended))
    call.last_pick = pick
    _end_leg(w, call, row, tier, ended)


def _end_leg(w: World, call: Call, row: Row, tier: str, ended: int) -> None:
    rng = w.rng
    hang, esc, transfer = _CALL_ENDS[tier]
    r = rng.random()
    nxt = _TIER_POOLS.get(("phone", _NEXT_TIER.get(tier, "")))
    if r < hang:
        row["end_reason"] = "customer_hangup"
        _finish_call(w, call)
    elif r < hang + esc and nxt is not None and _can_escalate(w, nxt[0], ended):
        row.update(end_reason="escalation", transfer_to=nxt[1])
        patience = w.lognormal(420, 0.6, 30, HORIZON_S)  # an escalated caller waits longer
        w.schedule(ended + rng.randint(3, 15), _stint_event, call, nxt[1], patience)
    elif hang + esc <= r < hang + esc + transfer:
        row["end_reason"] = "transfer"
        w.schedule(ended, _transfer, call, row, tier)
    else:
        row["end_reason"] = "resolved"
        _finish_call(w, call, resolved_at=ended)


def _can_escalate(w: World, pool: str, t: int) -> bool:
    # Without a next-tier floor on duty (nights, weekends for L3) the operator solves it themselves.
    return bool(w.pools[pool].members) and w.pools[pool].staffed(t + 60)


def _transfer(w: World, t: int, call: Call, from_row: Row, tier: str) -> None:
    """A blind transfer to a free colleague of the same pool, else back into the queue."""
    assert call.last_pick is not None
    pool = w.pools[QUEUES[call.last_queue].pool] if call.last_queue else None
    pick = None
    if pool is not None:
        pick = pool.dispatch(t, _expected(tier), call.lang, 20, exclude=call.last_pick.member)
    if pick is not None and pick.start <= t + 20:
        from_row["transfer_to"] = pick.agent_id
        _answer(w, call, pick, tier, None, t, pick.start + w.rng.randint(3, 8))
        return
    queue = call.last_queue or "q_phone_general"
    from_row["transfer_to"] = queue
    _stint(w, t, call, queue, w.lognormal(150, 0.6, 20, HORIZON_S))


def _finish_call(w: World, call: Call, *, resolved_at: int | None = None, abandoned_at: int | None = None,
                 short: bool = False) -> None:
    rng = w.rng
    unknown = (resolved_at is not None and "unknown_agent_call" not in w.planted and len(call.legs) == 1
               and call.legs[0]["queue_id"] == "q_phone_general" and resolved_at > w.lo + 2 * 86_400 + 9 * HOUR_S)
    if unknown:
        # A temp agent logged in with an id nobody mapped: the row loads with an unknown_agent flag.
        call.legs[0]["agent_id"] = UNKNOWN_AGENT
        w.planted["unknown_agent_call"] = {"call_id": call.call_id, "agent_id": UNKNOWN_AGENT}
    else:
        for op, a, b in call.handled:
            w.segments.append(Segment(op, "call", call.call_id, "phone", a, b))
    w.calls.extend(call.legs)
    if call.customer is None:
        return
    if resolved_at is not None and not unknown:
        op = call.handled[-1][0]
        call.customer.last_reason = call.reason
        w.after_resolution("call", call.customer, call.reason, resolved_at, op, "call", call.call_id)
        if rng.random() < 0.5:
            sent = resolved_at + rng.randint(30, 300)
            offer_survey(w, Survey(sent, w.seq(), "call", call.call_id, op.operator_id, "1-5", KYIV,
                                   call.lang), op, 0.11, "sms")
    elif abandoned_at is not None and not short:
        r = rng.random()
        if r < 0.35:
            w.call_back_later(call.customer, call.reason, abandoned_at)
        elif r < 0.6 and call.last_queue in ("q_phone_general", "q_phone_billing"):
            w.schedule(abandoned_at + rng.randint(300, 1_800), _callback, call.customer, call.reason, call.lang)


def _callback(w: World, t: int, customer: Customer, reason: str, lang: str) -> None:
    """An operator calls back a caller who abandoned: an outbound call, never a repeat."""
    pool = w.pools["phone_day"]
    pick = pool.dispatch(t, _expected("L1"), lang, 900)
    if pick is None:
        return
    call = Call(w.next_id("CALL", 6), customer, format_phone(customer, w.rng, "pbx"), reason, lang, "canonical")
    op = pick.member.op
    answered = pick.start + w.rng.randint(8, 25)
    talk, _, wrap = _durations(w, "L1", op)
    room = pick.member.windows[pick.window][1] - answered
    talk, wrap = min(talk, max(10, room - 60)), min(wrap, 30)
    ended = answered + talk
    pick.member.slots[pick.slot] = ended + wrap
    call.legs.append(_row(call, 1, direction="outbound", agent_id=pick.agent_id,
                          answered_at=w.ts(answered, KYIV), ended_at=w.ts(ended, KYIV), outcome="answered",
                          end_reason="resolved", talk_s=str(talk), hold_s="0", wrap_s=str(wrap)))
    w.segments.append(Segment(op, "call", call.call_id, "phone", answered, ended))
    w.calls.extend(call.legs)


# --- chats --------------------------------------------------------------------------------------
@dataclass
class Chat:
    chat_id: str
    channel: str
    customer: Customer
    contact: dict[str, str]
    reason: str
    lang: str
    tz: str
    bot: bool
    legs: list[Row] = field(default_factory=list)
    handled: list[tuple[Operator, int, int]] = field(default_factory=list)
    last_pick: Pick | None = None
    queue: str = ""


def _chat_arrival(w: World, t: int, pool_name: str) -> None:
    rng = w.rng
    messenger = pool_name == "messenger"
    key = "messenger" if messenger else "webchat"
    customer, reason, _ = w.customer_for(key, t)
    queue = {"messenger": "q_messenger", "chat_day": "q_chat_web", "chat_night": "q_chat_night"}[pool_name]
    tz = TEAMS[QUEUES[queue].team_id].timezone
    contact = ({"customer_phone": format_phone(customer, rng, "human")} if messenger
               else {"customer_email": format_email(customer, rng)})
    chat = Chat(w.next_id("CHAT", 6), "social" if messenger else "chat", customer, contact, reason,
                customer.language, tz, bot=messenger and rng.random() < 0.15)
    if chat.bot and "bot_handoff_chat" not in w.planted:
        w.planted["bot_handoff_chat"] = chat.chat_id
    _chat_stint(w, t, chat, queue, w.lognormal(240, 0.9, 8, HORIZON_S))


def _chat_row(chat: Chat, **values: str) -> Row:
    row: Row = {"chat_id": chat.chat_id, "leg": str(len(chat.legs) + 1), "channel": chat.channel,
                "direction": "inbound", "queue_id": "", "agent_id": "", "source_system": "canonical",
                "customer_phone": "", "customer_email": "", "reason_code": chat.reason, "language": chat.lang,
                "queued_at": "", "accepted_at": "", "first_reply_at": "", "ended_at": "", "outcome": "",
                "end_reason": "", "transfer_to": "", "is_bot_handoff": "true" if chat.bot else "false",
                "wrap_s": ""}
    row.update(chat.contact)
    row.update(values)
    return row


def _chat_stint(w: World, t: int, chat: Chat, queue_id: str, patience: int) -> None:
    pool = w.pools[QUEUES[queue_id].pool]
    chat.queue = queue_id
    pick = pool.dispatch(t, CHAT_FIT_S, chat.lang, HORIZON_S) if pool.members else None
    accepted = None if pick is None else pick.start + w.rng.randint(2, 10)
    if pick is None or accepted is None or accepted - t > patience:
        chat.legs.append(_chat_row(chat, queue_id=queue_id, queued_at=w.ts(t, chat.tz),
                                   ended_at=w.ts(t + patience, chat.tz), outcome="abandoned"))
        _finish_chat(w, chat)
        return
    _accept(w, chat, pick, pool.tier, queue_id, t, accepted)


def _accept(w: World, chat: Chat, pick: Pick, tier: str, queue_id: str, t: int, accepted: int) -> None:
    rng, op = w.rng, pick.member.op
    f = op_factor(op)
    first = accepted + int(rng.uniform(5, 40) * f)
    talk = int(w.lognormal(400 if tier == "L1" else 700, 0.6, 60, 3_600) * f)
    wrap = int(rng.uniform(0, 40) * f)
    room = pick.member.windows[pick.window][1] - accepted
    talk, wrap = min(talk, max(60, room - wrap)), min(wrap, max(0, room - talk))
    ended = accepted + max(talk, first - accepted + 5)
    pick.member.slots[pick.slot] = ended + wrap
    row = _chat_row(chat, queue_id=queue_id, agent_id=pick.agent_id, queued_at=w.ts(t, chat.tz),
                    accepted_at=w.ts(accepted, chat.tz), first_reply_at=w.ts(first, chat.tz),
                    ended_at=w.ts(ended, chat.tz), outcome="answered", wrap_s=str(wrap))
    chat.legs.append(row)
    chat.handled.append((op, accepted, ended))
    chat.last_pick = pick
    hang, esc, transfer = _CHAT_ENDS[tier]
    nxt = _TIER_POOLS.get(("chat", _NEXT_TIER.get(tier, "")))
    r = rng.random()
    if r < hang:
        row["end_reason"] = "customer_hangup"
        _finish_chat(w, chat)
    elif r < hang + esc and nxt is not None and _can_escalate(w, nxt[0], ended):
        row.update(end_reason="escalation", transfer_to=nxt[1])
        w.schedule(ended + rng.randint(2, 10), _chat_stint_event, chat, nxt[1], w.lognormal(300, 0.6, 60, HORIZON_S))
    elif hang + esc <= r < hang + esc + transfer:
        row["end_reason"] = "transfer"
        w.schedule(ended, _chat_transfer, chat, row, tier)
    else:
        row["end_reason"] = "resolved"
        _finish_chat(w, chat, resolved_at=ended)


def _chat_stint_event(w: World, t: int, chat: Chat, queue_id: str, patience: int) -> None:
    _chat_stint(w, t, chat, queue_id, patience)


def _chat_transfer(w: World, t: int, chat: Chat, from_row: Row, tier: str) -> None:
    assert chat.last_pick is not None
    pool = w.pools[QUEUES[chat.queue].pool]
    pick = pool.dispatch(t, CHAT_FIT_S, chat.lang, 60, exclude=chat.last_pick.member)
    if pick is None:
        from_row["end_reason"] = "resolved"  # nobody free: the operator keeps and closes it
        from_row["transfer_to"] = ""
        _finish_chat(w, chat, resolved_at=t)
        return
    from_row["transfer_to"] = pick.agent_id
    _accept(w, chat, pick, tier, chat.queue, t, max(t, pick.start) + w.rng.randint(2, 10))


def _finish_chat(w: World, chat: Chat, *, resolved_at: int | None = None) -> None:
    rng = w.rng
    for op, a, b in chat.handled:
        w.segments.append(Segment(op, "chat", chat.chat_id, chat.channel, a, b))
    w.chats.extend(chat.legs)
    if resolved_at is None:
        return
    op = chat.handled[-1][0]
    key = "messenger" if chat.channel == "social" else "webchat"
    chat.customer.last_reason = chat.reason
    w.after_resolution(key, chat.customer, chat.reason, resolved_at, op, "chat", chat.chat_id)
    if rng.random() < 0.8:
        scale = "good_bad" if chat.channel == "social" else "1-5"
        offer_survey(w, Survey(resolved_at + rng.randint(2, 20), w.seq(), "chat", chat.chat_id, op.operator_id,
                               scale, chat.tz, chat.lang), op, 0.24, "widget")


# --- CSAT ---------------------------------------------------------------------------------------
def csat_score(w: World, scale: str, op: Operator | None) -> str:
    rng = w.rng
    skill = op.skill if op is not None else 0.0
    top = min(0.93, max(0.4, 0.74 + 0.07 * skill))
    happy = rng.random() < top
    if scale == "good_bad":
        return "good" if happy or rng.random() < 0.25 else "bad"
    if scale == "0-10":
        return str(rng.choice((9, 10, 10)) if happy else rng.choices(range(9), (3, 1, 1, 2, 2, 4, 6, 10, 14))[0])
    return str(rng.choice((4, 5, 5, 5)) if happy else rng.choices((1, 2, 3, 4), (3, 2, 4, 2))[0])


def offer_survey(w: World, survey: Survey, op: Operator | None, p_respond: float, medium: str,
                 *, force: bool = False) -> None:
    """A survey sent before the cutoff, answered by a share of customers (some change their mind)."""
    rng = w.rng
    if survey.sent > w.cutoff:
        return
    w.surveys.append(survey)
    if not force and rng.random() >= p_respond:
        return
    if medium == "widget":
        delay = rng.randint(10, 120) if rng.random() < 0.7 else w.lognormal(1_800, 1.0, 120, 5 * 86_400)
    elif medium == "sms":
        delay = w.lognormal(900, 1.0, 20, 3 * 86_400)
    else:
        delay = w.lognormal(5 * HOUR_S, 1.2, 300, 13 * 86_400)
    if not force and rng.random() < 0.02:
        delay = rng.randint(15 * 86_400, 20 * 86_400)  # answered after the CSAT cutoff
    received = survey.sent + delay
    if force:
        received = min(received, w.cutoff - 60)
    if received > w.cutoff:
        return
    survey.responses.append((received, csat_score(w, survey.scale, op)))
    if rng.random() < 0.015 and received + HOUR_S < w.cutoff:
        survey.responses.append((received + rng.randint(300, HOUR_S), csat_score(w, survey.scale, op)))
