"""Upsert outcomes do not depend on how a file is cut into committed chunks (DESIGN §5)."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

from pipeline.core.home import Home
from pipeline.ingest import data_tables, ingest_paths
from pipeline.ingest.loader import _by_chunk, _chunks, _notes_by_chunk
from pipeline.ingest.problems import Problem

HEAD = "ticket_id,channel,direction,created_at,updated_at,status\n"
CREATED = "2026-10-14T09:00:00Z"


def _ticket(n: int, updated_hour: int, status: str) -> str:
    return f"t{n},email,inbound,{CREATED},2026-10-14T{updated_hour:02d}:00:00Z,{status}\n"


FIRST = HEAD + "".join(_ticket(n, 10, "open") for n in range(1, 9))
# t1, t4 identical; t2, t5, t7 newer (win); t3 older (loses, to history); t6 updated before it was
# created (quarantined); t9, t10 new; t7's identical repeat in the file is a duplicate; t8 absent.
SECOND = HEAD + "".join([
    _ticket(1, 10, "open"), _ticket(2, 12, "solved"), _ticket(3, 9, "new"), _ticket(4, 10, "open"),
    _ticket(9, 11, "open"), _ticket(5, 12, "pending"), _ticket(7, 13, "solved"), _ticket(6, 8, "new"),
    _ticket(10, 11, "open"), _ticket(7, 13, "solved"),
])


def _digest(home: Home) -> dict[str, tuple]:
    skip = {"_loaded_at", "_load_id", "_superseded_at", "_superseded_by"}
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    try:
        out = {}
        for t in data_tables():
            cols = [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall() if r[0] not in skip]
            expr = ", ".join(f'coalesce(CAST("{c}" AS VARCHAR), chr(0))' for c in cols)
            out[t] = con.execute(f"SELECT count(*), coalesce(sum(hash(concat_ws(chr(31), {expr}))), 0) FROM {t}"
                                 ).fetchone()
        return out
    finally:
        con.close()


def _load_both(tmp_path: Path, config, chunk_rows: int) -> tuple[tuple, dict, list[tuple]]:
    home = Home(tmp_path / f"home{chunk_rows}")
    first = tmp_path / "a" / "tickets.csv"
    second = tmp_path / "b" / "tickets.csv"
    for path, text in ((first, FIRST), (second, SECOND)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    ingest_paths(home, config, [first], chunk_rows=chunk_rows)
    [r] = ingest_paths(home, config, [second], chunk_rows=chunk_rows)
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    chunk_sums = con.execute("""SELECT sum(rows_read), sum(inserted), sum(updated), sum(duplicate)
        FROM load_chunks WHERE load_id = ?""", [r.load_id]).fetchall()
    con.close()
    return (r.status, r.read, r.inserted, r.updated, r.duplicate, r.quarantined), _digest(home), chunk_sums


def test_outcomes_do_not_depend_on_the_chunk_size(tmp_path: Path, config) -> None:
    small = _load_both(tmp_path, config, chunk_rows=2)
    whole = _load_both(tmp_path, config, chunk_rows=1000)
    assert small[0] == whole[0] == ("partial", 10, 2, 4, 3, 1)
    assert small[1] == whole[1]
    assert small[2] == whole[2] == [(10, 2, 4, 3)]
    assert small[1]["raw_tickets"][0] == 10 and small[1]["raw_tickets_history"][0] == 4


def _reference(chunks, quarantine: list[int], dups: set[int], notes: list[Problem]):
    """The per-chunk selection as written before bucketing (one scan per chunk)."""
    out = {}
    for chunk_no, first, last in chunks:
        out[chunk_no] = (
            [ln for ln in quarantine if first <= ln <= last],
            sum(1 for ln in dups if first <= ln <= last),
            [p for p in notes if (p.line is not None and first <= p.line <= last)
             or (chunk_no == 0 and (p.line is None or p.line < first))],
        )
    return out


@pytest.mark.parametrize("seed", range(20))
def test_bucketing_matches_the_per_chunk_scan(seed: int) -> None:
    rng = random.Random(seed)
    lines = sorted(rng.sample(range(2, 400), rng.randint(0, 120)))
    chunks = _chunks(lines, rng.randint(1, 30))
    others = list(range(0, 420))
    quarantine = rng.sample(others, rng.randint(0, 40))  # insertion order is kept, not sorted
    dups = set(rng.sample(others, rng.randint(0, 40)))
    notes = [Problem(rule_id="unknown_agent", file="f.csv", line=rng.choice([None, *others]), column=None,
                     message=str(i)) for i in range(rng.randint(0, 60))]
    q, d, n = _by_chunk(chunks, quarantine), _by_chunk(chunks, dups), _notes_by_chunk(chunks, notes)
    got = {c: (q.get(c, []), len(d.get(c, [])), n.get(c, [])) for c, _, _ in chunks}
    assert got == _reference(chunks, quarantine, dups, notes)
