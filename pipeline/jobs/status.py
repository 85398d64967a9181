"""`opkpi status`: what the current snapshot holds, read from the snapshot only (never the warehouse)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.home import Home
from pipeline.warehouse import current_snapshot, open_snapshot


@dataclass
class Status:
    run_id: str | None
    built_at: str | None
    files: dict[str, int]
    rows: dict[str, int]
    quarantine_open: list[dict]
    unresolved_agents: list[dict]
    operators: list[dict]


def _dicts(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def read_status(home: Home) -> Status:
    if current_snapshot(home) is None:
        return Status(None, None, {}, {}, [], [], [])
    con = open_snapshot(home)
    try:
        info = con.execute("SELECT run_id, strftime(built_at, '%Y-%m-%d %H:%M:%S') FROM snapshot_info").fetchone()
        files = {r[0]: r[1] for r in con.execute(
            "SELECT status, count(*) FROM dq_manifest GROUP BY status ORDER BY status").fetchall()}
        rows = dict(zip(["read", "inserted", "updated", "duplicate", "quarantined", "deferred", "flagged"],
                        con.execute("""SELECT coalesce(sum(rows_read), 0), coalesce(sum(inserted), 0),
                            coalesce(sum(updated), 0), coalesce(sum(duplicate), 0), coalesce(sum(quarantined), 0),
                            coalesce(sum(deferred), 0), coalesce(sum(flagged), 0)
                            FROM dq_manifest WHERE status IN ('loaded', 'partial')""").fetchone(), strict=True))
        quarantine = _dicts(con, """SELECT file, kind, rule_id, rows_n, first_location FROM dq_quarantine_summary
            WHERE status = 'open' ORDER BY rows_n DESC, file, rule_id""")
        unresolved = _dicts(con, "SELECT unresolved_agent, legs_n FROM dq_unresolved_agents ORDER BY legs_n DESC")
        operators = _dicts(con, """SELECT operator_id, display_name, team_id, tier, phone_legs_n, chat_legs_n,
            email_replies_n, social_legs_n FROM operator_activity ORDER BY team_id, operator_id""")
    finally:
        con.close()
    return Status(info[0], info[1], files, rows, quarantine, unresolved, operators)
