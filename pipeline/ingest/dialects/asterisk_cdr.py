"""`opkpi ingest --format asterisk-cdr FILE...`: Asterisk call detail records (`cdr_csv`
Master.csv, or a `cdr_custom` file) → canonical `calls`, plus `operators` and
`operator_identities` for answering agents auto-registered per DESIGN §2.

queue_log is authoritative for queue calls, so a call with any CDR row whose `lastapp` is `Queue`
is left to it; the CDR adds the inbound calls answered (or rung) directly at an operator's
extension, the direction coming from `dcontext` (`asterisk.inbound_contexts` and friends).
Outbound, internal and unclassified rows, Local-channel halves and rows that reached no device are
skipped and counted. One emitted row = one leg: call_id = linkedid, else uniqueid, else a
synthetic id; leg = CDR_LEG_BASE + sequence, else a stable number from the start time and the
row's content.

The file is read as a growing log (DESIGN §5 `tail`): per source (the file name, or
`options["source"]`) the consumed prefix (byte offset at a line end, line count, sha256) is kept in
`asterisk_cdr_tail`; a read that still starts with it parses only what follows, a last line
without its newline is `deferred`. `options["stateless"]` reads the bytes alone.

Layouts, every rule and assumption, and the sources: docs/formats/asterisk-cdr.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import duckdb
import polars as pl

from pipeline.core.config import AsteriskConfig
from pipeline.core.errors import ConfigError, FileRejected
from pipeline.ingest.dialects import DialectContext
from pipeline.ingest.problems import Problem
from pipeline.ingest.readers import LINE, ParsedFile, _check_not_binary, _decode, masked_raw
from pipeline.ingest.rules import RULES, rule

log = logging.getLogger("opkpi.ingest.asterisk")

DIALECT = "asterisk-cdr"
SOURCE_SYSTEM = "asterisk"
# cdr_csv writes these 16 first, then uniqueid (loguniqueid), userfield (loguserfield) and
# peeraccount, linkedid, sequence (newcdrcolumns): cdr/cdr_csv.c, build_csv_record().
BASE_COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
                "start", "answer", "end", "duration", "billsec", "disposition", "amaflags")
NEW_COLUMNS = ("peeraccount", "linkedid", "sequence")
CDR_FIELDS = (*BASE_COLUMNS, "uniqueid", "userfield", *NEW_COLUMNS)
# What a cdr_custom mapping must write for a row to become a call leg (plus src or clid).
REQUIRED_CUSTOM = ("dcontext", "channel", "dstchannel", "lastapp", "start", "end", "billsec", "disposition")
# A channel's uniqueid: `<epoch>.<counter>`, prefixed by `<systemname>-` when asterisk.conf sets one.
UNIQUEID_RE = re.compile(r"^(?:\S+-)?\d+\.\d+$")
# The per-channel suffix Asterisk appends to a device: `PJSIP/7009-0000001a`,
# `Local/7011@from-internal-0000002b;1`, `DAHDI/1-1`.
CHANNEL_SUFFIX_RE = re.compile(r"^(?P<device>.+)-[0-9A-Fa-f]+(?:;\d+)?$")
CLID_NUMBER = r"<([^<>]*)>\s*$"
# The caller's name in a CSV-quoted clid (`"""Ivan Petrov"" <+7...>"`): personal data, kept out of
# quarantined rows (the masker only knows numbers and e-mails).
CLID_NAME_RE = re.compile(r'""[^"]*""(?=\s*<)')
_UINT = r"^\d+$"
_EPOCH = r"^\d+(?:\.\d+)?$"
_LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"
_ISO = "%Y-%m-%dT%H:%M:%S%.f%:z"

DISPOSITIONS = {"ANSWERED": "answered", "NO ANSWER": "abandoned", "BUSY": "abandoned", "FAILED": "abandoned",
                "CONGESTION": "abandoned"}
# CDR legs of a call sort after, and never share a (call_id, leg) key with, the queue_log
# dialect's stints and legs of the same call (numbered 1, 2, ...).
CDR_LEG_BASE = 1000
# Without `sequence`: leg = start (epoch seconds) × this + a content hash below it, so a row keeps
# its key whatever the read, file or rotation it comes from, and legs sort by start time.
LEG_HASH_SPAN = 1_000_000

