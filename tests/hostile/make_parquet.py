"""Writes the two Parquet fixtures of the hostile suite (run once; the outputs are committed).

    .venv/bin/python tests/hostile/make_parquet.py

- `parquet_negative_duration.parquet`: three calls with native Parquet types (int64 leg, UTC
  timestamps, float64 talk_s); the 2nd row has talk_s = -5.0 (negative_duration).
- `truncated_parquet.parquet`: the first half of the same file's bytes, as a half-copied export
  leaves it: the magic `PAR1` is there, the footer is not (unreadable_parquet).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

FILES = Path(__file__).parent / "files"


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def calls_table() -> pa.Table:
    ts = pa.timestamp("us", tz="UTC")
    return pa.table({
        "call_id": pa.array(["pq-1", "pq-2", "pq-3"], pa.string()),
        "leg": pa.array([1, 1, 1], pa.int64()),
        "direction": pa.array(["inbound", "inbound", "inbound"], pa.string()),
        "queue_id": pa.array(["q-support"] * 3, pa.string()),
        "agent_id": pa.array(["op-001", "op-002", "op-003"], pa.string()),
        "enqueued_at": pa.array([_ts("2026-03-02T09:00:00+02:00"), _ts("2026-03-02T09:10:00+02:00"),
                                 _ts("2026-03-02T09:20:00+02:00")], ts),
        "answered_at": pa.array([_ts("2026-03-02T09:00:15+02:00"), _ts("2026-03-02T09:10:20+02:00"),
                                 _ts("2026-03-02T09:20:05+02:00")], ts),
        "ended_at": pa.array([_ts("2026-03-02T09:05:00+02:00"), _ts("2026-03-02T09:14:00+02:00"),
                              _ts("2026-03-02T09:21:05+02:00")], ts),
        "outcome": pa.array(["answered"] * 3, pa.string()),
        "talk_s": pa.array([285.0, -5.0, 60.0], pa.float64()),
    })


def main() -> None:
    buf = io.BytesIO()
    pq.write_table(calls_table(), buf)
    data = buf.getvalue()
    (FILES / "parquet_negative_duration.parquet").write_bytes(data)
    (FILES / "truncated_parquet.parquet").write_bytes(data[: len(data) // 2])


if __name__ == "__main__":
    main()
