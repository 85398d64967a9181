"""Zendesk exports → canonical tickets, ticket_events, surveys_sent, csat_responses, operators and
operator_identities (`opkpi ingest --format zendesk FILE...`; docs/formats/zendesk.md).

One file may be a JSON document (an API response page: `tickets` [+ `metric_sets`, `users`],
`audits`, `ticket_events`, `satisfaction_ratings`, `survey_responses`, `users`, `ticket_metrics`,
or a single `ticket`/`audit`/...), a top-level array, or JSON Lines of those records. Every
record is recognised by its shape, so one file may mix them.

What the dialect keeps beside the canonical rows (warehouse tables it owns, created here with
`CREATE TABLE IF NOT EXISTS` and rebuilt by replaying the archive in order):
- `raw_zendesk_source_metrics`: Zendesk's own metric minutes per ticket (from `metric_sets` or
  `ticket_metrics`), upserted by ticket_id (the greater metric `updated_at` wins, else the later
  load), published by the mart `zendesk_source_metrics` for `opkpi report reconcile --source zendesk`;
- `zendesk_user_roles`: user id → role (end-user / agent / admin) and locale from a users export, plus
  ids seen as assignees, so that later audit files know who is an operator.

Source lines: `_line` is the physical line where a record's JSON object starts. When several
records of one output start on the same line (a minified API response, JSON Lines audits), every
`_line` of that output is `line × M + k` instead: k = 1.. the record's order on its line, M the
power of ten above the largest k (so line 1 of a minified file gives 11, 12, ... or 101, 102, ...).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from pipeline.core.errors import FileRejected
from pipeline.ingest.contract import KINDS
from pipeline.ingest.problems import Problem
from pipeline.ingest.readers import ParsedFile
from pipeline.ingest.rules import RULES

SOURCE_SYSTEM = "zendesk"
ID_PREFIX = "zd:"                 # auto-registered operators, customer ids and event ids
SYSTEM_USER_IDS = frozenset({"-1"})  # Zendesk's own user for automations and system updates
METRICS_TABLE = "raw_zendesk_source_metrics"
ROLES_TABLE = "zendesk_user_roles"
DEFAULT_TIMEZONE = "UTC"
EPOCH_DAY = "1970-01-01"
MERGE_TAG = "closed_by_merge"
UNKNOWN_ROLE_RULE = "zendesk_unknown_role"  # a warn rule the lead may register in ingest/rules.py

# via.channel (type or numeric via id) → contract channel. Unknown channels count as e-mail (a ticket).
CHANNELS: dict[str, str] = {
    **dict.fromkeys(("email", "mail", "web", "web_form", "web_service", "api", "mobile", "mobile_sdk",
                     "help_center", "closed_ticket", "forum", "topic", "dropbox", "batch", "sample_ticket",
                     "any_channel", "side_conversation", "import", "merge", "rule", "system"), "email"),
    **dict.fromkeys(("chat", "native_messaging", "messaging", "chat_transcript", "chat_offline_message",
                     "sunshine_conversations", "sunshine_conversations_api"), "chat"),
    **dict.fromkeys(("twitter", "twitter_dm", "twitter_favorite", "x", "facebook", "facebook_post",
                     "facebook_message", "whatsapp", "instagram_dm", "line", "wechat", "telegram", "viber",
                     "kakaotalk", "google_rcs", "apple_business_chat", "google_business_messages", "sms",
                     "text_message", "messagebird_sms"), "social"),
    **dict.fromkeys(("voice", "voicemail", "phone_call_inbound", "phone_call_outbound", "phone",
                     "phone_call"), "phone"),
    # Numeric via ids (Zendesk's "Via types reference")
    "0": "email", "4": "email", "5": "email", "27": "email", "29": "chat", "23": "social", "26": "social",
    "30": "social", "38": "social", "41": "social", "33": "phone", "34": "phone", "35": "phone",
}
OUTBOUND_CHANNELS = frozenset({"phone_call_outbound", "35"})
# Updates made by business rules, the system or a merge (Zendesk writes the merge comments) are no
# human reply, whoever the audit names as author.
SYSTEM_VIAS = frozenset({"rule", "automation", "trigger", "system", "merge", "8", "19"})
BOT_VIA_PREFIXES = ("answer_bot", "ai_agent", "autoreply")
STATUSES = frozenset({"new", "open", "pending", "hold", "solved", "closed", "deleted"})
REOPEN_FROM = frozenset({"solved", "closed"})
OPEN_STATES = frozenset({"new", "open", "pending", "hold"})
GOOD_BAD = frozenset({"good", "bad"})
TIERS = ("L1", "L2", "L3")

# Keys of an Incremental Ticket Event Export child event that are not a changed ticket field.
_CHILD_META = frozenset({
    "id", "via", "via_reference_id", "event_type", "type", "previous_value", "audit_id", "created_at",
    "comment_present", "comment_public", "author_id", "body", "html_body", "plain_body", "public",
    "attachments", "added_tags", "removed_tags", "metadata", "data", "formatted_from", "formatted_to",
    "transcription_visible", "trusted", "value", "field_name", "recipients", "subject", "uploads",
})

_POS = "\x00pos"       # the offset of a JSON object's `{` in the decoded text (set by the walker)
_WALK_DEPTH = 6         # nesting guard for the offset walker
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_ZRN_TICKET = re.compile(r":ticket:(\d+)$")
# Keys whose arrays hold records (or a record's events): their items get offsets.
_DESCEND = frozenset({"tickets", "ticket", "results", "metric_sets", "ticket_metrics", "ticket_metric", "audits",
                      "audit", "ticket_events", "satisfaction_ratings", "satisfaction_rating", "survey_responses",
                      "survey_response", "users", "user", "events", "child_events", "answers"})
# Of those, the ones whose records hold records themselves (audit → events): walked item by item.
_NESTED = frozenset({"audits", "audit", "ticket_events", "survey_responses", "survey_response"})


# --- settings -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """`[zendesk]` in opkpi.toml (read defensively: the section may not exist yet)."""

    operator_map: dict[str, str] = field(default_factory=dict)   # Zendesk user id → operator_id
    agent_ids: frozenset[str] = frozenset()                        # ids that are operators without a users export
    group_tiers: dict[str, str] = field(default_factory=dict)      # group id → L1/L2/L3
    auto_register_operators: bool = True
    timezone: str = DEFAULT_TIMEZONE                               # for agents without iana_time_zone
    customer_key: str = "id"                                       # "id" or "email"
    auto_reply_tags: frozenset[str] = frozenset()
    reason_field_id: str | None = None
    bots: frozenset[str] = frozenset()


def settings(config: Any) -> Settings:
    z = getattr(config, "zendesk", None)

    def get(name: str, default: Any) -> Any:
        if z is None:
            return default
        value = z.get(name, default) if isinstance(z, dict) else getattr(z, name, default)
        return default if value is None else value

    tiers = {str(k): str(v).upper() for k, v in dict(get("group_tiers", {})).items()}
    reason = get("reason_field_id", None)
    return Settings(
        operator_map={str(k): str(v) for k, v in dict(get("operator_map", {})).items()},
        agent_ids=frozenset(str(a) for a in get("agent_ids", [])),
        group_tiers={k: v for k, v in tiers.items() if v in TIERS},
        auto_register_operators=bool(get("auto_register_operators", True)),
        timezone=str(get("timezone", DEFAULT_TIMEZONE)),
        customer_key=str(get("customer_key", "id")),
        auto_reply_tags=frozenset(str(t).lower() for t in get("auto_reply_tags", [])),
        reason_field_id=None if reason in (None, "") else str(reason),
        bots=frozenset(str(b) for b in getattr(config, "bots", []) or []),
    )


# --- entry point --------------------------------------------------------------------------------

def read(data: bytes, ctx: Any) -> list[tuple[str, ParsedFile]]:
    label = ctx.label
    text = _decode(data, label)
    doc = _Document(text, label)
    records = doc.records()
    if not any(records.values()):
        raise FileRejected(
            f"Attempted to read {label} as a Zendesk export, but it holds no tickets, audits, ticket events, "
            "satisfaction ratings, survey responses, users or metric sets",
            "Pass the JSON of an Incremental Ticket Export (include=metric_sets), ticket audits, the Incremental "
            "Ticket Event Export (include=comment_events), satisfaction ratings or users; see docs/formats/zendesk.md",
            rule_id="unknown_kind", location=f"{label}:1:1")
    cfg = settings(ctx.config)
    ensure_tables(ctx.con)
    reader = _Reader(doc, cfg, ctx.con, records)
    outputs = reader.outputs()
    _store_state(ctx.con, reader, sha256=hashlib.sha256(data).hexdigest(), label=label)
    return outputs


def ensure_tables(con: Any) -> None:
    """The dialect's own warehouse tables; idempotent. Call from the warehouse schema so the
    `zendesk_source_metrics` mart builds even before any Zendesk file was loaded."""
    con.execute(f"""CREATE TABLE IF NOT EXISTS {METRICS_TABLE} (
        ticket_id VARCHAR, metric_set_id VARCHAR,
        reply_time_calendar_min BIGINT, reply_time_business_min BIGINT,
        first_resolution_calendar_min BIGINT, first_resolution_business_min BIGINT,
        full_resolution_calendar_min BIGINT, full_resolution_business_min BIGINT,
        agent_wait_calendar_min BIGINT, agent_wait_business_min BIGINT,
        requester_wait_calendar_min BIGINT, requester_wait_business_min BIGINT,
        on_hold_calendar_min BIGINT, on_hold_business_min BIGINT,
        reply_time_calendar_s BIGINT, replies BIGINT, reopens BIGINT,
        assignee_stations BIGINT, group_stations BIGINT,
        solved_at TIMESTAMPTZ, metric_created_at TIMESTAMPTZ, metric_updated_at TIMESTAMPTZ,
        _sha256 VARCHAR, _file VARCHAR, _line BIGINT, _loaded_at TIMESTAMPTZ)""")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {ROLES_TABLE} (
        user_id VARCHAR, role VARCHAR, locale VARCHAR, seen_as_assignee BOOLEAN,
        updated_at TIMESTAMPTZ, _file VARCHAR, _loaded_at TIMESTAMPTZ)""")


