"""Shared state of one generation run: clock, random streams, customers, the event heap, the
pending repeat contacts and everything collected for the output files."""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.sample_data.clock import DAY_S, HOUR_S, Formatter
from pipeline.sample_data.people import Customer, CustomerBook
from pipeline.sample_data.pools import Pool
from pipeline.sample_data.roster import Operator, Roster

Row = dict[str, str]

# Contact reasons of an ISP help desk, with weights and how likely each comes back unsolved.
REASONS: tuple[tuple[str, float, float], ...] = (
    ("internet_down", 14, 1.45), ("slow_speed", 10, 1.5), ("tv_no_signal", 6, 1.3),
    ("router_setup", 8, 1.2), ("account_access", 8, 0.9), ("billing_question", 14, 0.8),
    ("payment_failed", 8, 1.0), ("refund_request", 5, 1.2), ("tariff_change", 9, 0.6),
    ("contract_termination", 4, 0.7), ("address_change", 5, 0.5), ("delivery_status", 4, 1.0),
    ("other", 5, 0.8),
)
BILLING_REASONS = ("billing_question", "payment_failed", "refund_request", "tariff_change")
_REASON_NAMES = tuple(r for r, _, _ in REASONS)
_REASON_WEIGHTS = tuple(w for _, w, _ in REASONS)
REPEAT_FACTOR = {r: f for r, _, f in REASONS}

# A customer who comes back uses an identifier of the same kind (a phone number is a phone number
# on a call and in a messenger), so the repeat is visible through customer_key.
REPEAT_CHANNELS: dict[str, tuple[tuple[str, float], ...]] = {
    "call": (("call", 0.8), ("messenger", 0.2)),
    "messenger": (("messenger", 0.6), ("call", 0.4)),
    "webchat": (("webchat", 0.6), ("email", 0.4)),
    "email": (("email", 0.7), ("webchat", 0.3)),
    "social": (("social", 1.0),),
}
_UA_SHARE = {"call": 0.7, "messenger": 0.3, "webchat": 0.6, "email": 0.4, "social": 0.5}
P_REPEAT = 0.13       # base chance a resolved contact comes back with the same reason within 7 days
P_RETURNING = 0.05    # a known customer with a new, different reason (not a repeat)
FCR_WINDOW_S = 7 * DAY_S


@dataclass
class Intent:
    target: int
    deadline: int
    customer: Customer
    reason: str
    origin_type: str
    origin_id: str


@dataclass
class Survey:
    sent: int
    seq: int
    contact_type: str
    contact_id: str
    assignee: str | None
    scale: str
    tz: str
    language: str
    responses: list[tuple[int, str]] = field(default_factory=list)
    survey_id: str = ""


@dataclass
class Segment:
    op: Operator
    contact_type: str
    contact_id: str
    channel: str
    start: int
    end: int


@dataclass
class World:
    roster: Roster
    pools: dict[str, Pool]
    lo: int
    cutoff: int
    fmt: Formatter
    customers: CustomerBook
    rng: random.Random
    calls: list[Row] = field(default_factory=list)
    chats: list[Row] = field(default_factory=list)
    tickets: list[Row] = field(default_factory=list)
    events: list[tuple[int, int, Row]] = field(default_factory=list)
    surveys: list[Survey] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    acw: list[tuple[str, int, int, str]] = field(default_factory=list)
    planted: dict[str, Any] = field(default_factory=dict)
    _intents: dict[str, list[tuple[int, int, Intent]]] = field(default_factory=dict)
    _heap: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = field(default_factory=list)
    _seq: int = 0
    _ids: dict[str, int] = field(default_factory=dict)

    # --- event loop ---------------------------------------------------------------------------
    def schedule(self, t: int, fn: Callable[..., None], *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, fn, args))

    def run(self) -> None:
        while self._heap:
            t, _, fn, args = heapq.heappop(self._heap)
            fn(self, t, *args)

    def next_id(self, prefix: str, width: int) -> str:
        n = self._ids.get(prefix, 0) + 1
        self._ids[prefix] = n
        return f"{prefix}-{n:0{width}d}"

    def numbered(self, prefix: str, n: int) -> None:
        """Ids up to n were handed out outside next_id (renumbered after sorting)."""
        self._ids[prefix] = max(self._ids.get(prefix, 0), n)

    def seq(self) -> int:
        self._seq += 1
        return self._seq

    def ts(self, t: int, tz: str) -> str:
        return self.fmt.iso(t, tz)

    # --- random helpers -----------------------------------------------------------------------
    def lognormal(self, median: float, sigma: float, lo: float, hi: float) -> int:
        return int(min(hi, max(lo, self.rng.lognormvariate(math.log(median), sigma))))

    def reason(self) -> str:
        return self.rng.choices(_REASON_NAMES, _REASON_WEIGHTS)[0]

    # --- customers and repeats ----------------------------------------------------------------
    def customer_for(self, channel: str, t: int) -> tuple[Customer, str, Intent | None]:
        """Who contacts us on `channel` at t: someone coming back unsolved, a known customer with
        something new, or a new customer."""
        intent = self._due_intent(channel, t)
        if intent is not None:
            return intent.customer, intent.reason, intent
        if self.rng.random() < P_RETURNING:
            known = self.customers.returning()
            if known is not None:
                reason = self.reason()
                while reason == known.last_reason:
                    reason = self.reason()
                known.last_reason = reason
                return known, reason, None
        country = "UA" if self.rng.random() < _UA_SHARE[channel] else "RU"
        c = self.customers.new(country, self._language(country))
        c.last_reason = self.reason()
        return c, c.last_reason, None

    def _language(self, country: str) -> str:
        r = self.rng.random()
        if country == "UA":
            return "uk" if r < 0.6 else ("ru" if r < 0.95 else "en")
        return "ru" if r < 0.93 else "en"

    def _due_intent(self, channel: str, t: int) -> Intent | None:
        heap = self._intents.get(channel)
        while heap and heap[0][0] <= t:
            intent = heapq.heappop(heap)[2]
            if intent.deadline >= t:
                return intent
        return None

    def push_intent(self, channel: str, intent: Intent) -> None:
        heapq.heappush(self._intents.setdefault(channel, []), (intent.target, self.seq(), intent))

    def after_resolution(self, channel: str, customer: Customer, reason: str, resolved: int,
                         resolver: Operator | None, origin_type: str, origin_id: str) -> None:
        """Maybe the problem comes back: same customer, same reason, within the FCR window."""
        skill = resolver.skill if resolver is not None else 0.0
        p = P_REPEAT * REPEAT_FACTOR.get(reason, 1.0) * math.exp(-0.3 * skill)
        if self.rng.random() >= p:
            return
        if self.rng.random() < 0.45:
            delay = 600 + int(self.rng.expovariate(1 / (4 * HOUR_S)))
        else:
            delay = self.rng.randint(DAY_S, int(6.6 * DAY_S))
        deadline = resolved + FCR_WINDOW_S - HOUR_S
        if resolved + delay >= deadline:
            return
        names, weights = zip(*REPEAT_CHANNELS[channel], strict=True)
        target = self.rng.choices(names, weights)[0]
        self.push_intent(target, Intent(resolved + delay, deadline, customer, reason, origin_type, origin_id))

    def call_back_later(self, customer: Customer, reason: str, t: int) -> None:
        """A caller who gave up in the queue tries again soon (not a repeat of a resolved contact)."""
        target = t + self.rng.randint(120, HOUR_S)
        self.push_intent("call", Intent(target, target + 2 * HOUR_S, customer, reason, "call", ""))
