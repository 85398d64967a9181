"""`opkpi quarantine list | replay | discard` and the re-application of decisions on rebuild.

Decisions are the system of record in the state store (audited); the warehouse's `quarantine`
table only mirrors them, so a rebuilt warehouse gets them back."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipeline.core.config import Config
from pipeline.core.errors import UsageError
from pipeline.core.home import Home
from pipeline.ingest.archive import Archive
from pipeline.ingest.loader import FileResult, _Context, _ingest_one
from pipeline.state import open_state, quarantine_decisions, record_quarantine_decision

LIST_COLUMNS = ("file", "kind", "location", "rule_id", "column_name", "message", "raw_masked", "status",
                "sha256", "line", "quarantined_at")


@dataclass(frozen=True)
class Selection:
    rule: str | None = None
    file: str | None = None
    status: str = "open"

    def where(self) -> tuple[str, list]:
        clauses, params = ["status = ?"], [self.status]
        if self.rule:
            clauses.append("rule_id = ?")
            params.append(self.rule)
        if self.file:
            clauses.append("(file = ? OR sha256 = ?)")
            params += [self.file, self.file]
        return " AND ".join(clauses), params


def list_rows(con: duckdb.DuckDBPyConnection, sel: Selection) -> list[dict]:
    where, params = sel.where()
    cur = con.execute(f"SELECT {', '.join(chr(34) + c + chr(34) for c in LIST_COLUMNS)} FROM quarantine "
                      f"WHERE {where} ORDER BY file, line, rule_id", params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def discard(home: Home, con: duckdb.DuckDBPyConnection, sel: Selection, *, reason: str,
            actor: str) -> int:
    if not reason.strip():
        raise UsageError("Attempted to discard quarantined rows, but no reason was given",
                         "Pass --reason TEXT: discards are audited")
    rows = list_rows(con, sel)
    state = open_state(home)
    try:
        for r in rows:
            record_quarantine_decision(state, file_sha256=r["sha256"], line=r["line"], rule_id=r["rule_id"],
                                       decision="discard", reason=reason, actor=actor)
    finally:
        state.close()
    where, params = sel.where()
    con.execute(f"UPDATE quarantine SET status = 'discarded', decided_reason = ? WHERE {where}", [reason, *params])
    return len({(r["sha256"], r["line"]) for r in rows})


def replay(ctx: _Context, sel: Selection, *, actor: str) -> list[FileResult]:
    """Re-read the selected rows from the archive with the current configuration: rows that now
    pass load; rows that still fail are quarantined again under the new attempt."""
    con = ctx.con
    rows = list_rows(con, sel)
    by_sha: dict[str, set[int]] = {}
    for r in rows:
        by_sha.setdefault(r["sha256"], set()).add(int(r["line"]))
    results = []
    state = open_state(ctx.home)
    try:
        for sha, lines in by_sha.items():
            entry = Archive(ctx.home).get(sha)
            if entry is None:
                continue
            data = Archive(ctx.home).read(sha)
            con.execute("UPDATE quarantine SET status = 'replayed' WHERE sha256 = ? AND line IN "
                        f"({', '.join('?' for _ in lines)}) AND status = 'open'", [sha, *sorted(lines)])
            for line in sorted(lines):
                record_quarantine_decision(state, file_sha256=sha, line=line, rule_id=None, decision="replay",
                                           reason="replay with current configuration", actor=actor)
            options = {k: v for k, v in entry.options.items() if k not in ("encoding", "timezone")}
            options["stateless"] = True  # a replay re-reads archived bytes: no tail state applies
            results += _ingest_one(ctx, ctx.home.archive_dir / entry.name, kind=entry.kind, force=True,
                                   strict=ctx.config.ingest.strict, chunk_rows=ctx.config.ingest.chunk_rows,
                                   dialect=entry.dialect, data=data, only_lines=lines, options=options)
    finally:
        state.close()
    return results


def apply_decisions(home: Home, con: duckdb.DuckDBPyConnection) -> int:
    """Re-apply discards after a rebuild (replays need nothing: the rebuild used the current config)."""
    if not home.state_db.exists():
        return 0
    state = open_state(home)
    try:
        decisions = quarantine_decisions(state)
    finally:
        state.close()
    n = 0
    for d in decisions:
        if d.decision != "discard":
            continue
        con.execute("""UPDATE quarantine SET status = 'discarded', decided_reason = ?
            WHERE sha256 = ? AND line = ? AND (rule_id = ? OR ? IS NULL) AND status = 'open'""",
                    [d.reason, d.file_sha256, d.line, d.rule_id, d.rule_id])
        n += 1
    return n


def default_config_context(home: Home, config: Config, con: duckdb.DuckDBPyConnection) -> _Context:
    from pipeline.ingest import open_writer_context

    return open_writer_context(home, config, con)