CALL_HEADER = ["call_id", "leg", "direction", "agent_id", "source_system", "customer_phone", "enqueued_at",
               "answered_at", "ended_at", "outcome", "talk_s"]
OPERATOR_HEADER = ["operator_id", "display_name", "timezone", "valid_from"]
IDENTITY_HEADER = ["source_system", "source_id", "operator_id", "valid_from"]

SKIP_REASONS = {
    "queue_call": "calls that went through a Queue (queue_log carries them)",
    "local_channel": "Local-channel halves (their customer-facing row is loaded)",
    "outbound": "outbound legs",
    "internal": "internal legs",
    "unknown_context": "rows whose dcontext is in no configured context list",
    "no_destination": "inbound rows that reached no device (IVR, voicemail, announcements)",
}
TIME_FIELDS = ("start", "answer", "end")
BINARY_SNIFF = 4096


# --- entry point -----------------------------------------------------------------------------------

def read(data: bytes, ctx: DialectContext) -> list[tuple[str, ParsedFile]]:
    cfg = ctx.config.asterisk
    label = ctx.label
    if not data:
        raise FileRejected(f"Attempted to read {label}, but the file has 0 bytes", rule("empty_file").hint,
                           rule_id="empty_file", location=label)
    custom = _custom_columns(cfg, label)
    source = str(ctx.options.get("source") or label)
    stateless = bool(ctx.options.get("stateless")) or ctx.con is None
    data_sha = _sha256(data)
    base = None if stateless else _settle(ctx.con, source, data, data_sha)
    start, first_line = (base.offset, base.lines) if base else (0, 0)

    if start == 0 and b"\x00" in data[:BINARY_SNIFF].split(b"\n", 1)[0]:
        _check_not_binary(label, data)   # starts with NUL bytes: an archive or other binary, not a CDR log
    cut = data.rfind(b"\n", start) + 1 or start     # only whole lines: the last one may be half-written
    deferred = 1 if data[cut:].strip() else 0
    text, encoding = _decode_part(label, data, start, cut, ctx.config.ingest.encoding)
    lines = io.StringIO(text, newline="").readlines()

    problems: list[Problem] = []
    bodies, layouts, frame = _parse(label, lines, first_line, custom, cfg.cdr_custom_delimiter, problems)
    if start == 0 and frame.height == 0 and b"\x00" in data[:cut]:
        _check_not_binary(label, data)   # nothing readable and NUL bytes: a binary file, not a CDR log
    frame = _classify(_with_call_ids(frame), cfg)
    skipped = frame.filter(pl.col("_skip").is_not_null())
    calls = _calls(label, frame.filter(pl.col("_skip").is_null()), cfg, bodies, layouts, problems)
    problems += _summary_warnings(label, frame, skipped)
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))

    # calls first: the loader files the archived source under the first kind.
    outputs = [("calls", ParsedFile(label, "dialect", list(CALL_HEADER), calls.select(*CALL_HEADER, LINE),
                                    problems, encoding, deferred))]
    outputs += _auto_register(label, calls, ctx)
    if not stateless:
        _save_pending(ctx.con, source, data_sha, [k for k, _ in outputs], offset=cut,
                      lines=first_line + len(lines), prefix_sha256=_sha256(data[:cut]))
    log.info("%s: %d CDR rows read, %d legs kept, skipped %s, deferred %d", label, frame.height, calls.height,
             dict(skipped.group_by("_skip").len().iter_rows()) or "none", deferred)
    return outputs


def _decode_part(label: str, data: bytes, start: int, cut: int, fallback: str | None) -> tuple[str, str]:
    try:
        return _decode(label, data[start:cut], fallback)
    except FileRejected:
        if b"\x00" in data:
            _check_not_binary(label, data)   # an archive or other binary file, not a text log
        if start:
            _decode(label, data[:cut], fallback)   # raises again, located in the whole file
        raise


# --- layout and framing ----------------------------------------------------------------------------

