"""`opkpi ingest --format asterisk-queue-log FILE...`: Asterisk's queue_log (`epoch|callid|queue|
agent|event|data...`) → canonical `calls`, `agent_states`, and auto-registered `operators` and
`operator_identities` rows.

The file is read as a live, growing log (DESIGN §5 `tail`): per source, what was consumed before is
skipped when the file still starts with it, a rotated file is finished from its previous generation
beside it (`queue_log.1`, `.0`, `.gz`), a last line without its newline is held back (`deferred`),
and calls open at the cut are `in_progress` until a later read completes them. Loading after each
append, or after a logrotate, gives the same rows as loading the whole log at once.

Options: `source` names the log (default: the file name); `stateless` parses the bytes alone, with
no tail state read or written (replaying archived bytes); `continues` (+ `first_line`) marks the
archived rest of a rotated generation, read to its end on a rebuild.

Fields, version differences and every assumption: docs/formats/asterisk-queue-log.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from pipeline.core.errors import FileRejected
from pipeline.ingest.dialects import DialectContext
from pipeline.ingest.dialects.asterisk import tail
from pipeline.ingest.dialects.asterisk.events import (
    UNKNOWN_EVENT_RULE,
    Event,
    LineReader,
    Unknown,
    rule_or,
)
from pipeline.ingest.dialects.asterisk.machine import SOURCE_SYSTEM, Machine, Record
from pipeline.ingest.problems import Problem
from pipeline.ingest.readers import ParsedFile
from pipeline.ingest.rules import rule

log = logging.getLogger("opkpi.ingest.asterisk")

CALLS_HEADER = ["call_id", "leg", "direction", "queue_id", "agent_id", "source_system", "customer_phone",
                "enqueued_at", "answered_at", "ended_at", "outcome", "end_reason", "transfer_to", "talk_s"]
STATES_HEADER = ["operator_id", "state", "started_at", "ended_at", "reason", "queue_id"]
OPERATORS_HEADER = ["operator_id", "display_name", "team_id", "tier", "timezone", "valid_from"]
IDENTITIES_HEADER = ["source_system", "source_id", "operator_id", "valid_from"]
CALLS_KEY = ("call_id", "leg")
STATES_KEY = ("operator_id", "state", "started_at")
RETRACTED_BY = "asterisk-queue-log:retracted"
BINARY_SNIFF = 4096
DIALECT = "asterisk-queue-log"


def read(data: bytes, ctx: DialectContext) -> list[tuple[str, ParsedFile]]:
    cfg = ctx.config.asterisk
    label = ctx.label
    source = str(ctx.options.get("source") or label)
    stateless = bool(ctx.options.get("stateless"))
    data_sha = tail.sha256(data)
    text = _text_of(data, label)
    reader = LineReader(label, fallback_encoding=ctx.config.ingest.encoding)
    _refuse_binary(text, reader, label)

    sealer = tail.Sealer(ctx.pseudonymiser)
    base = None if stateless else tail.settle(ctx.con, source, sealer)
    normalize = [(re.compile(p), r) for p, r in cfg.agent_normalize]
    machine = Machine(base.state if base else None, normalize=normalize, wrap_reasons=set(cfg.wrap_pause_reasons))
    problems: list[Problem] = []
    unknown: dict[str, list[int]] = {}

    start = 0
    deferred = 0
    if ctx.options.get("continues"):
        # a rebuild replaying the archived rest of a rotated generation: every line, to the end
        shifted = LineReader(label, fallback_encoding=ctx.config.ingest.encoding,
                             line_shift=int(ctx.options.get("first_line") or 1) - 1)
        for i, raw in enumerate(text.split(b"\n")):
            _feed(shifted, machine, raw, i + 1, problems, unknown)
    else:
        if base is not None and base.offset == tail.GENERATION_DONE:
            pass
        elif base is not None:
            if len(text) >= base.offset and tail.sha256(text[:base.offset]) == base.prefix_sha256:
                start = base.offset
            else:
                _finish_rotated(ctx, source, base, machine, problems, unknown)
        physical = text.count(b"\n", 0, start) + 1
        body = text[start:]
        cut = body.rfind(b"\n") + 1
        for i, raw in enumerate(body[:cut].split(b"\n")[:-1]):
            _feed(reader, machine, raw, physical + i, problems, unknown)
        deferred = 1 if body[cut:].strip() else 0
    machine.finish()

    outputs: list[tuple[str, ParsedFile]] = []
    synthetic = text.count(b"\n") + 2  # first line number past the file, for records sharing a line
    operators, identities = _register(ctx, machine)
    if operators:
        outputs.append(("operators", _parsed(label, OPERATORS_HEADER, operators, synthetic)))
    if identities:
        outputs.append(("operator_identities", _parsed(label, IDENTITIES_HEADER, identities, synthetic)))
    states = _last_per_key(machine.states_out, STATES_KEY)
    if states:
        outputs.append(("agent_states", _parsed(label, STATES_HEADER, states, synthetic)))
    calls_parsed = _parsed(label, CALLS_HEADER, _last_per_key(machine.calls_out, CALLS_KEY), synthetic)
    calls_parsed.problems = problems + _unknown_problems(label, unknown)
    calls_parsed.deferred = deferred
    outputs.append(("calls", calls_parsed))

    if not stateless:
        emitted_calls = {(r.values["call_id"], int(r.values["leg"] or 0)) for r in machine.calls_out}
        emitted_states = {(r.values["operator_id"], r.values["state"], r.values["started_at"])
                          for r in machine.states_out}
        _retract(ctx.con, "raw_calls", [k for k in machine.retract_calls if k not in emitted_calls],
                 'call_id = ? AND leg = ? AND outcome = \'in_progress\' AND source_system = \'asterisk\'')
        _retract(ctx.con, "raw_agent_states",
                 [(a, s, datetime.fromtimestamp(e, UTC)) for a, s, e in machine.retract_states
                  if (a, s, _iso(e)) not in emitted_states],
                 "operator_id = ? AND state = ? AND started_at = ? AND ended_at IS NULL")
        if ctx.options.get("continues"):
            offset, prefix = tail.GENERATION_DONE, ""
        else:
            offset = start + cut
            prefix = tail.sha256(text[:offset])
        tail.save_pending(ctx.con, source, sealer, base=base, data_sha256=data_sha,
                          kinds=[k for k, _ in outputs], offset=offset, prefix_sha256=prefix,
                          state=machine.state())
    if machine.stats:
        log.info("%s: queue_log events %s", label, dict(sorted(machine.stats.items())))
    return outputs


# --- reading ---------------------------------------------------------------------------------------

def _text_of(data: bytes, label: str) -> bytes:
    try:
        return tail.maybe_gunzip(data)
    except (OSError, EOFError) as exc:
        raise FileRejected(f"Attempted to decompress {label} at {label}:1:1, but it is not a valid gzip file "
                           f"({exc})", rule("binary_file").hint, rule_id="binary_file", location=f"{label}:1:1") from None


def _refuse_binary(text: bytes, reader: LineReader, label: str) -> None:
    """A file that starts with binary bytes is not a queue_log at all (one garbled line inside a
    log is only that line's problem)."""
    head = text[:BINARY_SNIFF]
    if b"\x00" not in head:
        return
    first = next((ln for ln in head.split(b"\n") if ln.strip()), b"")
    if isinstance(reader.parse(first, 1), Event | Unknown):
        return
    raise FileRejected(f"Attempted to read {label} as an Asterisk queue_log at {label}:1:1, but it starts with "
                       "binary bytes (NUL), not `epoch|callid|queue|agent|event|data` lines",
                       rule("binary_file").hint, rule_id="binary_file", location=f"{label}:1:1")


def _feed(reader: LineReader, machine: Machine, raw: bytes, physical: int, problems: list[Problem],
          unknown: dict[str, list[int]]) -> None:
    parsed = reader.parse(raw, physical)
    if parsed is None:
        return
    if isinstance(parsed, Problem):
        problems.append(parsed)
    elif isinstance(parsed, Unknown):
        seen = unknown.setdefault(parsed.name, [0, parsed.line])
        seen[0] += 1
    else:
        machine.feed(parsed)


def _finish_rotated(ctx: DialectContext, source: str, base: tail.Committed, machine: Machine,
                    problems: list[Problem], unknown: dict[str, list[int]]) -> None:
    """The file no longer starts with what was consumed: it was rotated. Consume the rest of the
    previous generation first (its lines carry negative record lines; locations name that file),
    and archive that rest so a rebuild replays it."""
    found = tail.find_rotated(ctx.path, base.offset, base.prefix_sha256)
    if found is None:
        log.warning("%s no longer starts with the %d bytes consumed before and no rotated copy beside it "
                    "(.1, .0, .gz) does: reading it from the start; lines written to the old file after the "
                    "last load are not loaded", ctx.label, base.offset)
        return
    path, old = found
    reader = LineReader(path.name, fallback_encoding=ctx.config.ingest.encoding, negative_lines=True)
    first = old.count(b"\n", 0, base.offset) + 1
    rest = old[base.offset:]
    tail.archive_continuation(ctx, source=source, name=path.name, remainder=rest, first_line=first,
                              dialect=DIALECT)
    lines = rest.split(b"\n")
    for i, raw in enumerate(lines):
        _feed(reader, machine, raw, first + i, problems, unknown)
    log.info("%s was rotated: consumed %d more line(s) of %s first", ctx.label, len(lines), path.name)


def _unknown_problems(label: str, unknown: dict[str, list[int]]) -> list[Problem]:
    """Vendor events are counted and reported (a warning per event name), never fatal. Until the
    rule registry holds `unknown_event` they are only logged."""
    if not unknown:
        return []
    summary = ", ".join(f"{name} ×{n}" for name, (n, _) in sorted(unknown.items()))
    log.info("%s: queue_log events opkpi does not know, ignored: %s", label, summary)
    rule_id = rule_or(UNKNOWN_EVENT_RULE, None)
    if rule_id is None:
        return []
    return [Problem(rule_id=rule_id, file=label, line=line, column=5, column_name="event",
                    message=f"event `{name}` is not a queue_log event opkpi knows (a vendor extension?): "
                            f"{n} line(s) ignored, the first here")
            for name, (n, line) in sorted(unknown.items())]


# --- outputs ---------------------------------------------------------------------------------------

def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _last_per_key(records: list[Record], key: tuple[str, ...]) -> list[Record]:
    """One record per key (the last): a key emitted twice in one read would quarantine both."""
    out: dict[tuple, Record] = {}
    for r in records:
        out[tuple(r.values[k] for k in key)] = r
    return list(out.values())


def _parsed(label: str, header: list[str], records: Iterable[Record], synthetic: int) -> ParsedFile:
    """Records → a string frame with a unique `_line` per record: the first of its candidate lines
    not yet taken, else a number past the end of the file (records closed by one shared line)."""
    taken: set[int] = set()
    rows: list[list[str | None]] = []
    lines: list[int] = []
    for r in records:
        line = next((ln for ln in r.lines if ln not in taken), None)
        if line is None:
            while synthetic in taken:
                synthetic += 1
            line = synthetic
        taken.add(line)
        lines.append(line)
        rows.append([r.values.get(c) for c in header])
    frame = pl.DataFrame(rows, schema={c: pl.Utf8 for c in header}, orient="row")
    frame = frame.with_columns(pl.Series("_line", lines, dtype=pl.Int64))
    return ParsedFile(file=label, fmt="dialect", header=list(header), frame=frame)


def _register(ctx: DialectContext, machine: Machine) -> tuple[list[Record], list[Record]]:
    """DESIGN §2: an agent with no identity and no operator of that id becomes an operator whose id
    is the agent string, with the queue's team (when `raw_queues` knows it), no tier, the source's
    timezone, valid from the local date of its first event; plus the identity asterisk:agent → it.
    An agent registered before any of its events named a queue (AGENTLOGIN, PAUSEALL) gets its row
    again, same key, once a queue with a known team appears, as a whole-log load would write it."""
    cfg = ctx.config.asterisk
    operators: list[Record] = []
    identities: list[Record] = []
    bots = set(ctx.config.bots)
    tz = ZoneInfo(cfg.timezone)
    for agent, seen in sorted(machine.sightings.items(), key=lambda kv: (kv[1].line < 0, abs(kv[1].line))):
        if agent in bots:
            continue
        if _mapped(ctx.con, agent):
            machine.known_agents.add(agent)
            continue
        if not cfg.auto_register_operators:
            continue
        valid_from = datetime.fromtimestamp(seen.epoch, UTC).astimezone(tz).date().isoformat()
        team = _team_of(ctx.con, seen.queue)
        operators.append(_operator(agent, team, cfg.timezone, valid_from, seen.line))
        identities.append(Record({"source_system": SOURCE_SYSTEM, "source_id": agent, "operator_id": agent,
                                  "valid_from": valid_from}, [seen.line]))
        machine.known_agents.add(agent)
        if team is None:
            machine.teamless[agent] = valid_from
    for agent, seen in sorted(machine.queue_seen.items()):
        team = _team_of(ctx.con, seen.queue)
        valid_from = machine.teamless.get(agent)
        if team is None or valid_from is None:
            continue
        del machine.teamless[agent]
        untouched = ctx.con.execute("""SELECT 1 FROM raw_operators WHERE operator_id = ? AND valid_from = ?
            AND team_id IS NULL AND display_name = operator_id""", [agent, valid_from]).fetchone()
        if untouched:
            operators.append(_operator(agent, team, cfg.timezone, valid_from, seen.line))
    return operators, identities


def _operator(agent: str, team: str | None, timezone: str, valid_from: str, line: int) -> Record:
    return Record({"operator_id": agent, "display_name": agent, "team_id": team, "tier": None,
                   "timezone": timezone, "valid_from": valid_from}, [line])


def _mapped(con: duckdb.DuckDBPyConnection, agent: str) -> bool:
    row = con.execute("""SELECT 1 FROM raw_operator_identities WHERE source_system = ? AND source_id = ?
        UNION ALL SELECT 1 FROM raw_operators WHERE operator_id = ? LIMIT 1""", [SOURCE_SYSTEM, agent, agent]).fetchone()
    return row is not None


def _team_of(con: duckdb.DuckDBPyConnection, queue: str | None) -> str | None:
    if queue is None:
        return None
    row = con.execute("SELECT team_id FROM raw_queues WHERE queue_id = ? LIMIT 1", [queue]).fetchone()
    return None if row is None else row[0]


def _retract(con: duckdb.DuckDBPyConnection, table: str, keys: list[tuple], where: str) -> None:
    """Remove open rows an earlier read emitted whose key no longer exists (a consultation stint
    merged into the customer's call, a zero-length interval): the old row goes to `<table>_history`,
    as a superseded row does. Only open rows (`in_progress`, no end) are ever touched."""
    for key in keys:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"INSERT INTO {table}_history SELECT *, now(), ? FROM {table} WHERE {where}",
                        [RETRACTED_BY, *key])
            con.execute(f"DELETE FROM {table} WHERE {where}", list(key))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