# --- decoding with positions --------------------------------------------------------------------

def _decode(data: bytes, label: str) -> str:
    if not data.strip():
        raise FileRejected(f"Attempted to read {label} as a Zendesk JSON export, but it is empty",
                           RULES["empty_file"].hint, rule_id="empty_file", location=f"{label}:1:1")
    if b"\x00" in data[:65536]:
        raise FileRejected(f"Attempted to read {label} as a Zendesk JSON export, but it holds NUL bytes",
                           RULES["binary_file"].hint, rule_id="binary_file", location=f"{label}:1:1")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRejected(f"Attempted to read {label} as UTF-8 at {label}:{line} (byte {exc.start}), but it is "
                           "not valid UTF-8", "Zendesk's API writes UTF-8: re-export the file unchanged",
                           rule_id="encoding", location=f"{label}:{line} (byte {exc.start})") from None


class _Document:
    """The file's JSON values with the offset of every object, so rows point at their source line."""

    def __init__(self, text: str, label: str) -> None:
        self.text = text
        self.label = label
        self.bad_lines: list[tuple[int, str]] = []   # (physical line, message) of unreadable JSON Lines
        self._mark = (0, 1)                           # (offset, its line): counting resumes from here

    def line_of(self, offset: int) -> int:
        """1-based line of an offset; offsets asked in increasing order cost one pass over the text."""
        at, line = self._mark
        if offset < at:
            at, line = 0, 1
        line += self.text.count("\n", at, offset)
        self._mark = (offset, line)
        return line

    def lines_of(self, offsets: list[int]) -> list[int]:
        found = {o: self.line_of(o) for o in sorted(set(offsets))}
        return [found[o] for o in offsets]

    def column_of(self, offset: int) -> int:
        return offset - self.text.rfind("\n", 0, offset)

    def values(self) -> list[Any]:
        """The file's top-level JSON values: one document, several documents one after the other, or
        JSON Lines. In JSON Lines an unreadable line is left out (`invalid_json`); in a document it
        rejects the file, since nothing after the fault can be trusted."""
        text, n = self.text, len(self.text)
        values: list[Any] = []
        pos = _WS.match(text, 0).end()
        first_error: ValueError | None = None
        try:
            while pos < n:
                value, end = _walk(text, pos, 0)
                values.append(value)
                pos = _WS.match(text, end).end()
            return values
        except ValueError as exc:
            first_error = exc
        values, bad = [], []
        for start, end in self._line_spans():
            try:
                value, stop = _walk(text, start, 0)
                if _WS.match(text, stop).end() < end and text[stop:end].strip():
                    raise json.JSONDecodeError("Extra data", text, stop)
                if stop > end:
                    raise json.JSONDecodeError("Unterminated value", text, end)
            except ValueError:
                bad.append((self.line_of(start), "the line is not one JSON value"))
                continue
            values.append(value)
        if not values:
            where = getattr(first_error, "pos", 0)
            line, col = self.line_of(where), self.column_of(where)
            raise FileRejected(
                f"Attempted to read {self.label} as Zendesk JSON at {self.label}:{line}:{col}, but it is not "
                f"valid JSON ({getattr(first_error, 'msg', 'malformed value')})",
                "Export the API response unchanged (one JSON document, or one JSON object per line)",
                rule_id="invalid_json", location=f"{self.label}:{line}:{col}")
        self.bad_lines = bad
        return values

    def _line_spans(self) -> Iterator[tuple[int, int]]:
        """(first non-blank offset, end offset) of every non-blank physical line."""
        text, start, n = self.text, 0, len(self.text)
        while start <= n:
            end = text.find("\n", start)
            end = n if end < 0 else end
            first = _WS.match(text, start, end).end()
            if first < end:
                yield first, end
            start = end + 1

    def records(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {k: [] for k in _RECORD_KINDS}
        for value in self.values():
            _collect(value, out)
        return out


def _walk(text: str, pos: int, depth: int, *, whole_items: bool = False) -> tuple[Any, int]:
    """Decode the JSON value at `pos`, noting each object's offset under `_POS`. Only objects that may
    become rows need an offset: the value's own objects, and the items of the arrays under record-
    holding keys (`tickets`, `audits`, `events`, `child_events`, `answers`, ...). Everything else is
    decoded whole by the C decoder; so are the items of arrays that hold no deeper records
    (`whole_items`: tickets, users, events, ...), which then get their offset added."""
    ch = text[pos] if pos < len(text) else ""
    if ch == "{":
        obj: dict[str, Any] = {_POS: pos}
        pos = _WS.match(text, pos + 1).end()
        if text[pos:pos + 1] == "}":
            return obj, pos + 1
        while True:
            key, pos = _DECODER.raw_decode(text, pos)
            if not isinstance(key, str):
                raise json.JSONDecodeError("Expecting property name", text, pos)
            pos = _WS.match(text, pos).end()
            if text[pos:pos + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
            pos = _WS.match(text, pos + 1).end()
            if key in _DESCEND and depth < _WALK_DEPTH:
                obj[key], pos = _walk(text, pos, depth + 1, whole_items=key not in _NESTED)
            else:
                obj[key], pos = _DECODER.raw_decode(text, pos)
            pos = _WS.match(text, pos).end()
            sep = text[pos:pos + 1]
            if sep == ",":
                pos = _WS.match(text, pos + 1).end()
            elif sep == "}":
                return obj, pos + 1
            else:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
    if ch == "[" and depth < _WALK_DEPTH:
        items: list[Any] = []
        pos = _WS.match(text, pos + 1).end()
        if text[pos:pos + 1] == "]":
            return items, pos + 1
        while True:
            if whole_items:
                start = pos
                item, pos = _DECODER.raw_decode(text, pos)
                if isinstance(item, dict):
                    item[_POS] = start
            else:
                item, pos = _walk(text, pos, depth + 1)
            items.append(item)
            pos = _WS.match(text, pos).end()
            sep = text[pos:pos + 1]
            if sep == ",":
                pos = _WS.match(text, pos + 1).end()
            elif sep == "]":
                return items, pos + 1
            else:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
    return _DECODER.raw_decode(text, pos)


# --- recognising records ------------------------------------------------------------------------

_RECORD_KINDS = ("ticket", "metric_set", "audit", "ticket_event", "rating", "survey_response", "user")
# Wrapper keys of API responses (plural: a page; singular: one record)
_WRAPPERS = {
    "tickets": "ticket", "ticket": "ticket", "results": None, "metric_sets": "metric_set",
    "ticket_metrics": "metric_set", "ticket_metric": "metric_set", "audits": "audit", "audit": "audit",
    "ticket_events": "ticket_event", "satisfaction_ratings": "rating", "satisfaction_rating": "rating",
    "survey_responses": "survey_response", "survey_response": "survey_response", "users": "user", "user": "user",
}


def _shape(obj: dict) -> str | None:
    """The record kind of one object, by the fields Zendesk documents for it."""
    if "reply_time_in_minutes" in obj or "first_resolution_time_in_minutes" in obj:
        return "metric_set"
    if "child_events" in obj or (obj.get("event_type") == "Audit" and "ticket_id" in obj):
        return "ticket_event"
    if isinstance(obj.get("events"), list) and "ticket_id" in obj:
        return "audit"
    if "score" in obj and "ticket_id" in obj:
        return "rating"
    if "answers" in obj and ("subject_zrns" in obj or "subjects" in obj):
        return "survey_response"
    if "role" in obj and "id" in obj and "ticket_id" not in obj:
        return "user"
    if "id" in obj and "ticket_id" not in obj and ("status" in obj or "requester_id" in obj) and "via" in obj:
        return "ticket"
    return None


def _collect(value: Any, out: dict[str, list[dict]]) -> None:
    """Sort records by kind: API pages (`{"tickets": [...], "metric_sets": [...]}`), single records,
    arrays of either."""
    if isinstance(value, list):
        for item in value:
            _collect(item, out)
        return
    if not isinstance(value, dict):
        return
    shape = _shape(value)
    if shape is not None:
        out[shape].append(value)
        return
    for key, inner in value.items():
        if key not in _WRAPPERS:
            continue
        kind = _WRAPPERS[key]
        for item in inner if isinstance(inner, list) else [inner]:
            if not isinstance(item, dict):
                continue
            # `ticket_events` also names Ticket Metric Events pages (metric/type/time): not ticket updates.
            found = _shape(item) if kind in (None, "ticket_event") else kind
            if found is not None:
                out[found].append(item)


# --- small value helpers ------------------------------------------------------------------------

def _id(value: Any) -> str | None:
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        return value.strip() or None
    if value is None or kind is bool:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _dt(value: Any) -> datetime | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.strptime(text, "%Y/%m/%d %H:%M:%S %z")  # older audit examples
        except ValueError:
            return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _ts(value: Any) -> str | None:
    """ISO-8601 UTC with offset; an unreadable value passes through so the cast quarantines it."""
    if value is None or value == "":
        return None
    parsed = _dt(value)
    return parsed.isoformat() if parsed is not None else str(value)


def _minutes(obj: Any, part: str) -> int | None:
    if not isinstance(obj, dict):
        return None
    value = obj.get(part)
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        return None


def _via_channel(via: Any) -> str:
    """A via's channel as a lower-case type name (`Web form` → `web_form`), or its numeric id."""
    if isinstance(via, dict):
        via = via.get("channel")
    if via is None:
        return ""
    return str(via).strip().lower().replace(" ", "_")


def _via_rel(via: Any) -> str:
    if isinstance(via, dict) and isinstance(via.get("source"), dict):
        return str(via["source"].get("rel") or "").lower()
    return ""


def _via_from(via: Any) -> dict:
    source = via.get("source") if isinstance(via, dict) else None
    origin = source.get("from") if isinstance(source, dict) else None
    return origin if isinstance(origin, dict) else {}


def _tags(obj: dict) -> set[str]:
    tags = obj.get("tags")
    return {str(t).lower() for t in tags} if isinstance(tags, list) else set()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- the reader ---------------------------------------------------------------------------------

@dataclass
class _Row:
    values: dict[str, str | None]
    pos: int


@dataclass
class _Ticket:
    """What events need to know about a ticket of this file."""

    requester_id: str | None = None
    status: str | None = None


class _Reader:
    def __init__(self, doc: _Document, cfg: Settings, con: Any, records: dict[str, list[dict]]) -> None:
        self.doc = doc
        self.cfg = cfg
        self.con = con
        self.records = records
        self.roles = _known_roles(con)                  # user id → (role, locale, seen_as_assignee)
        self.file_users: dict[str, dict] = {}
        for user in records["user"]:
            uid = _id(user.get("id"))
            if uid is not None:
                self.file_users[uid] = user
        self.tickets_meta: dict[str, _Ticket] = {}
        self.assignees: set[str] = set()
        self.metric_rows: list[dict[str, Any]] = []
        self.role_rows: list[dict[str, Any]] = []
        self.unknown_authors: set[str] = set()

    # -- outputs --

    def outputs(self) -> list[tuple[str, ParsedFile]]:
        r = self.records
        self._scan_assignees()
        built: list[tuple[str, list[_Row]]] = []
        if r["user"]:
            ops, idents = self._users()
            built += [("operators", ops), ("operator_identities", idents)]
        if r["ticket"]:
            built.append(("tickets", self._tickets()))
        if r["audit"] or r["ticket_event"]:
            built.append(("ticket_events", self._events()))
        if r["rating"] or r["survey_response"]:
            sent, responses = self._ratings()
            built += [("surveys_sent", sent), ("csat_responses", responses)]
        if r["metric_set"]:
            self._metric_sets()
        if not built:
            # A metric-only file still yields one (empty) output, so the loader archives it and a
            # rebuild replays it into raw_zendesk_source_metrics.
            built.append(("tickets", []))
        outputs = []
        for i, (kind, rows) in enumerate(built):
            outputs.append((kind, self._parsed(kind, rows, with_problems=i == 0)))
        return outputs

    def _parsed(self, kind: str, rows: list[_Row], *, with_problems: bool) -> ParsedFile:
        spec = KINDS[kind]
        header = [c for c in spec.names if any(row.values.get(c) is not None for row in rows) or c in spec.required]
        lines, scale = _record_lines(self.doc, [row.pos for row in rows])
        data: dict[str, list] = {c: [row.values.get(c) for row in rows] for c in header}
        data["_line"] = lines
        schema = {c: pl.Utf8 for c in header} | {"_line": pl.Int64}
        frame = pl.DataFrame(data, schema=schema)
        problems = []
        if with_problems:
            problems = [Problem(rule_id="invalid_json", file=self.doc.label, line=line * scale,
                                message=f"{message}; the record is left out (physical line {line})")
                        for line, message in self.doc.bad_lines]
        if kind == "ticket_events" and self.unknown_authors and UNKNOWN_ROLE_RULE in RULES:
            problems.append(Problem(
                rule_id=UNKNOWN_ROLE_RULE, file=self.doc.label,
                message=f"{len(self.unknown_authors)} comment or update author(s) are neither in a users export, "
                        "nor zendesk.agent_ids, nor the requester or an assignee of a ticket: counted as customers"))
        return ParsedFile(file=self.doc.label, fmt="dialect", header=header, frame=frame, problems=problems)

    # -- roles --

    def _scan_assignees(self) -> None:
        for t in self.records["ticket"]:
            a = _id(t.get("assignee_id"))
            if a:
                self.assignees.add(a)
            tid = _id(t.get("id"))
            if tid:
                self.tickets_meta[tid] = _Ticket(_id(t.get("requester_id")), _status(t))
        for rating in self.records["rating"]:
            a = _id(rating.get("assignee_id"))
            if a:
                self.assignees.add(a)
        for audit in self.records["audit"]:
            for ev in audit.get("events") or []:
                if isinstance(ev, dict) and ev.get("field_name") == "assignee_id":
                    a = _id(ev.get("value"))
                    if a:
                        self.assignees.add(a)
        for te in self.records["ticket_event"]:
            for child in te.get("child_events") or []:
                if isinstance(child, dict) and "assignee_id" in child:
                    a = _id(child.get("assignee_id"))
                    if a:
                        self.assignees.add(a)
        for a in sorted(self.assignees):
            known = self.roles.get(a)
            if known is None or not known[2]:
                self.role_rows.append({"user_id": a, "role": None, "locale": None, "seen_as_assignee": True,
                                       "updated_at": None})

    def author_type(self, author: str | None, via: Any, ticket_id: str | None) -> str:
        """operator, customer, bot or system, from the users export, configuration or the author's use."""
        channel = _via_channel(via)
        if author is not None and author in self.cfg.bots:
            return "bot"
        if channel.startswith(BOT_VIA_PREFIXES):
            return "bot"
        if author is None or author in SYSTEM_USER_IDS or channel in SYSTEM_VIAS:
            return "system"
        if author in self.cfg.agent_ids or author in self.cfg.operator_map:
            return "operator"
        role = self._role(author)
        if role is not None:
            return "customer" if role == "end-user" else "operator"
        meta = self.tickets_meta.get(ticket_id or "")
        if meta is not None and meta.requester_id == author:
            return "customer"
        known = self.roles.get(author)
        if author in self.assignees or (known is not None and known[2]):
            return "operator"
        self.unknown_authors.add(author)
        return "customer"

    def _role(self, user_id: str) -> str | None:
        user = self.file_users.get(user_id)
        if user is not None and user.get("role"):
            return str(user["role"]).lower()
        known = self.roles.get(user_id)
        return known[0] if known is not None else None

    def _locale(self, user_id: str | None) -> str | None:
        if user_id is None:
            return None
        user = self.file_users.get(user_id)
        locale = user.get("locale") if user is not None else None
        if locale is None and user_id in self.roles:
            locale = self.roles[user_id][1]
        if not locale:
            return None
        return str(locale).split("-")[0].split("_")[0].lower() or None

    # -- users --

    def _users(self) -> tuple[list[_Row], list[_Row]]:
        operators: list[_Row] = []
        identities: list[_Row] = []
        for user in _latest(self.records["user"], "id"):
            uid = _id(user.get("id"))
            if uid is None:
                continue
            role = str(user.get("role") or "").lower() or None
            locale = _text(user.get("locale"))
            known = self.roles.get(uid)
            if known is None or (known[0], known[1]) != (role, locale):
                self.role_rows.append({"user_id": uid, "role": role, "locale": locale,
                                       "seen_as_assignee": uid in self.assignees,
                                       "updated_at": _dt(user.get("updated_at"))})
            if role not in ("agent", "admin"):
                continue
            created = _dt(user.get("created_at"))
            valid_from = created.date().isoformat() if created else EPOCH_DAY
            mapped = self.cfg.operator_map.get(uid)
            operator_id = mapped or ID_PREFIX + uid
            identities.append(_Row({"source_system": SOURCE_SYSTEM, "source_id": uid, "operator_id": operator_id,
                                    "valid_from": valid_from}, user[_POS]))
            if mapped is None and self.cfg.auto_register_operators:
                tier = self.cfg.group_tiers.get(_id(user.get("default_group_id")) or "")
                operators.append(_Row({
                    "operator_id": operator_id,
                    "display_name": _text(user.get("name")) or f"Zendesk agent {uid}",
                    "tier": tier,
                    "timezone": _text(user.get("iana_time_zone")) or self.cfg.timezone,
                    "valid_from": valid_from,
                    "updated_at": _ts(user.get("updated_at")),
                }, user[_POS]))
        return operators, identities

    # -- tickets --

    def _tickets(self) -> list[_Row]:
        rows = []
        emails = {uid: u.get("email") for uid, u in self.file_users.items() if u.get("email")}
        for t in _latest(self.records["ticket"], "id"):
            tid = _id(t.get("id"))
            via = t.get("via")
            channel_name = _via_channel(via)
            tags = _tags(t)
            requester = _id(t.get("requester_id"))
            email = emails.get(requester or "") if self.cfg.customer_key == "email" else None
            follow_up = (_id(t.get("via_followup_source_id")) or _id(t.get("followup_source_id"))
                         or (_via_from(via).get("ticket_id") if _via_rel(via) == "follow_up" else None))
            follow_up = _id(follow_up)
            is_auto = None
            if self.cfg.auto_reply_tags:
                is_auto = "true" if tags & self.cfg.auto_reply_tags else "false"
            outbound = channel_name in OUTBOUND_CHANNELS or (
                channel_name in ("voice", "phone") and _via_rel(via) == "outbound")
            rows.append(_Row({
                "ticket_id": tid,
                "channel": CHANNELS.get(channel_name, "email"),
                "direction": "outbound" if outbound else "inbound",
                "created_at": _ts(t.get("created_at")),
                "updated_at": _ts(t.get("updated_at")),
                "status": _status(t),
                "customer_id": ID_PREFIX + requester if requester else None,
                "customer_email": _text(email),
                "reason_code": self._reason(t),
                "language": self._locale(requester),
                "queue_id": _id(t.get("group_id")),
                "assignee_id": _id(t.get("assignee_id")),
                "source_system": SOURCE_SYSTEM,
                "is_auto_reply": is_auto,
                "follow_up_of": follow_up,
            }, t[_POS]))
        return rows

    def _reason(self, ticket: dict) -> str | None:
        field_id = self.cfg.reason_field_id
        if field_id is None:
            return None
        for f in ticket.get("custom_fields") or ticket.get("fields") or []:
            if isinstance(f, dict) and _id(f.get("id")) == field_id:
                return _text(f.get("value")) or None
        return None

    # -- events --

    def _events(self) -> list[_Row]:
        rows: list[_Row] = []
        for audit in self.records["audit"]:
            rows += self._audit_rows(
                ticket_id=_id(audit.get("ticket_id")), audit_id=_id(audit.get("id")), pos=audit[_POS],
                at=_ts(audit.get("created_at")), author=_id(audit.get("author_id")), via=audit.get("via"),
                changes=[_audit_change(ev) for ev in audit.get("events") or [] if isinstance(ev, dict)])
        for te in self.records["ticket_event"]:
            rows += self._audit_rows(
                ticket_id=_id(te.get("ticket_id")), audit_id=_id(te.get("id")), pos=te[_POS],
                at=_ts(te.get("created_at") if te.get("created_at") is not None else te.get("timestamp")),
                author=_id(te.get("updater_id")), via=te.get("via"),
                changes=[c for child in te.get("child_events") or [] if isinstance(child, dict)
                         for c in _child_changes(child)])
        return rows

    def _audit_rows(self, *, ticket_id: str | None, audit_id: str | None, pos: int, at: str | None,
                    author: str | None, via: Any, changes: list[_Change | None]) -> list[_Row]:
        changes_ = [c for c in changes if c is not None]
        rows: list[_Row] = []
        base = {"ticket_id": ticket_id, "at": at, "source_system": SOURCE_SYSTEM}

        def who(c: _Change) -> tuple[str | None, str]:
            a = c.author or author
            return a, self.author_type(a, c.via if c.via is not None else via, ticket_id)

        is_creation = any(c.kind == "Create" for c in changes_)
        comments = [c for c in changes_ if c.kind == "Comment"]
        if is_creation:
            first = comments[0] if comments else None
            a, at_type = who(first) if first is not None else (author, self.author_type(author, via, ticket_id))
            # The creation comment's id is shared by audits and ticket events; an update's id may not be.
            create_id = ID_PREFIX + first.event_id if first is not None else f"{ID_PREFIX}{audit_id}:create"
            rows.append(_Row({**base, "event_id": create_id, "event_type": "create",
                              "author_id": a, "author_type": at_type,
                              "is_public": None if first is None else _text(first.public)}, pos))
            comments = comments[1:]
        for c in comments:
            a, at_type = who(c)
            rows.append(_Row({**base, "event_id": ID_PREFIX + c.event_id, "event_type": "reply" if c.public else "note",
                              "author_id": a, "author_type": at_type, "is_public": _text(bool(c.public))}, c.pos))
        fields = {c.field: c for c in changes_ if c.field is not None}
        assignment = self._assignment(fields)
        if assignment is not None:
            c, event_type, assignee, tier = assignment
            a, at_type = who(c)
            rows.append(_Row({**base, "event_id": ID_PREFIX + c.event_id, "event_type": event_type, "author_id": a,
                              "author_type": at_type, "assignee_id": assignee, "target_tier": tier}, c.pos))
        status = fields.get("status")
        if status is not None:
            event_type = _status_event(status)
            if event_type is not None:
                a, at_type = who(status)
                rows.append(_Row({**base, "event_id": ID_PREFIX + status.event_id, "event_type": event_type,
                                  "author_id": a, "author_type": at_type}, status.pos))
        return rows

    def _assignment(self, fields: dict[str, _Change]) -> tuple[_Change, str, str | None, str | None] | None:
        """assign / transfer / escalate / unassign from this update's assignee and group changes."""
        assignee, group = fields.get("assignee_id"), fields.get("group_id")
        tiers = self.cfg.group_tiers
        tier_up = None
        if group is not None and group.kind == "Change":
            new_tier, old_tier = tiers.get(_id(group.value) or ""), tiers.get(_id(group.previous) or "")
            if new_tier and old_tier and new_tier > old_tier:
                tier_up = new_tier
        if assignee is None:
            return None
        new, old = _id(assignee.value), _id(assignee.previous)
        if assignee.kind == "Create":
            return (assignee, "assign", new, None) if new else None
        if new == old:
            return None
        if tier_up is not None:
            return assignee, "escalate", new, tier_up
        if new is None:
            return (assignee, "transfer", None, None) if group is not None else (assignee, "unassign", None, None)
        return assignee, ("assign" if old is None else "transfer"), new, None

    # -- CSAT --

    def _ratings(self) -> tuple[list[_Row], list[_Row]]:
        sent: list[_Row] = []
        responses: list[_Row] = []
        for r in _latest(self.records["rating"], "id"):
            rid, tid = _id(r.get("id")), _id(r.get("ticket_id"))
            score = str(r.get("score") if r.get("score") is not None else "").strip().lower()
            if score in ("", "unoffered"):
                continue
            scale = "good_bad" if score in GOOD_BAD or score == "offered" else "1-5"
            survey_id = f"{ID_PREFIX}rating:{rid}"
            sent.append(_Row({"survey_id": survey_id, "contact_type": "ticket", "contact_id": tid,
                              "sent_at": _ts(r.get("created_at")), "assignee_id": _id(r.get("assignee_id")),
                              "scale": scale, "source_system": SOURCE_SYSTEM}, r[_POS]))
            if score == "offered":
                continue
            received = r.get("updated_at") if r.get("updated_at") is not None else r.get("created_at")
            responses.append(_Row({"response_id": survey_id, "survey_id": survey_id, "contact_type": "ticket",
                                   "contact_id": tid, "received_at": _ts(received), "scale": scale,
                                   "score": score, "language": self._locale(_id(r.get("requester_id")))}, r[_POS]))
        for sr in _latest(self.records["survey_response"], "id"):
            tid = _survey_ticket(sr)
            for answer in sr.get("answers") or []:
                if not isinstance(answer, dict) or answer.get("type") != "rating_scale":
                    continue
                rating = answer.get("rating")
                received = answer.get("updated_at") or answer.get("created_at") or sr.get("updated_at")
                responses.append(_Row({
                    "response_id": f"{ID_PREFIX}survey_response:{_id(sr.get('id'))}", "contact_type": "ticket",
                    "contact_id": tid, "received_at": _ts(received), "scale": "1-5", "score": _text(rating),
                    "language": self._locale(_id(sr.get("responder_id")))}, answer.get(_POS, sr[_POS])))
                break
        return sent, responses

    # -- Zendesk's own metrics --

    def _metric_sets(self) -> None:
        for m in _latest(self.records["metric_set"], "ticket_id", version="updated_at"):
            tid = _id(m.get("ticket_id"))
            if tid is None:
                continue
            self.metric_rows.append({
                "ticket_id": tid, "metric_set_id": _id(m.get("id")),
                "reply_time_calendar_min": _minutes(m.get("reply_time_in_minutes"), "calendar"),
                "reply_time_business_min": _minutes(m.get("reply_time_in_minutes"), "business"),
                "first_resolution_calendar_min": _minutes(m.get("first_resolution_time_in_minutes"), "calendar"),
                "first_resolution_business_min": _minutes(m.get("first_resolution_time_in_minutes"), "business"),
                "full_resolution_calendar_min": _minutes(m.get("full_resolution_time_in_minutes"), "calendar"),
                "full_resolution_business_min": _minutes(m.get("full_resolution_time_in_minutes"), "business"),
                "agent_wait_calendar_min": _minutes(m.get("agent_wait_time_in_minutes"), "calendar"),
                "agent_wait_business_min": _minutes(m.get("agent_wait_time_in_minutes"), "business"),
                "requester_wait_calendar_min": _minutes(m.get("requester_wait_time_in_minutes"), "calendar"),
                "requester_wait_business_min": _minutes(m.get("requester_wait_time_in_minutes"), "business"),
                "on_hold_calendar_min": _minutes(m.get("on_hold_time_in_minutes"), "calendar"),
                "on_hold_business_min": _minutes(m.get("on_hold_time_in_minutes"), "business"),
                "reply_time_calendar_s": _minutes(m.get("reply_time_in_seconds"), "calendar"),
                "replies": _int(m.get("replies")), "reopens": _int(m.get("reopens")),
                "assignee_stations": _int(m.get("assignee_stations")),
                "group_stations": _int(m.get("group_stations")),
                "solved_at": _dt(m.get("solved_at")), "metric_created_at": _dt(m.get("created_at")),
                "metric_updated_at": _dt(m.get("updated_at")),
                "_line": self.doc.line_of(m[_POS]),
            })


# --- audit and ticket-event changes ------------------------------------------------------------

@dataclass
class _Change:
    kind: str                   # Create, Change, Comment
    event_id: str
    pos: int
    field: str | None = None
    value: Any = None
    previous: Any = None
    public: bool | None = None
    author: str | None = None
    via: Any = None


def _audit_change(ev: dict) -> _Change | None:
    """One event of a Ticket Audit (`type` Create / Change / Comment / VoiceComment)."""
    kind = ev.get("type")
    eid = _id(ev.get("id"))
    if eid is None:
        return None
    if kind in ("Comment", "VoiceComment"):
        return _Change("Comment", eid, ev[_POS], public=bool(ev.get("public", True)),
                       author=_id(ev.get("author_id")), via=ev.get("via"))
    if kind in ("Create", "Change"):
        return _Change(kind, eid, ev[_POS], field=_text(ev.get("field_name")), value=ev.get("value"),
                       previous=ev.get("previous_value"), via=ev.get("via"))
    return None


def _child_changes(child: dict) -> list[_Change]:
    """One child event of the Incremental Ticket Event Export: a comment (with `comment_events`:
    author_id, public; without: comment_present, comment_public) or a field Create/Change whose
    field is the key beside `previous_value`."""
    kind = child.get("event_type") or child.get("type")
    eid = _id(child.get("id"))
    if eid is None:
        return []
    if kind in ("Comment", "VoiceComment"):
        if "comment_present" in child and not child.get("comment_present"):
            return []
        public = child.get("public", child.get("comment_public", True))
        return [_Change("Comment", eid, child[_POS], public=bool(public), author=_id(child.get("author_id")),
                        via=child.get("via"))]
    if kind not in ("Create", "Change"):
        return []
    if "field_name" in child:
        return [_Change(kind, eid, child[_POS], field=_text(child.get("field_name")), value=child.get("value"),
                        previous=child.get("previous_value"), via=child.get("via"))]
    fields = [k for k in child if k != _POS and k not in _CHILD_META]
    return [_Change(kind, eid, child[_POS], field=f, value=child.get(f), previous=child.get("previous_value"),
                    via=child.get("via")) for f in fields]


def _status(ticket: dict) -> str | None:
    status = str(ticket.get("status") or "").strip().lower()
    if status == "closed" and MERGE_TAG in _tags(ticket):
        return "merged"
    return status if status in STATUSES else None


def _status_event(c: _Change) -> str | None:
    new = str(c.value or "").lower()
    old = str(c.previous or "").lower()
    if new == "solved" and old != "solved":
        return "solve"
    if new == "closed":
        return "close" if old != "closed" else None
    if old in REOPEN_FROM and new in OPEN_STATES:
        return "reopen"
    return None


def _survey_ticket(sr: dict) -> str | None:
    for subject in sr.get("subjects") or []:
        if isinstance(subject, dict) and subject.get("type") == "ticket":
            return _id(subject.get("id"))
    for zrn in sr.get("subject_zrns") or []:
        m = _ZRN_TICKET.search(str(zrn))
        if m:
            return m.group(1)
    return None


def _int(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _latest(records: Iterable[dict], key: str, *, version: str = "updated_at") -> list[dict]:
    """One record per key: the greatest `version` (then `generated_timestamp`), the later in the file on
    ties. The incremental export repeats a ticket that changed while it was paged; only its latest state
    is a row (a conflicting repeat would otherwise quarantine both). Records without a key pass through."""
    best: dict[str, tuple[tuple, dict]] = {}
    loose: list[dict] = []
    for rec in records:
        k = _id(rec.get(key))
        if k is None:
            loose.append(rec)
            continue
        stamp = _dt(rec.get(version))
        rank = (stamp or datetime.min.replace(tzinfo=UTC), _int(rec.get("generated_timestamp")) or 0, rec[_POS])
        if k not in best or rank >= best[k][0]:
            best[k] = (rank, rec)
    kept = [rec for _, rec in best.values()] + loose
    return sorted(kept, key=lambda r: r[_POS])


def _record_lines(doc: _Document, offsets: list[int]) -> tuple[list[int], int]:
    """Each row's `_line` and the factor M applied (1 when every row starts on its own line)."""
    lines = doc.lines_of(offsets)
    if len(set(lines)) == len(lines):
        return lines, 1
    order: dict[int, list[int]] = {}
    for o, line in sorted(zip(offsets, lines, strict=True)):
        order.setdefault(line, []).append(o)
    biggest = max(len(v) for v in order.values())
    scale = 10 ** len(str(biggest))
    rank = {o: i for v in order.values() for i, o in enumerate(v, start=1)}
    return [line * scale + rank[o] for o, line in zip(offsets, lines, strict=True)], scale


# --- state tables ------------------------------------------------------------------------------

def _known_roles(con: Any) -> dict[str, tuple[str | None, str | None, bool]]:
    rows = con.execute(f"""SELECT user_id, arg_max(role, coalesce(updated_at, TIMESTAMPTZ '1970-01-01'))
            FILTER (WHERE role IS NOT NULL),
        arg_max(locale, coalesce(updated_at, TIMESTAMPTZ '1970-01-01')) FILTER (WHERE locale IS NOT NULL),
        bool_or(coalesce(seen_as_assignee, false))
        FROM {ROLES_TABLE} GROUP BY user_id""").fetchall()
    return {r[0]: (r[1], r[2], bool(r[3])) for r in rows}


def _store_state(con: Any, reader: _Reader, *, sha256: str, label: str) -> None:
    """Upsert the metric minutes (greater metric updated_at wins, else this later load) and append the
    roles learnt, in one transaction, after the whole file parsed."""
    if not reader.metric_rows and not reader.role_rows:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        if reader.role_rows:
            con.executemany(
                f"INSERT INTO {ROLES_TABLE} VALUES (?, ?, ?, ?, ?, ?, now())",
                [[r["user_id"], r["role"], r["locale"], r["seen_as_assignee"], r["updated_at"], label]
                 for r in reader.role_rows])
        if reader.metric_rows:
            cols = [c for c in reader.metric_rows[0] if c != "_line"]
            frame = pl.DataFrame(reader.metric_rows, infer_schema_length=None)
            con.register("zd_metrics_in", frame.to_arrow())
            try:
                con.execute(f"""DELETE FROM {METRICS_TABLE} AS t USING zd_metrics_in AS i
                    WHERE t.ticket_id = i.ticket_id AND (t.metric_updated_at IS NULL OR i.metric_updated_at IS NULL
                        OR CAST(i.metric_updated_at AS TIMESTAMPTZ) >= t.metric_updated_at)""")
                select = ", ".join(f'i."{c}"' for c in cols)
                con.execute(f"""INSERT INTO {METRICS_TABLE} ({', '.join(cols)}, _sha256, _file, _line, _loaded_at)
                    SELECT {select}, ?, ?, i._line, now() FROM zd_metrics_in AS i
                    WHERE NOT EXISTS (SELECT 1 FROM {METRICS_TABLE} AS t WHERE t.ticket_id = i.ticket_id)""",
                            [sha256, label])
            finally:
                con.unregister("zd_metrics_in")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