def _custom_columns(cfg: AsteriskConfig, label: str) -> tuple[str, ...] | None:
    """The configured cdr_custom column order, checked; None in auto mode."""
    if cfg.cdr_layout != "custom":
        return None
    names = tuple(c.strip().lower() for c in cfg.cdr_custom_columns)
    hint = ("List the CDR variables of your cdr_custom.conf mapping in order, e.g. asterisk.cdr_custom_columns = "
            "[\"clid\", \"src\", \"dst\", \"dcontext\", ...]; see docs/formats/asterisk-cdr.md")
    if not names:
        raise ConfigError(f"Attempted to read {label} with asterisk.cdr_layout = \"custom\", but "
                          "asterisk.cdr_custom_columns is empty", hint)
    dupes = sorted({n for n in names if names.count(n) > 1 and n in CDR_FIELDS})
    missing = [n for n in REQUIRED_CUSTOM if n not in names]
    if "src" not in names and "clid" not in names:
        missing.append("src or clid")
    if dupes or missing:
        why = f"it lists {', '.join(dupes)} twice" if dupes else f"it lacks {', '.join(missing)}"
        raise ConfigError(f"Attempted to read {label} with the asterisk.cdr_custom_columns layout, but {why}", hint)
    return names


def _csv_layout(count: int, uniqueid_first: bool) -> tuple[str, ...] | None:
    """The cdr_csv layout of a line with `count` fields. 17 and 20 fields are ambiguous (uniqueid
    or userfield alone): `uniqueid_first` says which, decided per read."""
    extra = ("uniqueid",) if uniqueid_first else ("userfield",)
    return {
        16: BASE_COLUMNS,
        17: BASE_COLUMNS + extra,
        18: (*BASE_COLUMNS, "uniqueid", "userfield"),
        19: BASE_COLUMNS + NEW_COLUMNS,
        20: BASE_COLUMNS + extra + NEW_COLUMNS,
        21: CDR_FIELDS,
    }.get(count)


def _parse(label: str, lines: list[str], first_line: int, custom: tuple[str, ...] | None, delimiter: str,
           problems: list[Problem]) -> tuple[dict[int, str], list[dict[str, int]], pl.DataFrame]:
    """Lines → one string frame with a column per CDR field, `_line` and `_layout` (index into the
    returned field-position maps). Each physical line is one record (Asterisk never writes a line
    break inside a field), so a broken quote spoils only its own line."""
    delimiter = delimiter if custom is not None else ","
    bodies: dict[int, str] = {}
    for number, line in enumerate(lines, start=first_line + 1):
        body = line.rstrip("\r\n")
        if not body.strip():
            continue
        # cdr_csv and CSV_QUOTE quote every text field and double inner quotes: an odd count of
        # quotes is the only way one can stay open.
        unclosed = _unclosed_quote_field(body, delimiter) if body.count('"') % 2 else None
        if unclosed is not None:
            problems.append(Problem(
                "unterminated_quote", label, line=number, column=unclosed, raw=_display(body),
                message=f"Attempted to read the CDR at {label}:{number}:{unclosed}, but the quote opened in this "
                        "field is never closed on its line"))
            continue
        bodies[number] = body
    records = list(zip(bodies, csv.reader(list(bodies.values()), delimiter=delimiter, strict=False), strict=True))

    uniqueid_first = True
    if custom is None:
        # 17 and 20 fields: one extra column, uniqueid or userfield. Most values shaped like a
        # uniqueid decide (a userfield is free text, usually empty).
        votes = [bool(UNIQUEID_RE.match(f[16].strip())) for _, f in records if len(f) in (17, 20)]
        uniqueid_first = not votes or sum(votes) * 2 >= len(votes)
    by_count = {len(custom): custom} if custom is not None else {
        n: layout for n in range(16, 22) if (layout := _csv_layout(n, uniqueid_first)) is not None}
    groups: dict[tuple[str, ...], tuple[list[int], list[list[str]]]] = {}
    for number, fields in records:
        layout = by_count.get(len(fields))
        if layout is None:
            problems.append(_field_count_problem(label, number, bodies[number], len(fields), custom))
            continue
        nums, rows = groups.setdefault(layout, ([], []))
        nums.append(number)
        rows.append(fields)

    positions: list[dict[str, int]] = []
    frames = []
    for layout, (nums, rows) in groups.items():
        names = [n if n in CDR_FIELDS else f"_ignored_{i}" for i, n in enumerate(layout)]
        part = pl.DataFrame(rows, schema={n: pl.Utf8 for n in names}, orient="row")
        frames.append(part.select(n for n in names if n in CDR_FIELDS).with_columns(
            pl.Series(LINE, nums, dtype=pl.Int64), pl.lit(len(positions), dtype=pl.Int32).alias("_layout")))
        positions.append({n: i for i, n in enumerate(layout, start=1) if n in CDR_FIELDS})
    schema = {n: pl.Utf8 for n in CDR_FIELDS} | {LINE: pl.Int64, "_layout": pl.Int32}
    frame = pl.concat([pl.DataFrame(schema=schema), *frames], how="diagonal").sort(LINE)
    blank_to_null = [pl.col(n).str.strip_chars().replace("", None).alias(n) for n in CDR_FIELDS]
    return bodies, positions, frame.with_columns(blank_to_null)


