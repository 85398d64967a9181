"""Operator pools: who can take a contact when, as a small queueing simulation.

Contacts are dispatched in arrival order to the member whose slot frees first (longest idle on
ties), inside a log-in window and never across a pause: a call that would run into a break goes to
someone else. A chat operator has three slots, so up to three chats at once.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, field

from pipeline.sample_data.roster import Operator, Shift


@dataclass
class Member:
    op: Operator
    slots: list[int]
    windows: list[tuple[int, int]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    shifts: list[Shift] = field(default_factory=list)  # the shift of each window

    def add_shift(self, shift: Shift) -> None:
        for w in shift.windows:
            self.windows.append(w)
            self.starts.append(w[0])
            self.shifts.append(shift)

    def window_at(self, t: int) -> int | None:
        i = bisect.bisect_right(self.starts, t) - 1
        if i >= 0 and self.windows[i][0] <= t < self.windows[i][1]:
            return i
        return None

    def next_available(self, t: int, horizon: int) -> int | None:
        """Earliest instant >= t inside a window, within the horizon."""
        i = max(0, bisect.bisect_right(self.starts, t) - 1)
        for a, b in self.windows[i:]:
            if a > t + horizon:
                return None
            if b > t:
                return max(a, t)
        return None

    def fit(self, slot: int, t: int, dur: int, horizon: int) -> tuple[int, int] | None:
        """(start, window index) of the earliest stretch of `dur` seconds free in `slot`."""
        t0 = max(t, self.slots[slot])
        i = max(0, bisect.bisect_right(self.starts, t0) - 1)
        windows = self.windows
        while i < len(windows):
            a, b = windows[i]
            s = a if a > t0 else t0
            if s > t + horizon:
                return None
            if s + dur <= b:
                return s, i
            i += 1
        return None


@dataclass
class Pick:
    member: Member
    slot: int
    start: int
    window: int

    @property
    def shift(self) -> Shift:
        return self.member.shifts[self.window]

    @property
    def agent_id(self) -> str:
        return self.shift.agent_id

    @property
    def source_system(self) -> str:
        return self.shift.source_system


@dataclass
class Pool:
    name: str
    tier: str
    members: list[Member] = field(default_factory=list)

    def dispatch(self, t: int, dur: int, lang: str, horizon: int, exclude: Member | None = None) -> Pick | None:
        """Skill-based routing with overflow: a speaker of the contact's language unless that
        costs more than half a minute of extra wait."""
        best: tuple[tuple[int, int, int], Pick] | None = None
        best_skilled: tuple[tuple[int, int, int], Pick] | None = None
        for m in self.members:
            if m is exclude:
                continue
            speaks = lang in m.op.languages
            for slot, busy in enumerate(m.slots):
                hit = m.fit(slot, t, dur, horizon)
                if hit is None:
                    continue
                # Earliest start, then the least loaded operator, then the longest idle slot.
                key = (hit[0], sum(1 for b in m.slots if b > hit[0]), busy)
                if best is None or key < best[0]:
                    best = (key, Pick(m, slot, hit[0], hit[1]))
                if speaks and (best_skilled is None or key < best_skilled[0]):
                    best_skilled = (key, Pick(m, slot, hit[0], hit[1]))
        if best_skilled is not None and best is not None and best_skilled[0][0] <= best[0][0] + 30:
            return best_skilled[1]
        return None if best is None else best[1]

    def staffed(self, t: int) -> bool:
        return any(m.window_at(t) is not None for m in self.members)

    def on_duty(self, rng: random.Random, t: int, lang: str, horizon: int,
                exclude: Member | None = None) -> tuple[Member, int] | None:
        """For tickets: someone logged in at or soon after t, at random, preferring speakers."""
        nexts: list[tuple[int, Member]] = []
        for m in self.members:
            if m is exclude:
                continue
            at = m.next_available(t, horizon)
            if at is not None:
                nexts.append((at, m))
        if not nexts:
            return None
        first = min(at for at, _ in nexts)
        near = [(at, m) for at, m in nexts if at <= first + 600]
        speakers = [(at, m) for at, m in near if lang in m.op.languages]
        at, m = rng.choice(speakers or near)
        return m, at

    def agent_seconds(self, lo: int, buckets: int, size: int, tail: int = 0) -> list[float]:
        """Seconds of log-in window per bucket: the floor's capacity that arrivals are scaled to.
        The last `tail` seconds before a pause or log-off do not count: nobody starts a contact then."""
        out = [0.0] * buckets
        for m in self.members:
            for a, b in m.windows:
                a, b = max(a, lo), min(b - tail, lo + buckets * size)
                while a < b:
                    i = (a - lo) // size
                    edge = min(b, lo + (i + 1) * size)
                    out[i] += edge - a
                    a = edge
        return out
