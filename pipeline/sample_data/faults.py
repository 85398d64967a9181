"""Deliberately invalid rows, one defect each, and the list that says where they are.

Each bad row is a copy of a valid neighbour with a fresh key and exactly one defect, so it fails
exactly one rule and its absence changes no figure. `EXPECTED_QUARANTINE.toml` names file,
physical line (header = 1), rule id and 1-based column index of every one of them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.sample_data.world import Row

FILE_NAME = "EXPECTED_QUARANTINE.toml"


@dataclass
class Fault:
    file: str
    rule_id: str
    column: str
    why: str
    row: Row
    line: int = 0
    column_index: int = 0


def _pick(rng: random.Random, rows: list[Row], ok: Callable[[Row], bool]) -> Row:
    middle = rows[len(rows) // 5: len(rows) * 4 // 5] or rows
    candidates = [r for r in middle if ok(r)]
    return rng.choice(candidates)


def _shift(iso: str, seconds: int) -> str:
    return (datetime.fromisoformat(iso) + timedelta(seconds=seconds)).isoformat()


def _answered(r: Row) -> bool:
    return r["outcome"] == "answered" and r["queue_id"] != "" and r["source_system"] == "canonical"


def build_faults(rng: random.Random, files: dict[str, list[Row]], new_id: Callable[[str, int], str]) -> list[Fault]:
    calls, chats = files["calls"], files["chats"]
    faults: list[Fault] = []

    row = dict(_pick(rng, calls, _answered))
    row.update(call_id=new_id("CALL", 6), leg="1", talk_s=f"-{row['talk_s']}")
    faults.append(Fault("calls", "negative_duration", "talk_s", "talk_s is negative", row))

    row = dict(_pick(rng, calls, lambda r: _answered(r) and _wait(r) >= 10))
    # Ends after it was queued but before it was answered: only one of the three order checks fails.
    row.update(call_id=new_id("CALL", 6), leg="1", ended_at=_shift(row["answered_at"], -(_wait(row) // 2)))
    faults.append(Fault("calls", "end_before_start", "ended_at", "ended_at is before answered_at", row))

    row = dict(_pick(rng, calls, _answered))
    row.update(call_id=new_id("CALL", 6), leg="1", direction="sideways")
    faults.append(Fault("calls", "allowed_value", "direction", "direction `sideways` is not allowed", row))

    row = dict(_pick(rng, calls, _answered))
    row.update(call_id=new_id("CALL", 6), leg="two")
    faults.append(Fault("calls", "type_mismatch", "leg", "leg `two` is not an integer", row))

    row = dict(_pick(rng, chats, lambda r: r["outcome"] == "answered"))
    row.update(chat_id=new_id("CHAT", 6), leg="1", queued_at=row["queued_at"][:19])
    faults.append(Fault("chats", "naive_timestamp", "queued_at", "queued_at has no UTC offset", row))

    row = dict(_pick(rng, files["ticket_events"], lambda r: r["event_type"] == "reply"))
    row.update(event_id=new_id("TE", 7), ticket_id="")
    faults.append(Fault("ticket_events", "required_value", "ticket_id", "ticket_id is empty", row))

    row = dict(_pick(rng, files["tickets"], lambda r: r["tracked_time_s"] != ""))
    row.update(ticket_id=new_id("TKT", 6), tracked_time_s=f"-{row['tracked_time_s']}")
    faults.append(Fault("tickets", "negative_duration", "tracked_time_s", "tracked_time_s is negative", row))

    first = dict(_pick(rng, files["csat_responses"], lambda r: r["scale"] == "1-5"))
    first["response_id"] = new_id("CR", 6)
    second = dict(_pick(rng, files["csat_responses"], lambda r: r["scale"] == "1-5" and r is not first))
    second.update(response_id=first["response_id"], score="1" if first["score"] != "1" else "5")
    for r in (first, second):
        faults.append(Fault("csat_responses", "conflicting_key", "response_id",
                            "one response_id with two different contents: both rows are quarantined", r))
    return faults


def _wait(r: Row) -> int:
    return int((datetime.fromisoformat(r["answered_at"]) - datetime.fromisoformat(r["enqueued_at"])).total_seconds())


def insert_faults(rng: random.Random, files: dict[str, list[Row]], columns: dict[str, tuple[str, ...]],
                  faults: list[Fault]) -> None:
    """Put each bad row somewhere in the middle of its file, then record where it ended up."""
    for f in faults:
        rows = files[f.file]
        rows.insert(rng.randint(len(rows) // 4, len(rows) * 3 // 4), f.row)
    for f in faults:
        rows = files[f.file]
        index = next(i for i, r in enumerate(rows) if r is f.row)
        f.line = index + 2  # the header is line 1 and no field holds a line break
        f.column_index = columns[f.file].index(f.column) + 1


def write_expected(path: Path, faults: list[Fault], seed: int) -> None:
    lines = [
        "# Rows of this sample that are invalid on purpose (opkpi sample-data, seed "
        f"{seed}).",
        "# Ingest must quarantine exactly these and nothing else. line: 1-based physical line (header = 1);",
        "# column: 1-based field index in that file's header; rule_id: pipeline/ingest/rules.py.",
    ]
    for f in sorted(faults, key=lambda f: (f.file, f.line)):
        key = next(iter(f.row.values()))
        lines += ["", "[[row]]", f'file = "{f.file}.csv"', f"line = {f.line}", f'rule_id = "{f.rule_id}"',
                  f"column = {f.column_index}", f'column_name = "{f.column}"', f'key = "{key}"',
                  f'why = "{f.why.replace(chr(96), "")}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
