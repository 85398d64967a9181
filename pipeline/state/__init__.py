"""The state store (DESIGN §1): system of record in `state/opkpi.sqlite`, never rebuilt."""

from pipeline.state.store import (
    MIGRATIONS,
    QuarantineDecision,
    audit,
    backup,
    open_state,
    quarantine_decisions,
    record_quarantine_decision,
    utc_now,
    write_transaction,
)

__all__ = ["MIGRATIONS", "QuarantineDecision", "audit", "backup", "open_state", "quarantine_decisions",
           "record_quarantine_decision", "utc_now", "write_transaction"]
