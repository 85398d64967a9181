"""Wall-clock time for the sample: local shift times → UTC epoch seconds, and back to ISO-8601
with the right offset on both sides of the 2026-10-25 Kyiv DST change.

The simulation runs in integer UTC epoch seconds; only the writer turns them into local text.
`datetime.fromtimestamp(ts, ZoneInfo)` costs ~4 µs a call and the default sample formats about a
million timestamps, so offsets come from a precomputed transition table instead.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

KYIV = "Europe/Kyiv"
MOSCOW = "Europe/Moscow"

DAY_S = 86_400
HOUR_S = 3_600
MINUTE_S = 60
_SCAN_STEP_S = 15 * MINUTE_S  # DST changes happen on a quarter hour in every zone we use


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_ts(day: date, hh: int, mm: int, tz: str) -> int:
    """Epoch seconds of a local wall time; fold=0 takes the earlier offset of an ambiguous hour."""
    return int(datetime.combine(day, time(hh, mm), tzinfo=zone(tz)).timestamp())


def local_date(ts: int, tz: str) -> date:
    return datetime.fromtimestamp(ts, zone(tz)).date()


def _suffix(offset_s: int) -> str:
    sign = "+" if offset_s >= 0 else "-"
    hh, rem = divmod(abs(offset_s), HOUR_S)
    return f"{sign}{hh:02d}:{rem // MINUTE_S:02d}"


@dataclass
class _ZoneTable:
    tz: str
    lo: int
    hi: int
    points: list[int] = field(default_factory=list)   # UTC instants where the offset changes
    offsets: list[int] = field(default_factory=list)  # offset in force from points[i]

    def __post_init__(self) -> None:
        z = zone(self.tz)
        prev: int | None = None
        for ts in range(self.lo, self.hi + _SCAN_STEP_S, _SCAN_STEP_S):
            off = int(datetime.fromtimestamp(ts, z).utcoffset().total_seconds())  # type: ignore[union-attr]
            if off != prev:
                # The change happened somewhere in the last step; find the exact second.
                start = ts if prev is None else self._exact_change(ts - _SCAN_STEP_S, ts, off)
                self.points.append(start)
                self.offsets.append(off)
                prev = off

    def _exact_change(self, a: int, b: int, off_b: int) -> int:
        z = zone(self.tz)
        while b - a > 1:
            mid = (a + b) // 2
            off = int(datetime.fromtimestamp(mid, z).utcoffset().total_seconds())  # type: ignore[union-attr]
            if off == off_b:
                b = mid
            else:
                a = mid
        return b

    def offset(self, ts: int) -> int | None:
        if ts < self.lo or ts > self.hi:
            return None
        return self.offsets[bisect.bisect_right(self.points, ts) - 1]


class Formatter:
    """ISO-8601 text with the local offset of a zone, fast inside [lo, hi], exact everywhere."""

    def __init__(self, lo: int, hi: int) -> None:
        self._lo, self._hi = lo, hi
        self._tables: dict[str, _ZoneTable] = {}
        self._days: dict[int, str] = {}
        self._suffixes: dict[int, str] = {}

    def _table(self, tz: str) -> _ZoneTable:
        table = self._tables.get(tz)
        if table is None:
            table = self._tables[tz] = _ZoneTable(tz, self._lo, self._hi)
        return table

    def iso(self, ts: int, tz: str) -> str:
        off = self._table(tz).offset(ts)
        if off is None:
            return datetime.fromtimestamp(ts, zone(tz)).isoformat()
        local = ts + off
        day, sec = divmod(local, DAY_S)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
        suffix = self._suffixes.get(off)
        if suffix is None:
            suffix = self._suffixes[off] = _suffix(off)
        hh, rem = divmod(sec, HOUR_S)
        mm, ss = divmod(rem, MINUTE_S)
        return f"{prefix}T{hh:02d}:{mm:02d}:{ss:02d}{suffix}"