def _display(body: str) -> str:
    """A source line as quarantine shows it: caller names blanked, numbers masked."""
    return masked_raw(CLID_NAME_RE.sub('""***""', body))


def _unclosed_quote_field(record: str, delimiter: str) -> int | None:
    """1-based field where a quote opens and never closes, scanning like csv (strict=False)."""
    pos, fld, n = 0, 1, len(record)
    while pos < n:
        if record[pos] == '"':
            pos += 1
            while True:
                close = record.find('"', pos)
                if close < 0:
                    return fld
                if record.startswith('""', close):
                    pos = close + 2
                    continue
                pos = close + 1
                break
        nxt = record.find(delimiter, pos)
        if nxt < 0:
            return None
        fld, pos = fld + 1, nxt + 1
    return None


def _field_count_problem(label: str, line: int, body: str, count: int, custom: tuple[str, ...] | None) -> Problem:
    if custom is not None:
        low = high = len(custom)
        expected = f"the {len(custom)} of asterisk.cdr_custom_columns"
    else:
        low, high = 16, 21
        expected = "16 to 21 (a cdr_csv Master.csv line)"
    column = count + 1 if count < low else high + 1
    return Problem("field_count", label, line=line, column=column, raw=_display(body),
                   message=f"Attempted to read the CDR at {label}:{line}:{column}, but it has {count} "
                           f"fields where {expected} are expected")


# --- calls and direction ---------------------------------------------------------------------------

def _with_call_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """call_id = linkedid, else uniqueid (the Party A channel's, which queue_log uses too), else
    synthetic: rows of one Party A channel whose times overlap (a ring group's dial attempts) are
    one call, `cdr-` + sha256(channel | its first start)."""
    frame = frame.with_columns(pl.coalesce("linkedid", "uniqueid").alias("call_id"))
    orphans = frame.filter(pl.col("call_id").is_null())
    if orphans.height == 0:
        return frame
    chan = pl.coalesce(pl.col("channel"), pl.format("line {}", pl.col(LINE)))
    until = pl.coalesce("end", "start")
    clusters = (orphans.select(LINE, "start", until.alias("_until"), chan.alias("_chan"))
                .sort("_chan", "start", LINE, nulls_last=True)
                .with_columns(pl.col("_until").cum_max().shift(1).over("_chan").alias("_prev"))
                .with_columns((pl.col("_prev").is_null() | (pl.col("start") > pl.col("_prev")))
                              .cum_sum().over("_chan").alias("_cluster"))
                .with_columns(pl.col("start").first().over("_chan", "_cluster").alias("_first")))
    seeds = clusters.select(pl.format("{}|{}", "_chan", pl.col("_first").fill_null(""))).to_series().to_list()
    ids = pl.Series("_synthetic", ["cdr-" + _sha256(s.encode("utf-8"))[:16] for s in seeds], dtype=pl.Utf8)
    mapping = clusters.select(LINE).with_columns(ids)
    return (frame.join(mapping, on=LINE, how="left")
            .with_columns(pl.coalesce("call_id", "_synthetic").alias("call_id")).drop("_synthetic"))


def _direction(context: str, cfg: AsteriskConfig) -> str:
    for direction, patterns in (("inbound", cfg.inbound_contexts), ("outbound", cfg.outbound_contexts),
                                ("internal", cfg.internal_contexts)):
        if any(fnmatchcase(context, p) for p in patterns):
            return direction
    return "unknown_context"


