"""Streaming generator of the benchmark data: N phone contacts in the canonical contract.

    .venv/bin/python bench/generate.py 1m 10m      # writes bench/cache/<size>-v<VERSION>/ when missing

One directory per size under `bench/cache/` (gitignored):

    teams.parquet, queues.parquet, operators.parquet       small dimension files
    calls/part-0001.parquet ...                              PART_ROWS calls per file
    csat_responses/part-0001.parquet ...                     the responses to those calls
    meta.json                                                what was written (rows, seed, version)

Calls are made one day at a time with numpy and appended through `pyarrow.parquet.ParquetWriter`,
so memory stays bounded (a row group of calls plus a ring of the last REPEAT_LOOKBACK_DAYS days'
customers) whatever N is. The calls files are split every PART_ROWS rows because ingest reads,
validates (great-expectations over pandas) and keys one file at a time: a file is the unit in
which the real ingest path validates, so parts are how 10M rows get validated in chunks.

Shape (deterministic for a size and SEED):
- one year (START .. START + DAYS), weekday/weekend and time-of-day seasonality;
- one row per call: every answered call has exactly one operator leg (one segment per call);
  ABANDON_SHARE of calls are abandoned in the queue (about a third of those within 5 s: short
  abandons, which are no repeat), OUTBOUND_SHARE are outbound (outside FCR);
- customers: a population of CUSTOMERS_PER_CALL × N phone numbers drawn with a mild skew, plus
  CALLBACK_SHARE of calls that are call-backs of a call of the previous days (same customer, same
  reason most of the time): that is what makes FCR repeats; ANONYMOUS_SHARE come from an anonymous
  number (left out of FCR);
- end reasons resolved / customer_hangup / transfer / escalation; talk, hold and wrap seconds;
- CSAT_SHARE of answered calls get a 1–5 response (a few late beyond the 14-day cutoff, a few
  answered twice: the later response counts).
Bump VERSION whenever the output changes: the cache is keyed by it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

VERSION = "3"
SEED = 20260101
SIZES = {"1m": 1_000_000, "10m": 10_000_000}
CACHE = Path(__file__).resolve().parent / "cache"

START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 365
PART_ROWS = 1_000_000
ROW_GROUP_ROWS = 128_000

CALLS_PER_OPERATOR = 20_000         # per year: 1M → 50 operators, 10M → 500
OPERATORS_PER_TEAM = 25
QUEUES_PER_TEAM = 2
CUSTOMERS_PER_CALL = 0.35
CALLBACK_SHARE = 0.18
CALLBACK_SAME_REASON = 0.9
REPEAT_LOOKBACK_DAYS = 9
ANONYMOUS_SHARE = 0.02
OUTBOUND_SHARE = 0.03
ABANDON_SHARE = 0.07
SHORT_ABANDON_SHARE = 0.35          # of abandoned calls, gone within 5 s
CSAT_SHARE = 0.15
CSAT_LATE_SHARE = 0.03              # responses arriving 5–30 days later (some past the cutoff)
CSAT_TWICE_SHARE = 0.015            # surveys answered twice

TIMEZONES = ("Europe/Moscow", "Europe/Kyiv", "Asia/Vladivostok", "Asia/Yekaterinburg")
COUNTRIES = {"Europe/Kyiv": "UA"}
REASONS = ("billing", "internet_down", "tv_no_signal", "tariff_change", "payment_not_received",
           "router_setup", "contract_terminate", "address_change", "speed_complaint", "new_service",
           "equipment_return", "other")
END_REASONS = ("resolved", "customer_hangup", "transfer", "escalation")
END_REASON_P = (0.82, 0.06, 0.07, 0.05)
SCORES = ("1", "2", "3", "4", "5")
SCORE_P = (0.11, 0.06, 0.10, 0.21, 0.52)
LANGUAGES = ("ru", "uk", "en")
LANGUAGE_P = (0.7, 0.2, 0.1)

UTC_TS = pa.timestamp("us", tz="UTC")
CALLS_SCHEMA = pa.schema([
    ("call_id", pa.string()), ("leg", pa.int64()), ("direction", pa.string()), ("queue_id", pa.string()),
    ("agent_id", pa.string()), ("customer_phone", pa.string()), ("reason_code", pa.string()),
    ("language", pa.string()), ("enqueued_at", UTC_TS), ("answered_at", UTC_TS), ("ended_at", UTC_TS),
    ("outcome", pa.string()), ("end_reason", pa.string()), ("talk_s", pa.float64()), ("hold_s", pa.float64()),
    ("wrap_s", pa.float64()),
])
CSAT_SCHEMA = pa.schema([
    ("response_id", pa.string()), ("survey_id", pa.string()), ("contact_type", pa.string()),
    ("contact_id", pa.string()), ("received_at", UTC_TS), ("scale", pa.string()), ("score", pa.string()),
    ("language", pa.string()),
])


def data_dir(size: str) -> Path:
    return CACHE / f"{size}-v{VERSION}"


def is_ready(size: str) -> bool:
    return (data_dir(size) / "meta.json").exists()


def ensure(size: str, *, log=print) -> Path:
    """The cached directory for `size`, generated first when missing (or of another VERSION)."""
    out = data_dir(size)
    if is_ready(size):
        return out
    for stale in CACHE.glob(f"{size}-v*"):
        shutil.rmtree(stale, ignore_errors=True)
    t0 = time.perf_counter()
    meta = generate(SIZES[size], out.with_name(out.name + ".part"))
    out.with_name(out.name + ".part").rename(out)
    log(f"generated {size}: {meta['calls']:,} calls, {meta['csat_responses']:,} CSAT responses "
        f"in {time.perf_counter() - t0:.1f} s → {out}")
    return out


# --- dimensions ----------------------------------------------------------------------------------

def _shape(n_calls: int) -> dict[str, int]:
    operators = max(20, n_calls // CALLS_PER_OPERATOR)
    teams = max(2, round(operators / OPERATORS_PER_TEAM))
    return {"operators": operators, "teams": teams, "queues": teams * QUEUES_PER_TEAM,
            "customers": max(1000, int(n_calls * CUSTOMERS_PER_CALL))}


def _write_dimensions(out: Path, shape: dict[str, int]) -> dict[str, np.ndarray]:
    updated = pa.array([datetime(2024, 12, 1, tzinfo=UTC)], UTC_TS)[0]
    teams = [f"T{t:02d}" for t in range(shape["teams"])]
    team_tz = [TIMEZONES[t % len(TIMEZONES)] for t in range(shape["teams"])]
    pq.write_table(pa.table({
        "team_id": teams, "name": [f"Phone team {t}" for t in teams], "timezone": team_tz,
        "holiday_country": [COUNTRIES.get(tz, "RU") for tz in team_tz],
        "business_hours": ["mon-sun 08:00-22:00"] * len(teams),
        "updated_at": pa.array([updated.as_py()] * len(teams), UTC_TS),
    }), out / "teams.parquet")
    q_team = np.arange(shape["queues"]) // QUEUES_PER_TEAM
    pq.write_table(pa.table({
        "queue_id": [f"Q{q:03d}" for q in range(shape["queues"])],
        "team_id": [teams[t] for t in q_team], "timezone": [team_tz[t] for t in q_team],
        "channel": ["phone"] * shape["queues"], "sl_threshold_s": pa.array([20] * shape["queues"], pa.int64()),
        "updated_at": pa.array([updated.as_py()] * shape["queues"], UTC_TS),
    }), out / "queues.parquet")
    # Operators in contiguous blocks per team, so "an operator of the queue's team" is one draw.
    op_team = (np.arange(shape["operators"]) * shape["teams"]) // shape["operators"]
    first_op = np.searchsorted(op_team, np.arange(shape["teams"]))
    team_size = np.bincount(op_team, minlength=shape["teams"])
    ops = shape["operators"]
    pq.write_table(pa.table({
        "operator_id": [f"OP{o:04d}" for o in range(ops)],
        "display_name": [f"Operator {o}" for o in range(ops)],
        "team_id": [teams[t] for t in op_team],
        "tier": ["L2" if o % 10 == 9 else "L1" for o in range(ops)],
        "timezone": [team_tz[t] for t in op_team],
        "valid_from": pa.array([date(2024, 1, 1)] * ops, pa.date32()),
        "valid_to": pa.array([None] * ops, pa.date32()),
        "employment_type": ["full_time"] * ops,
        "fte": [1.0] * ops,
        "updated_at": pa.array([updated.as_py()] * ops, UTC_TS),
    }), out / "operators.parquet")
    return {"q_team": q_team, "first_op": first_op, "team_size": team_size}


# --- calls ---------------------------------------------------------------------------------------

def _calls_per_day(n: int, rng: np.random.Generator) -> np.ndarray:
    weekday = np.array([(START + timedelta(days=d)).weekday() for d in range(DAYS)])
    w = np.where(weekday < 5, 1.15, 0.6) * rng.uniform(0.9, 1.1, DAYS)
    counts = np.floor(w / w.sum() * n).astype(np.int64)
    counts[: n - counts.sum()] += 1
    return counts


def _phones(customers: np.ndarray, anonymous: np.ndarray) -> list[str]:
    # A bijection of the customer index onto 9 digits (7919 is coprime with 10^9): unique numbers.
    digits = (customers.astype(np.int64) * 7919 + 123_457) % 1_000_000_000
    return ["anonymous" if a else f"+79{d:09d}" for d, a in zip(digits.tolist(), anonymous.tolist(), strict=True)]


def _ts(base_us: int, offsets_s: np.ndarray) -> np.ndarray:
    return (base_us + np.round(offsets_s * 1e6)).astype("int64")


def _ts_array(us: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(us, pa.int64(), mask=mask).cast(UTC_TS)


def generate(n_calls: int, out: Path, seed: int = SEED) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    (out / "calls").mkdir(parents=True)
    (out / "csat_responses").mkdir()
    rng = np.random.default_rng(seed)
    shape = _shape(n_calls)
    dims = _write_dimensions(out, shape)
    per_day = _calls_per_day(n_calls, rng)
    reason_p = 1 / np.arange(1, len(REASONS) + 1) ** 0.8
    reason_p /= reason_p.sum()
    queue_p = rng.uniform(0.5, 1.5, shape["queues"])
    queue_p /= queue_p.sum()

    ring: deque[dict[str, np.ndarray]] = deque(maxlen=REPEAT_LOOKBACK_DAYS)
    writers = _PartWriters(out)
    call_no = response_no = 0
    totals = {"calls": 0, "answered": 0, "abandoned": 0, "callbacks": 0, "csat_responses": 0}
    for day in range(DAYS):
        n = int(per_day[day])
        day_us = int((START + timedelta(days=day)).timestamp() * 1e6)
        # Time of day: a broad peak around 09:00 UTC (12:00 Moscow, 19:00 Vladivostok).
        # (wrapped around midnight, never clipped: clipping would stack calls on one instant)
        tod = np.sort(np.mod(rng.normal(9 * 3600, 4.5 * 3600, n), 86_400.0))
        customer = np.floor(shape["customers"] * rng.random(n) ** 1.5).astype(np.int64)
        reason = rng.choice(len(REASONS), n, p=reason_p)
        queue = rng.choice(shape["queues"], n, p=queue_p)
        anonymous = rng.random(n) < ANONYMOUS_SHARE
        if ring:
            prev = {k: np.concatenate([d[k] for d in ring]) for k in ring[0]}
            cb = np.flatnonzero(rng.random(n) < CALLBACK_SHARE)
            src = rng.integers(0, len(prev["customer"]), len(cb))
            customer[cb] = prev["customer"][src]
            anonymous[cb] = prev["anonymous"][src]
            queue[cb] = prev["queue"][src]
            same = rng.random(len(cb)) < CALLBACK_SAME_REASON
            reason[cb] = np.where(same, prev["reason"][src], rng.choice(len(REASONS), len(cb), p=reason_p))
            totals["callbacks"] += len(cb)
        ring.append({"customer": customer, "reason": reason, "queue": queue, "anonymous": anonymous})

        outbound = rng.random(n) < OUTBOUND_SHARE
        abandoned = (rng.random(n) < ABANDON_SHARE) & ~outbound
        short = abandoned & (rng.random(n) < SHORT_ABANDON_SHARE)
        answered = ~abandoned
        team = dims["q_team"][queue]
        operator = dims["first_op"][team] + (rng.random(n) * dims["team_size"][team]).astype(np.int64)

        wait = np.where(outbound, 0.0, rng.exponential(25.0, n))
        wait = np.where(abandoned, np.where(short, rng.uniform(0.5, 4.5, n), 5 + rng.exponential(45.0, n)), wait)
        talk = np.round(rng.lognormal(5.3, 0.6, n))
        hold = np.where(rng.random(n) < 0.25, np.round(rng.exponential(45.0, n)), 0.0)
        wrap = np.round(rng.gamma(2.0, 15.0, n))
        enq = _ts(day_us, tod)
        ans = _ts(day_us, tod + wait)
        end = np.where(answered, _ts(day_us, tod + wait + talk + hold), ans)
        end_reason = rng.choice(len(END_REASONS), n, p=END_REASON_P)

        ids = np.arange(call_no, call_no + n)
        call_no += n
        call_ids = [f"C{i:09d}" for i in ids.tolist()]
        ops = np.array([f"OP{o:04d}" for o in range(shape["operators"])], dtype=object)
        qs = np.array([f"Q{q:03d}" for q in range(shape["queues"])], dtype=object)
        reasons = np.array(REASONS, dtype=object)
        calls = pa.table({
            "call_id": call_ids,
            "leg": pa.array(np.ones(n, dtype=np.int64)),
            "direction": np.where(outbound, "outbound", "inbound").astype(object),
            "queue_id": pa.array(qs[queue], pa.string(), mask=outbound),
            "agent_id": pa.array(ops[operator], pa.string(), mask=abandoned),
            "customer_phone": _phones(customer, anonymous),
            "reason_code": reasons[reason],
            "language": np.array(LANGUAGES, dtype=object)[rng.choice(3, n, p=LANGUAGE_P)],
            "enqueued_at": _ts_array(enq, outbound),
            "answered_at": _ts_array(ans, abandoned),
            "ended_at": _ts_array(end),
            "outcome": np.where(abandoned, "abandoned", "answered").astype(object),
            "end_reason": pa.array(np.array(END_REASONS, dtype=object)[end_reason], pa.string(), mask=abandoned),
            "talk_s": pa.array(talk, mask=abandoned),
            "hold_s": pa.array(hold, mask=abandoned),
            "wrap_s": pa.array(wrap, mask=abandoned),
        }, schema=CALLS_SCHEMA)
        writers.write_calls(calls)

        # CSAT: a share of the answered calls, received after the end (some late, some twice).
        rated = np.flatnonzero(answered & (rng.random(n) < CSAT_SHARE))
        twice = rated[rng.random(len(rated)) < CSAT_TWICE_SHARE]
        rows = np.concatenate([rated, twice])
        delay = rng.lognormal(np.log(900), 1.2, len(rows))
        late = rng.random(len(rows)) < CSAT_LATE_SHARE
        delay = np.where(late, rng.uniform(5, 30, len(rows)) * 86_400, delay)
        delay[len(rated):] += rng.uniform(3600, 3 * 86_400, len(twice))
        received = end[rows] + np.round(delay * 1e6).astype(np.int64)
        resp_ids = [f"R{i:09d}" for i in range(response_no, response_no + len(rows))]
        response_no += len(rows)
        csat = pa.table({
            "response_id": resp_ids,
            "survey_id": [f"S{i:09d}" for i in ids[rows].tolist()],
            "contact_type": ["call"] * len(rows),
            "contact_id": [call_ids[i] for i in rows.tolist()],
            "received_at": _ts_array(received),
            "scale": ["1-5"] * len(rows),
            "score": np.array(SCORES, dtype=object)[rng.choice(5, len(rows), p=SCORE_P)],
            "language": calls.column("language").take(pa.array(rows)),
        }, schema=CSAT_SCHEMA)
        writers.write_csat(csat)
        totals["calls"] += n
        totals["answered"] += int(answered.sum())
        totals["abandoned"] += int(abandoned.sum())
        totals["csat_responses"] += len(rows)
    writers.close()
    meta = {"version": VERSION, "seed": seed, "start": START.isoformat(), "days": DAYS, **shape, **totals,
            "calls_files": writers.parts, "part_rows": PART_ROWS}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


class _PartWriters:
    """Calls go to a new part every PART_ROWS rows; the responses follow the same parts. Days are
    buffered into row groups of about ROW_GROUP_ROWS rows (a row group per day would be tiny)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.parts = 0
        self.rows_in_part = PART_ROWS
        self.calls: pq.ParquetWriter | None = None
        self.csat: pq.ParquetWriter | None = None
        self.pending: dict[str, list[pa.Table]] = {"calls": [], "csat": []}

    def _flush(self, which: str, *, force: bool = False) -> None:
        tables = self.pending[which]
        if tables and (force or sum(t.num_rows for t in tables) >= ROW_GROUP_ROWS):
            writer = self.calls if which == "calls" else self.csat
            writer.write_table(pa.concat_tables(tables).combine_chunks(), row_group_size=ROW_GROUP_ROWS)
            self.pending[which] = []

    def _roll(self) -> None:
        self.close()
        self.parts += 1
        name = f"part-{self.parts:04d}.parquet"
        self.calls = pq.ParquetWriter(self.out / "calls" / name, CALLS_SCHEMA, compression="zstd")
        self.csat = pq.ParquetWriter(self.out / "csat_responses" / name, CSAT_SCHEMA, compression="zstd")
        self.rows_in_part = 0

    def write_calls(self, table: pa.Table) -> None:
        while table.num_rows:
            if self.rows_in_part >= PART_ROWS:
                self._roll()
            take = min(table.num_rows, PART_ROWS - self.rows_in_part)
            self.pending["calls"].append(table.slice(0, take))
            self._flush("calls")
            self.rows_in_part += take
            table = table.slice(take)

    def write_csat(self, table: pa.Table) -> None:
        if table.num_rows:
            self.pending["csat"].append(table)
            self._flush("csat")

    def close(self) -> None:
        if self.calls is not None:
            self._flush("calls", force=True)
            self._flush("csat", force=True)
        for w in (self.calls, self.csat):
            if w is not None:
                w.close()
        self.calls = self.csat = None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    args = p.parse_args(argv)
    for size in args.sizes:
        print(ensure(size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
