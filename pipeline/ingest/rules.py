"""The one registry of ingest rules (DESIGN §5). Parse rules are enforced in Python by the readers
and casts; row rules are great-expectations expectations built in `validation.py` from the
contract, each carrying `meta={"rule_id": ...}`. `docs/validation.md` is generated from here.

Actions: `reject` refuses the whole file (exit 3), `quarantine` keeps the row out with a reason,
`flag` loads the row and reports it, `warn` only reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["reject", "quarantine", "flag", "warn"]
Stage = Literal["parse", "table", "row", "referential"]


@dataclass(frozen=True)
class Rule:
    rule_id: str
    stage: Stage
    action: Action
    description: str
    hint: str = ""


RULES: dict[str, Rule] = {}


def _r(rule_id: str, stage: Stage, action: Action, description: str, hint: str = "") -> None:
    RULES[rule_id] = Rule(rule_id, stage, action, description, hint)


# --- parse rules (Python) ---------------------------------------------------------------------
_r("empty_file", "parse", "reject", "The file has 0 bytes.", "Check the export; a header-only file loads 0 rows")
_r("binary_file", "parse", "reject", "The file holds NUL bytes or other binary content, not text.",
   "Point opkpi at the CSV/JSONL/Parquet export, not an archive or spreadsheet binary")
_r("encoding", "parse", "reject", "The file is not valid UTF-8 and no fallback encoding is configured "
   "(or it is not valid in that encoding either).", "Set ingest.encoding = \"cp1251\" in opkpi.toml "
   "(or the file's real encoding), or re-export as UTF-8")
_r("wrong_delimiter", "parse", "reject", "The header is one field that contains `;`, tab or `|`: the file "
   "uses another delimiter than the comma.", "Re-export with commas, or use --mapping with `delimiter`")
_r("unterminated_quote", "parse", "quarantine", "A quoted field is never closed: the record runs to the end "
   "of the file.", "Fix the quoting of that record in the source export")
_r("field_count", "parse", "quarantine", "The record has more or fewer fields than the header.",
   "A truncated line or an unquoted delimiter inside a value")
_r("field_too_large", "parse", "quarantine", "A field is larger than 1 MiB.", "Remove the field from the export")
_r("binary_line", "parse", "quarantine", "A log line holds NUL bytes or other binary content.",
   "A damaged log: the rest of the file still loads")
_r("unknown_event", "parse", "warn", "A log event opkpi does not know (a vendor extension); counted and skipped.",
   "Nothing to do unless the event matters for your figures")
_r("invalid_json", "parse", "quarantine", "A JSONL line is not a JSON object.", "One JSON object per line")
_r("unreadable_parquet", "parse", "reject", "The Parquet file cannot be read.", "Re-export the file")
_r("type_mismatch", "parse", "quarantine", "A value cannot be read as the column's contract type "
   "(int, float, bool, timestamp, date).", "See docs/data-contract.md for the accepted forms")
_r("naive_timestamp", "parse", "quarantine", "A timestamp has no UTC offset and no source timezone is "
   "configured.", "Write offsets (2026-10-25T03:30:00+03:00) or set ingest.timezone")
_r("nonexistent_local_time", "parse", "quarantine", "A local time that does not exist in the source "
   "timezone (skipped by a DST change).", "Fix the clock of the source system")
_r("ambiguous_local_time", "parse", "warn", "A local time that occurs twice (DST fall-back); the earlier "
   "offset was taken.", "Write offsets to remove the ambiguity")
# --- table rules ------------------------------------------------------------------------------
_r("unknown_kind", "table", "reject", "No --kind given and the header matches no canonical kind.",
   "Pass --kind, or check the header against docs/data-contract.md")
_r("missing_required_column", "table", "reject", "A required column of the kind is absent from the header.",
   "Add the column; docs/data-contract.md lists the required ones")
_r("duplicate_column", "table", "reject", "A column name appears twice in the header.", "Rename one")
_r("extra_column", "table", "warn", "A column not in the contract; it is ignored (`--strict` rejects).",
   "Drop it, or map it with --mapping")
# --- row rules (great-expectations) -----------------------------------------------------------
_r("required_value", "row", "quarantine", "A required column is empty.")
_r("allowed_value", "row", "quarantine", "A value outside the column's allowed set.")
_r("negative_duration", "row", "quarantine", "A duration or count that must not be negative is negative.")
_r("end_before_start", "row", "quarantine", "An end (or later step) is before its start.")
_r("conflicting_key", "row", "quarantine", "One key with two different contents in one file: both rows "
   "are quarantined.", "Deduplicate the export")
# --- referential rules ------------------------------------------------------------------------
_r("unknown_agent", "referential", "flag", "The agent id maps to no operator; the row loads with "
   "operator_id null and counts only in team and queue totals.",
   "Add the operator or an operator_identities row, then run again to re-attribute")
_r("cdr_no_uniqueid", "parse", "warn", "A CDR file without uniqueid or linkedid columns: calls cannot be matched "
   "to queue_log, so only CDR-only figures load.", "Enable loguniqueid (and newcdrcolumns) in cdr.conf")
_r("cdr_rows_skipped", "parse", "warn", "CDR rows left out on purpose (queue legs carried by queue_log, Local "
   "channels, outbound/internal/unknown contexts), counted per reason.",
   "Configure asterisk.inbound_contexts when an inbound context is reported as unknown")
_r("zendesk_unknown_role", "referential", "warn", "A Zendesk author whose role is unknown (no users export, "
   "not a configured agent): counted as a customer.", "Load the users export first, or list agent ids in "
   "[zendesk] agent_ids")
_r("unparseable_phone", "referential", "flag", "A customer phone number that cannot be parsed: "
   "customer_key is null (the contact leaves FCR).")


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