def _classify(frame: pl.DataFrame, cfg: AsteriskConfig) -> pl.DataFrame:
    """`_skip` = why a row is no inbound leg at a device (SKIP_REASONS), null for the rows loaded."""
    contexts = frame.get_column("dcontext").fill_null("").unique().to_list()
    direction = pl.col("dcontext").fill_null("").replace_strict({c: _direction(c, cfg) for c in contexts},
                                                                 default="unknown_context", return_dtype=pl.Utf8)
    queue_call = (pl.col("lastapp").str.to_lowercase() == "queue").fill_null(False).any().over("call_id")
    skip = (pl.when(queue_call).then(pl.lit("queue_call"))
            .when(pl.col("channel").str.to_lowercase().str.starts_with("local/").fill_null(False))
            .then(pl.lit("local_channel"))
            .when(direction != "inbound").then(direction)
            .when(pl.col("dstchannel").is_null()).then(pl.lit("no_destination"))
            .otherwise(None))
    return frame.with_columns(skip.alias("_skip"), direction.alias("_direction"))


def agent_from_channel(channel: str | None, normalize: Sequence[Sequence[str]]) -> str | None:
    """`PJSIP/7009-0000001a` → `PJSIP/7009`, then the first matching `asterisk.agent_normalize` rule
    (`Local/7011@from-internal-0000002b;1` → `Local/7011@from-internal` → `PJSIP/7011`)."""
    channel = (channel or "").strip()
    if not channel:
        return None
    m = CHANNEL_SUFFIX_RE.match(channel)
    agent = m.group("device") if m else channel
    for pattern, repl in normalize:
        agent, n = re.subn(pattern, repl, agent)
        if n:
            break
    return agent


def customer_number(src: pl.Expr, clid: pl.Expr) -> pl.Expr:
    """The caller's number: `src` (CALLERID(num)), else the `<number>` part of `clid`."""
    return pl.coalesce(src, clid.str.extract(CLID_NUMBER, 1).str.strip_chars().replace("", None))


# --- the calls frame -------------------------------------------------------------------------------

def _calls(label: str, rows: pl.DataFrame, cfg: AsteriskConfig, bodies: dict[int, str],
           layouts: list[dict[str, int]], problems: list[Problem]) -> pl.DataFrame:
    """Canonical call rows (strings; times ISO-8601 in UTC) for the inbound rows; a row with an
    unreadable value is quarantined, an ambiguous local time loads with a warning."""
    disposition = pl.col("disposition").str.to_uppercase()
    checks = {
        "start": pl.when(pl.col("start").is_null()).then(pl.lit("type_mismatch")),
        "end": pl.when(pl.col("end").is_null()).then(pl.lit("type_mismatch")),
        "billsec": pl.when(~pl.col("billsec").fill_null("").str.contains(_UINT)).then(pl.lit("type_mismatch")),
        "sequence": pl.when(~pl.col("sequence").str.contains(_UINT)).then(pl.lit("type_mismatch")),
        "disposition": pl.when(~disposition.is_in(list(DISPOSITIONS)).fill_null(False)).then(pl.lit("allowed_value")),
    }
    for name in TIME_FIELDS:
        checks[name] = pl.coalesce(checks.get(name, pl.lit(None, dtype=pl.Utf8)), _time_rule(name, cfg.timezone))
    rules = [c.alias(f"_rule_{n}") for n, c in checks.items()]
    times = [_utc(n, cfg.timezone, "earliest").alias(f"_{n}_utc") for n in TIME_FIELDS]
    checked = rows.with_columns(*rules, *times)
    flags = [f"_rule_{n}" for n in checks]
    problems += _cell_problems(label, checked.filter(pl.any_horizontal(pl.col(f).is_not_null() for f in flags)),
                               list(checks), bodies, layouts, cfg.timezone)
    bad = pl.any_horizontal(pl.col(f).is_not_null() & (pl.col(f) != "ambiguous_local_time") for f in flags)
    ok = checked.filter(~bad)

    outcome = disposition.replace_strict(DISPOSITIONS, default=None, return_dtype=pl.Utf8)
    answered = outcome == "answered"
    billsec = pl.col("billsec").cast(pl.Int64)
    # An answered leg without an answer time was answered billsec seconds before its end.
    answered_at = pl.when(answered).then(
        pl.coalesce(pl.col("_answer_utc"), pl.col("_end_utc") - pl.duration(seconds=billsec)))
    agents = ok.filter(answered).get_column("dstchannel").unique().to_list()
    agent = pl.when(answered).then(pl.col("dstchannel").replace_strict(
        {c: agent_from_channel(c, cfg.agent_normalize) for c in agents}, default=None, return_dtype=pl.Utf8))
    sequence = pl.col("sequence").cast(pl.Int64, strict=False)
    by_content = pl.concat_str([pl.col(n).fill_null("") for n in CDR_FIELDS], separator="\x1f")
    hashed = by_content.map_batches(lambda s: pl.Series([_leg_hash(v) for v in s], dtype=pl.Int64),
                                    return_dtype=pl.Int64)
    leg = pl.coalesce(CDR_LEG_BASE + sequence,
                      pl.col("_start_utc").dt.epoch("s") * LEG_HASH_SPAN + hashed)
    return ok.select(
        LINE, "call_id",
        leg.cast(pl.Utf8).alias("leg"),
        pl.lit("inbound").alias("direction"),
        agent.alias("agent_id"),
        pl.lit(SOURCE_SYSTEM).alias("source_system"),
        customer_number(pl.col("src"), pl.col("clid")).alias("customer_phone"),
        pl.col("_start_utc").dt.to_string(_ISO).alias("enqueued_at"),
        answered_at.dt.to_string(_ISO).alias("answered_at"),
        pl.col("_end_utc").dt.to_string(_ISO).alias("ended_at"),
        outcome.alias("outcome"),
        pl.when(answered).then(pl.col("billsec")).alias("talk_s"),
        answered_at.alias("_answered_utc"),
    )


