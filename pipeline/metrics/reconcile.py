"""Our first reply and resolution times against a source system's own figures, from the published
snapshot (never the warehouse): `opkpi report reconcile --source zendesk`.

Zendesk (mart `zendesk_source_metrics`, one row per ticket, published from the Zendesk metric sets)
against `contact_facts` (contact_type `ticket`, contact_id = the Zendesk ticket id):

| metric            | ours (contact_facts)                         | Zendesk (metric set)                  |
|-------------------|----------------------------------------------|---------------------------------------|
| first_reply       | frt_ms: creation → first public human reply  | reply_time_in_minutes                 |
| first_resolution  | resolution_ms: creation → first solve        | first_resolution_time_in_minutes      |
| full_resolution   | full_resolution_ms: creation → last solve    | full_resolution_time_in_minutes       |

`hours="business"` compares the business-hours variants (ours from the owning team's calendar,
Zendesk's from its own schedule; first reply has no business variant of ours, so it is left out).
A pair matches when |ours − Zendesk| ≤ `tolerance_min` minutes (Zendesk reports whole minutes).
Merged and deleted tickets are not handled contacts: they are counted as excluded, not compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.core.errors import OpkpiError, UsageError
from pipeline.core.home import Home
from pipeline.warehouse import open_snapshot

SOURCES = ("zendesk",)
HOURS = ("calendar", "business")
DEFAULT_TOLERANCE_MIN = 1.0
EXCLUDED_STATUSES = ("merged", "deleted")
MART = "zendesk_source_metrics"

# metric → (our contact_facts column by hours, Zendesk mart column by hours)
_METRICS: dict[str, tuple[dict[str, str | None], dict[str, str]]] = {
    "first_reply": ({"calendar": "frt_ms", "business": None},
                    {"calendar": "reply_time_calendar_min", "business": "reply_time_business_min"}),
    "first_resolution": ({"calendar": "resolution_ms", "business": "resolution_business_ms"},
                         {"calendar": "first_resolution_calendar_min", "business": "first_resolution_business_min"}),
    "full_resolution": ({"calendar": "full_resolution_ms", "business": "full_resolution_business_ms"},
                        {"calendar": "full_resolution_calendar_min", "business": "full_resolution_business_min"}),
}


@dataclass
class Reconciliation:
    source: str
    hours: str
    tolerance_min: float
    summary: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "hours": self.hours, "tolerance_min": self.tolerance_min,
                "summary": self.summary, "rows": self.rows}


def reconcile(home: Home, *, source: str = "zendesk", hours: str = "calendar",
              tolerance_min: float = DEFAULT_TOLERANCE_MIN) -> Reconciliation:
    if source not in SOURCES:
        raise UsageError(f"Attempted to reconcile with --source {source!r}, but only {', '.join(SOURCES)} "
                         "reports its own metrics", "Pass --source zendesk")
    if hours not in HOURS:
        raise UsageError(f"Attempted to reconcile {hours!r} hours, but it is not one of {', '.join(HOURS)}",
                         "Pass --hours calendar or --hours business")
    if tolerance_min < 0:
        raise UsageError(f"Attempted to reconcile within {tolerance_min} minutes, but a tolerance is not negative",
                         "Pass e.g. --tolerance 1")
    con = open_snapshot(home)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if MART not in tables or "contact_facts" not in tables:
            raise OpkpiError(f"Attempted to reconcile with Zendesk, but the published snapshot has no {MART} "
                             "or contact_facts", "Load a Zendesk Incremental Ticket Export with include=metric_sets "
                             "(opkpi ingest --format zendesk FILE), then run `opkpi run`")
        ours_cols = sorted({c for o, _ in _METRICS.values() for c in o.values() if c})
        theirs_cols = sorted({c for _, z in _METRICS.values() for c in z.values()})
        cur = con.execute(f"""
            SELECT z.ticket_id, z.status, coalesce(c.channel, z.channel) AS channel, c.contact_id IS NOT NULL AS is_ours,
                {', '.join(f'c.{col}' for col in ours_cols)}, {', '.join(f'z.{col}' for col in theirs_cols)}
            FROM {MART} AS z
            LEFT JOIN contact_facts AS c ON c.contact_type = 'ticket' AND c.contact_id = z.ticket_id
            ORDER BY try_cast(z.ticket_id AS BIGINT) NULLS LAST, z.ticket_id""")
        names = [d[0] for d in cur.description]
        tickets = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    return _compare(tickets, source=source, hours=hours, tolerance_min=tolerance_min)


def _compare(tickets: list[dict[str, Any]], *, source: str, hours: str, tolerance_min: float) -> Reconciliation:
    result = Reconciliation(source=source, hours=hours, tolerance_min=tolerance_min)
    order = {t["ticket_id"]: i for i, t in enumerate(tickets)}
    for metric, (ours_by_hours, theirs_by_hours) in _METRICS.items():
        ours_col, theirs_col = ours_by_hours[hours], theirs_by_hours[hours]
        if ours_col is None:
            continue
        counts = {"compared_n": 0, "matched_n": 0, "only_ours_n": 0, "only_source_n": 0, "excluded_n": 0}
        abs_diffs: list[float] = []
        for t in tickets:
            ours_ms, theirs = t.get(ours_col), t.get(theirs_col)
            if ours_ms is None and theirs is None:
                continue
            if t.get("status") in EXCLUDED_STATUSES or not t["is_ours"]:
                counts["excluded_n" if t.get("status") in EXCLUDED_STATUSES else "only_source_n"] += 1
                continue
            ours_min = None if ours_ms is None else ours_ms / 60000.0
            diff = None if ours_min is None or theirs is None else ours_min - theirs
            matched = None if diff is None else abs(diff) <= tolerance_min + 1e-9
            if diff is None:
                counts["only_ours_n" if theirs is None else "only_source_n"] += 1
            else:
                counts["compared_n"] += 1
                counts["matched_n"] += int(bool(matched))
                abs_diffs.append(abs(diff))
            result.rows.append({"ticket_id": t["ticket_id"], "channel": t.get("channel"), "status": t.get("status"),
                                "metric": metric, "ours_min": ours_min, "source_min": theirs, "diff_min": diff,
                                "is_match": matched})
        n = counts["compared_n"]
        result.summary.append({
            "metric": metric, **counts,
            "match_rate": counts["matched_n"] / n if n else None,
            "mean_abs_diff_min": sum(abs_diffs) / n if n else None,
            "max_abs_diff_min": max(abs_diffs) if abs_diffs else None,
        })
    metric_order = {m: i for i, m in enumerate(_METRICS)}
    result.rows.sort(key=lambda r: (order[r["ticket_id"]], metric_order[r["metric"]]))
    return result
