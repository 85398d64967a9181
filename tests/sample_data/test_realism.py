"""Acceptance for the sample data: the default sample, loaded through the real ingest, has the
realism DESIGN asks for, measured in the warehouse (not taken from the generator's parameters),
and the ingest quarantines exactly the rows listed in EXPECTED_QUARANTINE.toml.

Definitions used here (simple on purpose; the marts have the exact ones):
- CSAT response rate = distinct surveys with a response / surveys sent.
- Repeat within 7 days = inbound resolved contacts (a call with a leg ending `resolved`, a chat
  likewise, a ticket with a solve event; customer key and reason known; not a short abandon or an
  auto-reply) followed by another such inbound contact, resolved or not, from the same customer_key
  with the same reason_code, starting after it and at most 7 days after its resolution, on any
  channel / all those resolved contacts.
- L1→L2 escalation share = (L1 call and chat legs ending `escalation` + ticket `escalate` events
  with target_tier L2 authored by an L1 operator) / (L1 call and chat legs answered by an operator
  + distinct (ticket, L1 assignee) pairs from assign, transfer and escalate events). A leg's agent
  is resolved through operator_identities (validity by UTC date) after the default Asterisk
  normalisation `Local/NNNN@...` → `PJSIP/NNNN`.
- Short abandons = queue stints (calls rows with a queue, outcome not in_progress) abandoned after
  less than 5 s / all such stints.
- Night share = operators with at least one night shift / operators.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipeline.core.config import Config
from pipeline.core.home import Home
from pipeline.ingest import ingest_paths
from pipeline.ingest.rules import RULES
from pipeline.sample_data import generate

RANGES = {
    "csat_response_rate": (0.10, 0.30),
    "repeat_7d_rate": (0.08, 0.20),
    "l1_to_l2_escalation_rate": (0.05, 0.15),
    "short_abandon_rate": (0.02, 0.08),
    "night_shift_operator_share": (0.10, 1.0),
}

_AGENTS = r"""
tiers AS (SELECT operator_id, any_value(tier) AS tier FROM raw_operators GROUP BY operator_id),
legs AS (
    SELECT coalesce(source_system, 'canonical') AS ss,
           regexp_replace(agent_id, '^Local/(\d+)@.*$', 'PJSIP/\1') AS agent, answered_at AS at, end_reason
    FROM raw_calls WHERE agent_id IS NOT NULL AND outcome = 'answered'
    UNION ALL
    SELECT coalesce(source_system, 'canonical'), agent_id, accepted_at, end_reason
    FROM raw_chats WHERE agent_id IS NOT NULL AND outcome = 'answered'
),
resolved_legs AS (
    SELECT l.end_reason, coalesce(i.operator_id, CASE WHEN l.ss = 'canonical' THEN l.agent END) AS operator_id
    FROM legs l LEFT JOIN raw_operator_identities i
      ON i.source_system = l.ss AND i.source_id = l.agent AND CAST(l.at AS DATE) >= i.valid_from
     AND (i.valid_to IS NULL OR CAST(l.at AS DATE) < i.valid_to)
)"""

SQL: dict[str, str] = {
    "csat_response_rate": """
        SELECT (SELECT count(DISTINCT r.survey_id) FROM raw_csat_responses r
                WHERE r.survey_id IN (SELECT survey_id FROM raw_surveys_sent)),
               (SELECT count(*) FROM raw_surveys_sent)""",
    "repeat_7d_rate": """
        WITH contacts AS (
            SELECT 'call' AS kind, call_id AS id, any_value(customer_key) AS ck, any_value(reason_code) AS rc,
                   min(coalesce(enqueued_at, answered_at)) AS started_at,
                   min(ended_at) FILTER (WHERE end_reason = 'resolved') AS resolved_at,
                   NOT bool_and(outcome = 'abandoned' AND epoch(ended_at) - epoch(enqueued_at) < 5) AS eligible
            FROM raw_calls WHERE direction = 'inbound' GROUP BY call_id
            UNION ALL
            SELECT 'chat', chat_id, any_value(customer_key), any_value(reason_code), min(queued_at),
                   min(ended_at) FILTER (WHERE end_reason = 'resolved'), true
            FROM raw_chats WHERE coalesce(direction, 'inbound') = 'inbound' GROUP BY chat_id
            UNION ALL
            SELECT 'ticket', t.ticket_id, t.customer_key, t.reason_code, t.created_at, s.first_solve,
                   NOT coalesce(t.is_auto_reply, false)
            FROM raw_tickets t
            LEFT JOIN (SELECT ticket_id, min("at") AS first_solve FROM raw_ticket_events
                       WHERE event_type = 'solve' GROUP BY ticket_id) s USING (ticket_id)
            WHERE t.direction = 'inbound'
        ),
        base AS (SELECT * FROM contacts
                 WHERE resolved_at IS NOT NULL AND ck IS NOT NULL AND rc IS NOT NULL AND eligible),
        repeated AS (
            SELECT DISTINCT b.kind, b.id FROM base b JOIN contacts y
              ON y.ck = b.ck AND y.rc = b.rc AND y.eligible AND NOT (y.kind = b.kind AND y.id = b.id)
             AND y.started_at > b.started_at AND y.started_at <= b.resolved_at + INTERVAL 7 DAY
        )
        SELECT (SELECT count(*) FROM repeated), (SELECT count(*) FROM base)""",
    "l1_to_l2_escalation_rate": f"""
        WITH {_AGENTS},
        l1_legs AS (SELECT r.end_reason FROM resolved_legs r JOIN tiers t USING (operator_id) WHERE t.tier = 'L1'),
        l1_tickets AS (
            SELECT DISTINCT e.ticket_id, e.assignee_id FROM raw_ticket_events e
            JOIN tiers t ON t.operator_id = e.assignee_id
            WHERE e.event_type IN ('assign', 'transfer', 'escalate') AND t.tier = 'L1'
        ),
        l1_ticket_escalations AS (
            SELECT e.event_id FROM raw_ticket_events e JOIN tiers t ON t.operator_id = e.author_id
            WHERE e.event_type = 'escalate' AND e.target_tier = 'L2' AND t.tier = 'L1'
        )
        SELECT (SELECT count(*) FROM l1_legs WHERE end_reason = 'escalation')
                 + (SELECT count(*) FROM l1_ticket_escalations),
               (SELECT count(*) FROM l1_legs) + (SELECT count(*) FROM l1_tickets)""",
    "short_abandon_rate": """
        SELECT count(*) FILTER (WHERE outcome = 'abandoned' AND epoch(ended_at) - epoch(enqueued_at) < 5),
               count(*)
        FROM raw_calls WHERE queue_id IS NOT NULL AND outcome <> 'in_progress'""",
    "night_shift_operator_share": """
        SELECT (SELECT count(DISTINCT operator_id) FROM raw_shifts WHERE shift_type = 'night'),
               (SELECT count(DISTINCT operator_id) FROM raw_operators)""",
}


def measure(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) of every realism figure, from raw_<kind> tables."""
    out: dict[str, tuple[int, int]] = {}
    for name, sql in SQL.items():
        row = con.execute(sql).fetchone()
        assert row is not None
        out[name] = (int(row[0]), int(row[1]))
    return out