def _leg_hash(content: str) -> int:
    return int(_sha256(content.encode("utf-8"))[:12], 16) % LEG_HASH_SPAN


def _utc(name: str, timezone: str, ambiguous: str) -> pl.Expr:
    """A local `YYYY-MM-DD HH:MM:SS` (or a cdr_custom epoch) → aware UTC, once, in Polars (DESIGN §5);
    null where the local time does not exist."""
    text = pl.col(name)
    epoch = pl.when(text.str.contains(_EPOCH)).then(text).cast(pl.Float64, strict=False)
    from_epoch = pl.from_epoch((epoch * 1_000_000).round(0).cast(pl.Int64), time_unit="us").dt.replace_time_zone("UTC")
    local = text.str.strptime(pl.Datetime("us"), _LOCAL_FORMAT, strict=False)
    from_local = (local.dt.replace_time_zone(timezone, ambiguous=ambiguous, non_existent="null")
                  .dt.convert_time_zone("UTC"))
    return pl.when(epoch.is_not_null()).then(from_epoch).otherwise(from_local)


def _time_rule(name: str, timezone: str) -> pl.Expr:
    text = pl.col(name)
    readable = text.str.contains(_EPOCH) | text.str.strptime(pl.Datetime("us"), _LOCAL_FORMAT, strict=False).is_not_null()
    early, late = _utc(name, timezone, "earliest"), _utc(name, timezone, "latest")
    return (pl.when(text.is_null()).then(None)
            .when(~readable).then(pl.lit("type_mismatch"))
            .when(early.is_null()).then(pl.lit("nonexistent_local_time"))
            .when(early != late).then(pl.lit("ambiguous_local_time"))
            .otherwise(None))


def _cell_problems(label: str, hits: pl.DataFrame, names: list[str], bodies: dict[int, str],
                   layouts: list[dict[str, int]], timezone: str) -> list[Problem]:
    why = {
        "type_mismatch": {"start": "it is not a local time YYYY-MM-DD HH:MM:SS nor epoch seconds",
                          "answer": "it is not a local time YYYY-MM-DD HH:MM:SS nor epoch seconds",
                          "end": "it is not a local time YYYY-MM-DD HH:MM:SS nor epoch seconds",
                          "billsec": "the value is not a whole number of seconds",
                          "sequence": "the value is not a whole number"},
        "allowed_value": {"disposition": "the value is none of " + ", ".join(DISPOSITIONS)},
        "nonexistent_local_time": f"that local time does not exist in asterisk.timezone {timezone} "
                                  "(skipped by a DST change)",
        "ambiguous_local_time": f"that local time occurs twice in asterisk.timezone {timezone} (DST "
                                "fall-back); the earlier offset was taken",
    }
    out = []
    for rec in hits.select(LINE, "_layout", "start", "end", *(f"_rule_{n}" for n in names)).iter_rows(named=True):
        line, index = rec[LINE], layouts[rec["_layout"]]
        for name in names:
            rule_id = rec[f"_rule_{name}"]
            if rule_id is None:
                continue
            text = why[rule_id]
            if isinstance(text, dict):
                text = text[name]
                if name in ("start", "end") and rec[name] is None:
                    text = "it is empty; a CDR always has a start and an end time"
            col = index.get(name)
            out.append(Problem(rule_id, label, line=line, column=col, column_name=name,
                               raw=_display(bodies[line]),
                               message=f"Attempted to read `{name}` at {label}:{line}:{col}, but {text}"))
    return out


