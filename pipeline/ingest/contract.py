"""The canonical input contract (DESIGN §5): one spec per kind, the single source of
`docs/data-contract.md`, the readers' casts, the great-expectations suites and the loader's keys.

Types: str, int, float, bool, timestamp (stored as UTC), date. Values of `allowed` are exact,
lower-case strings. A column named `customer_phone` or `customer_email` is personal data: it is
replaced by `customer_key` before anything reaches DuckDB (DESIGN §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DType = Literal["str", "int", "float", "bool", "timestamp", "date"]
LoadMode = Literal["append", "upsert", "replace_window", "tail"]

PII_COLUMNS = ("customer_phone", "customer_email")
CHANNELS = ("phone", "chat", "email", "social")
DIRECTIONS = ("inbound", "outbound", "internal")
TIERS = ("L1", "L2", "L3")
END_REASONS = ("resolved", "transfer", "escalation", "unassigned", "customer_hangup", "open")


@dataclass(frozen=True)
class Column:
    name: str
    dtype: DType
    required: bool = False
    description: str = ""
    # For an optional column: which KPI turns null (or unavailable) without it.
    nulls: str = ""
    allowed: tuple[str, ...] = ()
    non_negative: bool = False


@dataclass(frozen=True)
class Check:
    """A row rule beyond types: becomes a great-expectations expectation with meta.rule_id."""

    rule_id: str
    kind: Literal["a_not_before_b", "one_of_not_null"]
    columns: tuple[str, ...]


@dataclass(frozen=True)
class KindSpec:
    name: str
    description: str
    grain: str
    key: tuple[str, ...]
    load_mode: LoadMode
    columns: tuple[Column, ...]
    checks: tuple[Check, ...] = ()
    # Columns holding an agent/operator reference checked against operators and identities.
    agent_columns: tuple[str, ...] = ()
    # Column whose greater value wins an upsert; without it the later load wins.
    version_column: str | None = None
    # Load order when a directory holds several kinds: dimensions before facts.
    order: int = 50
    field_notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def table(self) -> str:
        return f"raw_{self.name}"


def _c(name: str, dtype: DType, required: bool = False, description: str = "", nulls: str = "",
       allowed: tuple[str, ...] = (), non_negative: bool = False) -> Column:
    return Column(name, dtype, required, description, nulls, allowed, non_negative)


_CUSTOMER = (
    _c("customer_phone", "str", description="Customer phone number; pseudonymised to customer_key at ingest",
       nulls="FCR (no customer key: the contact is left out of fcr_den)"),
    _c("customer_email", "str", description="Customer e-mail; pseudonymised to customer_key at ingest",
       nulls="FCR (no customer key: the contact is left out of fcr_den)"),
    _c("customer_id", "str", description="Opaque customer id of the source system (not personal data); "
       "used for the key when no phone or e-mail is given", nulls="FCR when phone and e-mail are absent too"),
)
_CONTACT_ATTRS = (
    _c("reason_code", "str", description="Contact reason", nulls="FCR repeat matching falls back to "
       "fcr.reason_fallback (queue or any)"),
    _c("language", "str", description="Contact language (ISO 639-1: ru, uk, en)",
       nulls="CSAT and piece rates by language"),
)

KINDS: dict[str, KindSpec] = {}


def _register(spec: KindSpec) -> None:
    KINDS[spec.name] = spec


_register(KindSpec(
    name="teams", description="Teams (groups) with their timezone, holiday calendar and business hours",
    grain="one row per team", key=("team_id",), load_mode="upsert", version_column="updated_at", order=1,
    columns=(
        _c("team_id", "str", True, "Team id"),
        _c("name", "str", True, "Display name"),
        _c("timezone", "str", True, "IANA timezone of team and its marts (e.g. Europe/Kyiv)"),
        _c("holiday_country", "str", description="ISO country of the holiday calendar (RU, UA)",
           nulls="business-hours resolution times"),
        _c("business_hours", "str", description="Weekly schedule, e.g. `mon-fri 09:00-18:00; sat 10:00-14:00`",
           nulls="business-hours resolution times"),
        _c("updated_at", "timestamp", description="Source modification time; the greater wins an upsert"),
    ),
))

_register(KindSpec(
    name="queues", description="Queues with their channel, team and service-level threshold",
    grain="one row per queue", key=("queue_id",), load_mode="upsert", version_column="updated_at", order=2,
    columns=(
        _c("queue_id", "str", True, "Queue id (the Asterisk queue name for telephony)"),
        _c("team_id", "str", True, "Owning team"),
        _c("timezone", "str", True, "IANA timezone of the queue marts"),
        _c("channel", "str", True, "Channel served", allowed=CHANNELS),
        _c("sl_threshold_s", "int", description="Service-level threshold T in seconds (default 20)",
           non_negative=True),
        _c("updated_at", "timestamp", description="Source modification time"),
    ),
))

_register(KindSpec(
    name="operators", description="Operators, versioned: a figure uses the version in force at the segment's start",
    grain="one row per operator version", key=("operator_id", "valid_from"), load_mode="upsert",
    version_column="updated_at", order=3,
    columns=(
        _c("operator_id", "str", True, "Stable person id"),
        _c("display_name", "str", True, "Name as shown on scorecards"),
        _c("team_id", "str", description="Team in this version (empty for an auto-registered agent of an "
           "unknown queue)", nulls="team breakdowns"),
        _c("tier", "str", description="Support line (empty for an auto-registered Asterisk agent)", allowed=TIERS,
           nulls="escalation vs transfer split, tier breakdowns"),
        _c("timezone", "str", True, "IANA timezone: a segment counts on its local start date"),
        _c("valid_from", "date", True, "First day of this version (inclusive)"),
        _c("valid_to", "date", description="Last day of this version (exclusive); empty = open-ended"),
        _c("languages", "str", description="Comma-separated languages spoken"),
        _c("employment_type", "str", description="full_time, part_time or contractor",
           allowed=("full_time", "part_time", "contractor"), nulls="pay base proration"),
        _c("fte", "float", description="Full-time equivalent 0..1", non_negative=True),
        _c("hire_date", "date", description="Hire date", nulls="new-hire filters"),
        _c("probation_end", "date", description="End of probation"),
        _c("termination_date", "date", description="Last working day of a leaver"),
        _c("pay_plan_id", "str", description="Pay plan applied", nulls="pay statement"),
        _c("updated_at", "timestamp", description="Source modification time"),
    ),
    checks=(Check("end_before_start", "a_not_before_b", ("valid_to", "valid_from")),),
))

_register(KindSpec(
    name="operator_identities", description="Maps a source system's agent id (PJSIP/7009, a Zendesk user id, "
    "a chat login) to an operator, with validity because extensions get reused",
    grain="one row per (source system, source id, validity start)", key=("source_system", "source_id", "valid_from"),
    load_mode="upsert", order=4,
    columns=(
        _c("source_system", "str", True, "System of the id: canonical, asterisk, zendesk, chat, ..."),
        _c("source_id", "str", True, "Agent id as the source writes it"),
        _c("operator_id", "str", True, "Operator it maps to"),
        _c("valid_from", "date", True, "First day of the mapping"),
        _c("valid_to", "date", description="Day the mapping ends (exclusive)"),
    ),
    checks=(Check("end_before_start", "a_not_before_b", ("valid_to", "valid_from")),),
))

_register(KindSpec(
    name="shifts", description="Planned shifts (never the denominator of occupancy; used by pay)",
    grain="one row per planned shift", key=("shift_id",), load_mode="upsert", order=10,
    columns=(
        _c("shift_id", "str", True, "Shift id"),
        _c("operator_id", "str", True, "Operator"),
        _c("start_at", "timestamp", True, "Planned start"),
        _c("end_at", "timestamp", True, "Planned end"),
        _c("shift_type", "str", description="day or night", allowed=("day", "night")),
        _c("unpaid_break_min", "int", description="Unpaid break minutes", non_negative=True,
           nulls="paid hours assume no break"),
    ),
    checks=(Check("end_before_start", "a_not_before_b", ("end_at", "start_at")),),
    agent_columns=("operator_id",),
))

_register(KindSpec(
    name="agent_states", description="Agent state intervals: logged in, paused (with reason), wrap-up",
    grain="one row per state interval", key=("operator_id", "state", "started_at"), load_mode="append", order=11,
    columns=(
        _c("operator_id", "str", True, "Operator (or an agent id resolved through identities)"),
        _c("state", "str", True, "logged_in, paused or wrap", allowed=("logged_in", "paused", "wrap")),
        _c("started_at", "timestamp", True, "Start of the interval"),
        _c("ended_at", "timestamp", description="End; empty while still open", nulls="occupancy for that day"),
        _c("reason", "str", description="Pause reason; reasons in asterisk.wrap_pause_reasons count as wrap"),
        _c("queue_id", "str", description="Queue of a membership interval"),
    ),
    checks=(Check("end_before_start", "a_not_before_b", ("ended_at", "started_at")),),
    agent_columns=("operator_id",),
))

_register(KindSpec(
    name="calls", description="Phone calls: one row per queue stint or operator leg of a call",
    grain="one row per (call, leg)", key=("call_id", "leg"), load_mode="append", order=20,
    columns=(
        _c("call_id", "str", True, "Call id (all legs and stints of one customer call share it)"),
        _c("leg", "int", True, "1-based order of the stint or leg within the call", non_negative=True),
        _c("direction", "str", True, "Direction of the call", allowed=DIRECTIONS),
        _c("queue_id", "str", description="Queue of the stint; empty for a direct call",
           nulls="queue service level, ASA and abandonment"),
        _c("agent_id", "str", description="Operator (or agent id) who took the leg; empty when unanswered"),
        _c("source_system", "str", description="System of agent_id for identity lookup (default canonical: "
           "agent_id is the operator_id)"),
        *_CUSTOMER,
        *_CONTACT_ATTRS,
        _c("enqueued_at", "timestamp", description="Entered the queue", nulls="wait, SL, ASA"),
        _c("answered_at", "timestamp", description="Connected to the operator; empty when not answered"),
        _c("ended_at", "timestamp", True, "Leg or stint ended"),
        _c("outcome", "str", True, "How the stint ended",
           allowed=("answered", "abandoned", "timeout", "key_exit", "empty", "in_progress")),
        _c("end_reason", "str", description="For an answered leg: resolved, transfer, escalation, "
           "customer_hangup, open", allowed=END_REASONS, nulls="FCR, transfer and escalation rates"),
        _c("transfer_to", "str", description="Agent or queue a transfer/escalation went to"),
        _c("talk_s", "float", description="Talk seconds (Asterisk: includes hold)", non_negative=True,
           nulls="aht_phone_s components"),
        _c("hold_s", "float", description="Hold seconds", non_negative=True, nulls="hold_s and AHT talk+hold+wrap"),
        _c("wrap_s", "float", description="After-call work seconds", non_negative=True,
           nulls="wrap_s and AHT talk+hold+wrap"),
    ),
    checks=(
        Check("end_before_start", "a_not_before_b", ("ended_at", "enqueued_at")),
        Check("end_before_start", "a_not_before_b", ("ended_at", "answered_at")),
        Check("end_before_start", "a_not_before_b", ("answered_at", "enqueued_at")),
    ),
    agent_columns=("agent_id",),
))

_register(KindSpec(
    name="chats", description="Chat and messenger conversations: one row per operator leg",
    grain="one row per (chat, leg)", key=("chat_id", "leg"), load_mode="append", order=21,
    columns=(
        _c("chat_id", "str", True, "Conversation id"),
        _c("leg", "int", True, "1-based order of the leg", non_negative=True),
        _c("channel", "str", True, "chat or social", allowed=("chat", "social")),
        _c("direction", "str", description="Default inbound", allowed=DIRECTIONS),
        _c("queue_id", "str", description="Queue", nulls="chat SL, ASA and abandonment"),
        _c("agent_id", "str", description="Operator who accepted; empty when abandoned"),
        _c("source_system", "str", description="System of agent_id (default canonical)"),
        *_CUSTOMER,
        *_CONTACT_ATTRS,
        _c("queued_at", "timestamp", True, "Entered the queue"),
        _c("accepted_at", "timestamp", description="Accepted by the operator"),
        _c("first_reply_at", "timestamp", description="First public reply of the operator",
           nulls="operator_first_reply_s for chats"),
        _c("ended_at", "timestamp", True, "Leg ended"),
        _c("outcome", "str", True, "answered or abandoned", allowed=("answered", "abandoned", "in_progress")),
        _c("end_reason", "str", description="resolved, transfer, escalation, unassigned, open",
           allowed=END_REASONS, nulls="FCR, transfer and escalation rates"),
        _c("transfer_to", "str", description="Agent or queue of a transfer"),
        _c("is_bot_handoff", "bool", description="The conversation started with a bot"),
        _c("wrap_s", "float", description="Wrap-up seconds after the chat", non_negative=True,
           nulls="wrap part of aht_chat_s"),
    ),
    checks=(
        Check("end_before_start", "a_not_before_b", ("ended_at", "queued_at")),
        Check("end_before_start", "a_not_before_b", ("accepted_at", "queued_at")),
        Check("end_before_start", "a_not_before_b", ("ended_at", "accepted_at")),
    ),
    agent_columns=("agent_id",),
))

_register(KindSpec(
    name="tickets", description="Tickets (e-mail, social, web forms): the latest state of each",
    grain="one row per ticket", key=("ticket_id",), load_mode="upsert", version_column="updated_at", order=22,
    columns=(
        _c("ticket_id", "str", True, "Ticket id"),
        _c("channel", "str", True, "Channel the ticket was created in", allowed=CHANNELS),
        _c("direction", "str", True, "inbound (customer wrote) or outbound", allowed=DIRECTIONS),
        _c("created_at", "timestamp", True, "Creation"),
        _c("updated_at", "timestamp", True, "Last modification; the greater wins an upsert"),
        _c("status", "str", description="new, open, pending, solved, closed",
           allowed=("new", "open", "pending", "hold", "solved", "closed", "deleted", "merged")),
        *_CUSTOMER,
        *_CONTACT_ATTRS,
        _c("queue_id", "str", description="Group or queue", nulls="queue breakdowns"),
        _c("assignee_id", "str", description="Current assignee"),
        _c("source_system", "str", description="System of assignee_id and event authors (default canonical)"),
        _c("is_auto_reply", "bool", description="Created by an auto-responder (never a repeat)"),
        _c("follow_up_of", "str", description="Ticket this one follows up (a repeat of it)"),
        _c("tracked_time_s", "float", description="Tracked work seconds", non_negative=True, nulls="aht_email_s"),
    ),
    checks=(Check("end_before_start", "a_not_before_b", ("updated_at", "created_at")),),
    agent_columns=("assignee_id",),
))

_register(KindSpec(
    name="ticket_events", description="Ticket events: assign, reply, note, escalate, transfer, solve, reopen",
    grain="one row per ticket event", key=("event_id",), load_mode="append", order=23,
    columns=(
        _c("event_id", "str", True, "Event id"),
        _c("ticket_id", "str", True, "Ticket"),
        _c("at", "timestamp", True, "When"),
        _c("event_type", "str", True, "What happened", allowed=(
            "create", "assign", "unassign", "reply", "note", "escalate", "transfer", "solve", "reopen", "close")),
        _c("author_id", "str", description="Who did it"),
        _c("author_type", "str", True, "operator, customer, bot, api or system",
           allowed=("operator", "customer", "bot", "api", "system")),
        _c("is_public", "bool", description="Public reply (true) or private note",
           nulls="first response times (every reply counts as public)"),
        _c("assignee_id", "str", description="New assignee for assign, transfer and escalate"),
        _c("target_tier", "str", description="Tier escalated to", allowed=TIERS,
           nulls="escalation_rate_l2/_l3 split"),
        _c("source_system", "str", description="System of the ids (default canonical)"),
    ),
    agent_columns=("author_id", "assignee_id"),
))

_register(KindSpec(
    name="surveys_sent", description="CSAT surveys sent, with the assignee snapshotted at sending",
    grain="one row per survey", key=("survey_id",), load_mode="append", order=30,
    columns=(
        _c("survey_id", "str", True, "Survey id"),
        _c("contact_type", "str", True, "call, chat or ticket", allowed=("call", "chat", "ticket")),
        _c("contact_id", "str", True, "call_id, chat_id or ticket_id"),
        _c("sent_at", "timestamp", True, "Sent"),
        _c("assignee_id", "str", description="Assignee at sending (first attribution rule)",
           nulls="CSAT attribution falls back to the last solver"),
        _c("scale", "str", description="1-5, good_bad or 0-10", allowed=("1-5", "good_bad", "0-10")),
        _c("source_system", "str", description="System of assignee_id (default canonical)"),
    ),
    agent_columns=("assignee_id",),
))

_register(KindSpec(
    name="csat_responses", description="CSAT responses (unanswered and offered are not responses)",
    grain="one row per response", key=("response_id",), load_mode="append", order=31,
    columns=(
        _c("response_id", "str", True, "Response id"),
        _c("survey_id", "str", description="Survey answered", nulls="csat_response_rate"),
        _c("contact_type", "str", True, "call, chat or ticket", allowed=("call", "chat", "ticket")),
        _c("contact_id", "str", True, "call_id, chat_id or ticket_id"),
        _c("received_at", "timestamp", True, "Received"),
        _c("scale", "str", True, "1-5, good_bad or 0-10", allowed=("1-5", "good_bad", "0-10")),
        _c("score", "str", True, "1..5, good/bad or 0..10 according to scale"),
        _c("language", "str", description="Survey language", nulls="CSAT by language"),
    ),
))

_register(KindSpec(
    name="qa_evaluations", description="QA evaluations made outside opkpi (opkpi's own forms live in the state store)",
    grain="one row per evaluation version", key=("evaluation_id", "version"), load_mode="upsert", order=40,
    columns=(
        _c("evaluation_id", "str", True, "Evaluation id"),
        _c("version", "int", True, "Version; the latest counts", non_negative=True),
        _c("contact_type", "str", True, "call, chat or ticket", allowed=("call", "chat", "ticket")),
        _c("contact_id", "str", True, "Evaluated contact"),
        _c("operator_id", "str", True, "Evaluated operator"),
        _c("evaluator_id", "str", True, "QA specialist"),
        _c("form_id", "str", description="Form"),
        _c("evaluated_at", "timestamp", True, "When evaluated"),
        _c("score", "float", True, "0..110", non_negative=True),
        _c("is_auto_fail", "bool", description="A critical item failed (score counts as 0)"),
        _c("is_calibration", "bool", description="Calibration session (left out of qa_score)"),
    ),
    agent_columns=("operator_id",),
))


def kinds_in_load_order() -> list[KindSpec]:
    return sorted(KINDS.values(), key=lambda k: k.order)


def infer_kind(header: list[str]) -> KindSpec | None:
    """The kind whose required columns are all present, preferring the most specific match."""
    present = set(header)
    best: tuple[int, KindSpec] | None = None
    for spec in KINDS.values():
        if set(spec.required) <= present:
            score = len(set(spec.names) & present) * 100 + len(spec.required)
            if best is None or score > best[0]:
                best = (score, spec)
    return best[1] if best else None