def expected_quarantine(out: Path) -> list[tuple[str, int, str]]:
    listed = tomllib.loads((out / "EXPECTED_QUARANTINE.toml").read_text(encoding="utf-8"))["row"]
    return sorted((r["file"], r["line"], r["rule_id"]) for r in listed)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    tmp = tmp_path_factory.mktemp("realism")
    out = tmp / "sample"
    generate(out)
    home = Home(tmp / "home")
    home.ensure()
    ingest_paths(home, Config(), sorted(out.glob("*.csv")))
    con = duckdb.connect(str(home.warehouse_db), read_only=True)
    con.execute("SET TimeZone='UTC'")
    yield con, out
    con.close()


@pytest.fixture(scope="module")
def figures(loaded: tuple[duckdb.DuckDBPyConnection, Path]) -> dict[str, tuple[int, int]]:
    return measure(loaded[0])


@pytest.mark.parametrize("name", sorted(RANGES))
def test_figure_in_range(figures: dict[str, tuple[int, int]], name: str) -> None:
    num, den = figures[name]
    lo, hi = RANGES[name]
    assert den > 0, f"{name}: nothing to measure"
    assert lo <= num / den <= hi, f"{name} = {num}/{den} = {num / den:.3f}, expected {lo}..{hi}"


def test_quarantine_holds_exactly_the_listed_rows(loaded: tuple[duckdb.DuckDBPyConnection, Path]) -> None:
    con, out = loaded
    rows = con.execute("SELECT file, line, rule_id FROM quarantine").fetchall()
    # Referential flags (unknown_agent, unparseable_phone) load the row; only quarantining rules count.
    actual = sorted((Path(str(f)).name, int(line), str(rule)) for f, line, rule in rows
                    if RULES[str(rule)].action == "quarantine")
    assert actual == expected_quarantine(out)


def test_unknown_agent_row_loaded(loaded: tuple[duckdb.DuckDBPyConnection, Path]) -> None:
    con, _ = loaded
    n = con.execute("SELECT count(*) FROM raw_calls WHERE agent_id = 'temp.agent07'").fetchone()
    assert n is not None and n[0] == 1