# --- auto-registered agents ------------------------------------------------------------------------

def _auto_register(label: str, calls: pl.DataFrame, ctx: DialectContext) -> list[tuple[str, ParsedFile]]:
    """DESIGN §2, as the queue_log dialect does it: an answering agent with no identity and no
    operator of that id becomes an operator whose id is the agent string (no team: a direct call
    has no queue; no tier; the source's timezone), valid from the local date of its first answer
    in this read, plus the identity asterisk:agent → it. Known agents and `bots` are left alone, so
    a richer row (an operators file, queue_log's registration with the queue's team) is never
    overwritten."""
    cfg = ctx.config.asterisk
    if not cfg.auto_register_operators or calls.height == 0:
        return []
    firsts = (calls.filter(pl.col("agent_id").is_not_null()).sort("_answered_utc", LINE)
              .group_by("agent_id", maintain_order=True).first()
              .select("agent_id", LINE,
                      pl.col("_answered_utc").dt.convert_time_zone(cfg.timezone).dt.date().cast(pl.Utf8)
                      .alias("valid_from")))
    new = firsts.filter(~pl.col("agent_id").is_in(list(set(ctx.config.bots) | _known_agents(ctx.con))))
    if new.height == 0:
        return []
    operators = new.select(pl.col("agent_id").alias("operator_id"), pl.col("agent_id").alias("display_name"),
                           pl.lit(cfg.timezone).alias("timezone"), "valid_from", LINE)
    identities = new.select(pl.lit(SOURCE_SYSTEM).alias("source_system"), pl.col("agent_id").alias("source_id"),
                            pl.col("agent_id").alias("operator_id"), "valid_from", LINE)
    return [("operators", ParsedFile(label, "dialect", list(OPERATOR_HEADER), operators, [])),
            ("operator_identities", ParsedFile(label, "dialect", list(IDENTITY_HEADER), identities, []))]


def _known_agents(con: duckdb.DuckDBPyConnection | None) -> set[str]:
    if con is None:
        return set()
    rows = con.execute("""SELECT source_id FROM raw_operator_identities WHERE source_system = ?
        UNION SELECT operator_id FROM raw_operators""", [SOURCE_SYSTEM]).fetchall()
    return {r[0] for r in rows}


# --- reporting -------------------------------------------------------------------------------------

def _summary_warnings(label: str, frame: pl.DataFrame, skipped: pl.DataFrame) -> list[Problem]:
    """One warning per read and reason, when the registry has the rule (asked of the lead). Without
    a line: a skipped row is no record of the load, so no chunk would carry it."""
    out = []
    synthetic = frame.filter(pl.col("call_id").str.starts_with("cdr-"))
    if synthetic.height and "cdr_no_uniqueid" in RULES:
        out.append(Problem("cdr_no_uniqueid", label, message=(
            f"{synthetic.height} CDR rows of {label} (the first at line {synthetic[LINE].min()}) carry neither "
            "uniqueid nor linkedid (cdr.conf [csv] loguniqueid = no): they load as CDR-only calls with "
            "synthetic ids and cannot be matched with queue_log; set loguniqueid = yes and newcdrcolumns = yes")))
    if skipped.height and "cdr_rows_skipped" in RULES:
        for reason, n in sorted(skipped.group_by("_skip").len().iter_rows()):
            text = f"{n} CDR rows of {label} skipped: {SKIP_REASONS[reason]}"
            if reason == "unknown_context":
                top = (skipped.filter(pl.col("_skip") == reason).group_by("dcontext").len()
                       .sort("len", "dcontext", descending=[True, False]).head(10).iter_rows())
                text += (" (" + ", ".join(f"{c or '(empty)'}: {k}" for c, k in top) + "; list them in "
                         "asterisk.inbound_contexts, outbound_contexts or internal_contexts)")
            out.append(Problem("cdr_rows_skipped", label, message=text))
    return out


