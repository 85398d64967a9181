"""One queue_log line → an `Event`, or a located `Problem` when the line cannot be read.

A line is `epoch|callid|queue|agent|event|data...`. The data fields of each event differ between
Asterisk versions (1.2 to 20+): later versions append fields (ENTERQUEUE gained `position`, CONNECT
`ringtime`, TRANSFER `holdtime|calltime|origposition`, EXITWITHTIMEOUT `origposition|waittime`),
and ATTENDEDTRANSFER's method data holds one or two fields. So fields are read by position up to
what the line has; a field a version does not write is None, and only the fields opkpi needs to
place the event are required. A queue_log stored as `data1..data5` columns (realtime) and one
written with a single `data` field look the same once joined with `|`.

Field references: docs/formats/asterisk-queue-log.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.core.masking import mask_text
from pipeline.ingest.problems import Problem
from pipeline.ingest.rules import RULES

# Columns of a line before the event's data, 1-based field indexes in locations.
FIELD_EPOCH, FIELD_CALLID, FIELD_QUEUE, FIELD_AGENT, FIELD_EVENT = 1, 2, 3, 4, 5
BASE_FIELDS = 5
_RAW_CHARS = 500
_EPOCH = re.compile(r"^\d{1,12}(?:\.\d+)?$")
_INT = re.compile(r"^[+-]?\d{1,12}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_OTHER_SEPARATORS = (",", ";", "\t")

# Rule ids opkpi would like for this dialect; until the registry holds them the fallback is used
# (a line with binary bytes), or the report is skipped (an unknown event only warns).
BINARY_LINE_RULE = "binary_line"
UNKNOWN_EVENT_RULE = "unknown_event"


def rule_or(preferred: str, fallback: str | None) -> str | None:
    return preferred if preferred in RULES else fallback


@dataclass(frozen=True)
class Spec:
    """The data fields of an event, in order; `required` of them must be present; `durations` are
    whole seconds (ms for ringtime) that must not be negative; `ints` other whole numbers."""

    fields: tuple[str, ...]
    required: int = 0
    durations: frozenset[str] = frozenset()
    ints: frozenset[str] = frozenset()


def _spec(fields: str, required: int = 0, durations: str = "", ints: str = "") -> Spec:
    return Spec(tuple(fields.split()), required, frozenset(durations.split()), frozenset(ints.split()))


_EXIT = _spec("position origposition waittime", 0, "waittime", "position origposition")
_COMPLETE = _spec("holdtime calltime origposition", 2, "holdtime calltime", "origposition")
_TRANSFER = _spec("extension context holdtime calltime origposition", 2, "holdtime calltime", "origposition")

SPECS: dict[str, Spec] = {
    # caller side
    "ENTERQUEUE": _spec("url callerid position", 0, "", "position"),
    "CONNECT": _spec("holdtime bridged_uniqueid ringtime", 1, "holdtime ringtime"),
    "COMPLETEAGENT": _COMPLETE,
    "COMPLETECALLER": _COMPLETE,
    "TRANSFER": _TRANSFER,
    "BLINDTRANSFER": _TRANSFER,
    # ATTENDEDTRANSFER is read from both ends (see `_attended`): method|data...|holdtime|calltime|origposition
    "ATTENDEDTRANSFER": _spec("method target holdtime calltime origposition", 5, "holdtime calltime", "origposition"),
    "ABANDON": _EXIT,
    "EXITWITHTIMEOUT": _EXIT,
    "EXITEMPTY": _EXIT,
    "EXITWITHKEY": _spec("key position origposition waittime", 0, "waittime", "position origposition"),
    "SYSCOMPAT": _spec(""),
    "RINGNOANSWER": _spec("ringtime", 0, "ringtime"),
    "RINGCANCELED": _spec("ringtime", 0, "ringtime"),
    "AGENTDUMP": _spec(""),
    # agent side
    "AGENTLOGIN": _spec("channel"),
    "AGENTLOGOFF": _spec("channel logintime", 0, "logintime"),
    "AGENTCALLBACKLOGIN": _spec("location"),
    "AGENTCALLBACKLOGOFF": _spec("location logintime reason", 0, "logintime"),
    "ADDMEMBER": _spec("flag"),
    "REMOVEMEMBER": _spec(""),
    "PAUSE": _spec("reason"),
    "UNPAUSE": _spec("reason"),
    "PAUSEALL": _spec("reason"),
    "UNPAUSEALL": _spec("reason"),
    "PENALTY": _spec("penalty"),
    # system, and dialplan QueueLog() lines written by FreePBX
    "QUEUESTART": _spec(""),
    "CONFIGRELOAD": _spec(""),
    "JOINEMPTY": _spec(""),
    "JOINUNAVAIL": _spec(""),
    "FULL": _spec(""),
    "DID": _spec("did"),
    "INFO": _spec(""),
}
KNOWN_EVENTS = frozenset(SPECS)


@dataclass(slots=True)
class Event:
    line: int             # record line: physical line of the file read, negative for a rotated file's line
    epoch: int            # UTC seconds
    callid: str
    queue: str
    agent: str            # as written (normalised later)
    name: str             # upper-case event name
    values: dict[str, str | int | None]

    def int_value(self, name: str) -> int | None:
        v = self.values.get(name)
        return v if isinstance(v, int) else None

    def text(self, name: str) -> str | None:
        v = self.values.get(name)
        return None if v is None or v == "" else str(v)


@dataclass(slots=True)
class Unknown:
    """A line with a well-formed frame but an event name opkpi does not know (vendor extension)."""

    line: int
    name: str


def display(text: str) -> str:
    """A line as quarantine shows it: control characters replaced, personal data masked, cut."""
    return mask_text(_CONTROL.sub("?", text[: _RAW_CHARS * 4]))[:_RAW_CHARS]


class LineReader:
    """Parses lines of one file; `label` names it in locations, `fallback_encoding` is
    `ingest.encoding` (a queue name written in cp1251 by an old system). `parse` takes the line
    number within the bytes read; events and problems carry the record line (see `record_line`)."""

    def __init__(self, label: str, *, fallback_encoding: str | None = None, negative_lines: bool = False,
                 line_shift: int = 0) -> None:
        self.label = label
        self.fallback_encoding = fallback_encoding
        self.negative = negative_lines   # a rotated file's lines, read within another file's load
        self.shift = line_shift          # the bytes start at line shift + 1 of the file named `label`

    def record_line(self, n: int) -> int:
        return -(n + self.shift) if self.negative else n

    def problem(self, rule_id: str, n: int, column: int | None, message: str, raw: str,
                column_name: str | None = None) -> Problem:
        where = None
        if self.negative or self.shift:  # the location names the file and line the text really is at
            where = f"{self.label}:{n + self.shift}" + (f":{column}" if column is not None else "")
        return Problem(rule_id=rule_id, file=self.label, line=self.record_line(n), column=column,
                       column_name=column_name, message=message, raw=raw, where=where)

    def parse(self, raw: bytes, physical: int) -> Event | Unknown | Problem | None:
        """`raw` without its line end. Blank lines are skipped (None)."""
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw.strip():
            return None
        text, bad_byte = self._decode(raw)
        if text is None:
            rule_id = rule_or(BINARY_LINE_RULE, "type_mismatch")
            assert rule_id is not None
            shown = display(raw.decode("utf-8", errors="replace"))
            return self.problem(rule_id, physical, None,
                                f"line {physical} holds binary bytes (NUL or invalid UTF-8 at byte {bad_byte} "
                                "of the line), not a queue_log record", shown)
        fields = text.split("|")
        if len(fields) < BASE_FIELDS:
            seps = [s for s in _OTHER_SEPARATORS if s in text]
            why = (f"it is separated by {seps[0]!r}, not '|'" if seps and len(fields) == 1
                   else f"it has {len(fields)} `|`-separated field(s)")
            return self.problem("field_count", physical, len(fields) + 1 if len(fields) > 1 else None,
                                f"a queue_log line needs at least {BASE_FIELDS} fields "
                                f"(epoch|callid|queue|agent|event), but {why}", display(text))
        epoch_text = fields[0].strip()
        if not _EPOCH.match(epoch_text):
            return self.problem("type_mismatch", physical, FIELD_EPOCH,
                                f"the first field must be a Unix timestamp in seconds, but it is "
                                f"`{display(epoch_text)[:40]}`", display(text), column_name="epoch")
        name = fields[4].strip().upper()
        if not name:
            return self.problem("field_count", physical, FIELD_EVENT, "the event name (field 5) is empty",
                                display(text), column_name="event")
        spec = SPECS.get(name)
        if spec is None:
            return Unknown(self.record_line(physical), name)
        data = fields[BASE_FIELDS:]
        if name == "ATTENDEDTRANSFER":
            data = _attended(data)
        if len(data) < spec.required:
            return self.problem("field_count", physical, BASE_FIELDS + len(data) + 1,
                                f"{name} needs at least {spec.required} data field(s) "
                                f"({'|'.join(spec.fields[:spec.required])}), but the line has {len(data)}",
                                display(text))
        values: dict[str, str | int | None] = {}
        for i, field_name in enumerate(spec.fields):
            value = data[i].strip() if i < len(data) else None
            if field_name in spec.durations or field_name in spec.ints:
                if value is None or (value == "" and i >= spec.required):
                    values[field_name] = None
                    continue
                column = BASE_FIELDS + 1 + i
                if name == "ATTENDEDTRANSFER" and i >= 2:
                    column = len(fields) - (len(spec.fields) - 1 - i)
                if not _INT.match(value):
                    return self.problem("type_mismatch", physical, column,
                                        f"{name} field `{field_name}` must be a whole number, but it is "
                                        f"`{display(value)[:40]}`", display(text), column_name=field_name)
                number = int(value)
                if number < 0 and field_name in spec.durations:
                    return self.problem("negative_duration", physical, column,
                                        f"{name} field `{field_name}` is negative ({number})", display(text),
                                        column_name=field_name)
                values[field_name] = number
            else:
                values[field_name] = value
        return Event(self.record_line(physical), int(float(epoch_text)), fields[1].strip(), fields[2].strip(),
                     fields[3].strip(), name, values)

    def _decode(self, raw: bytes) -> tuple[str | None, int]:
        nul = raw.find(b"\x00")
        if nul >= 0:
            return None, nul
        try:
            return raw.decode("utf-8"), -1
        except UnicodeDecodeError as exc:
            bad = exc.start
        if self.fallback_encoding:
            try:
                return raw.decode(self.fallback_encoding), -1
            except (UnicodeDecodeError, LookupError):
                pass
        return None, bad


def _attended(data: list[str]) -> list[str]:
    """ATTENDEDTRANSFER data `method|<1 or 2 fields>|holdtime|calltime|origposition` (Asterisk 12+:
    BRIDGE|bridge id, APP|application, LINK|channel|channel) → method, target, and the three
    numbers, so the numbers are found from the end whatever the method wrote."""
    data = list(data)
    while len(data) > 5 and not data[-1].strip():  # realtime exports pad to data1..data5
        data.pop()
    if len(data) < 5:
        return data
    return [data[0], ",".join(data[1:-3]), *data[-3:]]