# --- tail state ------------------------------------------------------------------------------------

TAIL_TABLE = "asterisk_cdr_tail"
TAIL_DDL = f"""CREATE TABLE IF NOT EXISTS {TAIL_TABLE} (
    source VARCHAR, status VARCHAR, data_sha256 VARCHAR, kinds VARCHAR, byte_offset BIGINT,
    line_offset BIGINT, prefix_sha256 VARCHAR, saved_at TIMESTAMPTZ)"""
TAIL_KEEP = 32   # committed prefixes kept per source (a replay of an older version reads from one)


@dataclass
class _Prefix:
    offset: int
    lines: int


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _settle(con: duckdb.DuckDBPyConnection, source: str, data: bytes, data_sha: str) -> _Prefix | None:
    """Commit the pending reads of `source` whose rows the manifest shows loaded, drop the others
    (the process died, the file was rejected: read again), then return the longest committed
    prefix `data` still starts with. Bytes read before as they are (`--force`, a quarantine
    replay) are read whole: CDR rows keep their keys, so what was loaded comes back as duplicates."""
    con.execute(TAIL_DDL)
    for status_sha, kinds_text in con.execute(
            f"SELECT DISTINCT data_sha256, kinds FROM {TAIL_TABLE} WHERE source = ? AND status = 'pending'",
            [source]).fetchall():
        kinds = [k for k in kinds_text.split(",") if k]
        done = con.execute("""SELECT count(DISTINCT kind) FROM load_manifest WHERE sha256 = ? AND dialect = ?
            AND kind IN (SELECT unnest(?::VARCHAR[])) AND status IN ('loaded', 'partial')""",
                           [status_sha, DIALECT, kinds]).fetchone()[0]
        action = "UPDATE {t} SET status = 'committed'" if kinds and done == len(kinds) else "DELETE FROM {t}"
        con.execute(action.format(t=TAIL_TABLE) + " WHERE source = ? AND status = 'pending' AND data_sha256 = ?",
                    [source, status_sha])
    con.execute(f"""DELETE FROM {TAIL_TABLE} WHERE source = ? AND saved_at < (SELECT min(saved_at) FROM
        (SELECT saved_at FROM {TAIL_TABLE} WHERE source = ? ORDER BY saved_at DESC LIMIT {TAIL_KEEP}))""",
                [source, source])
    if con.execute(f"SELECT count(*) FROM {TAIL_TABLE} WHERE source = ? AND status = 'committed' AND "
                   "data_sha256 = ?", [source, data_sha]).fetchone()[0]:
        return None
    for offset, lines, prefix in con.execute(f"""SELECT DISTINCT byte_offset, line_offset, prefix_sha256
            FROM {TAIL_TABLE} WHERE source = ? AND status = 'committed' AND byte_offset > 0 AND byte_offset <= ?
            ORDER BY byte_offset DESC LIMIT 4""", [source, len(data)]).fetchall():
        if _sha256(data[:offset]) == prefix:
            return _Prefix(int(offset), int(lines))
    return None


def _save_pending(con: duckdb.DuckDBPyConnection, source: str, data_sha: str, kinds: list[str], *, offset: int,
                  lines: int, prefix_sha256: str) -> None:
    con.execute(f"INSERT INTO {TAIL_TABLE} VALUES (?, 'pending', ?, ?, ?, ?, ?, now())",
                [source, data_sha, ",".join(kinds), offset, lines, prefix_sha256])


def tail_state(con: duckdb.DuckDBPyConnection, source: str) -> list[dict[str, Any]]:
    """The committed prefixes of a source, newest first (for `opkpi status` and tests)."""
    con.execute(TAIL_DDL)
    cur = con.execute(f"""SELECT byte_offset, line_offset, data_sha256 FROM {TAIL_TABLE}
        WHERE source = ? AND status = 'committed' ORDER BY saved_at DESC""", [source])
    return [dict(zip(("byte_offset", "line_offset", "data_sha256"), r, strict=True)) for r in cur.fetchall()]
