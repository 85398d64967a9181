"""Read one input file (CSV, JSONL or Parquet) from its bytes into a string-typed Polars frame.

Never DuckDB: raw values must not reach its temp files (DESIGN §6). File-level faults raise
`FileRejected`; faulty records are left out of the frame and reported as `Problem`s.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from pipeline.core.errors import FileRejected
from pipeline.ingest.problems import Problem
from pipeline.ingest.rules import rule

Format = Literal["csv", "jsonl", "parquet", "dialect"]

_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
}
_UTF8_BOM = b"\xef\xbb\xbf"
_RAW_CHARS = 500
_OTHER_DELIMITERS = (";", "\t", "|")
LINE = "_line"
RawAt = Callable[[int], str]   # raw record text by row position in the frame


@dataclass
class ParsedFile:
    file: str                # label used in locations (the file's basename)
    fmt: Format
    header: list[str]        # column names: stripped, lower-cased, BOM removed, in file order
    frame: pl.DataFrame      # one column per header name + "_line" (Int64)
    problems: list[Problem] = field(default_factory=list)  # excluded records, plus warnings
    encoding: str = "utf-8"  # "utf-8", "utf-8-sig" or the configured fallback actually used
    deferred: int = 0        # records held back for the next read (a log's last line without newline)


def masked(text: str) -> str:
    """Mask personal data; the masker is optional only while pii.py does not exist yet."""
    try:
        from pipeline.ingest.pii import mask_text
    except ModuleNotFoundError as exc:
        # Only a missing module is tolerated: a broken masker must not silently leak values.
        if exc.name != "pipeline.ingest.pii":
            raise
        return text
    return mask_text(text)


def masked_raw(text: str) -> str:
    # Cut generously before masking so a huge field stays cheap, then to the display size.
    return masked(text[: _RAW_CHARS * 4])[:_RAW_CHARS]


def read_file(path: Path, data: bytes, *, encoding: str | None = None,
              max_field_bytes: int = 1 << 20, file_label: str | None = None,
              delimiter: str = ",") -> ParsedFile:
    label = file_label or path.name
    if not data:
        raise _reject("empty_file", label, f"Attempted to read {label}, but the file has 0 bytes")
    fmt = detect_format(path, data)
    if fmt == "parquet":
        return _read_parquet(label, data, max_field_bytes)
    _check_not_binary(label, data)
    text, used = _decode(label, data, encoding)
    if fmt == "jsonl":
        return _read_jsonl(label, text, used, max_field_bytes)
    return _read_csv(label, text, used, max_field_bytes, delimiter)


def detect_format(path: Path, data: bytes) -> Format:
    known = _EXTENSIONS.get(path.suffix.lower())
    if known:
        return known
    if data.startswith(b"PAR1"):
        return "parquet"
    head = data[len(_UTF8_BOM):] if data.startswith(_UTF8_BOM) else data
    return "jsonl" if head.lstrip()[:1] == b"{" else "csv"


# --- rejection helpers --------------------------------------------------------------------------

def _reject(rule_id: str, label: str, title: str, *, line: int | None = None, column: int | None = None,
            byte: int | None = None, hint: str | None = None) -> FileRejected:
    location = Problem(rule_id, label, line=line, column=column, byte=byte).location
    return FileRejected(title, hint if hint is not None else rule(rule_id).hint,
                        rule_id=rule_id, location=location)


def _line_col(data: bytes, pos: int, codec: str) -> tuple[int, int]:
    """1-based physical line (\\n, \\r\\n or \\r ends one) and character column of byte `pos`."""
    before = data[:pos]
    line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
    start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
    prefix = data[start:pos]
    if start == 0 and prefix.startswith(_UTF8_BOM):
        prefix = prefix[len(_UTF8_BOM):]  # the BOM is a marker, not a character of the line
    return line, len(prefix.decode(codec, errors="replace")) + 1


def _check_not_binary(label: str, data: bytes) -> None:
    pos = data.find(b"\x00")
    if pos < 0:
        return
    line, col = _line_col(data, pos, "utf-8")
    hint = rule("binary_file").hint
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = "The file looks like UTF-16: re-export it as UTF-8"
    raise _reject("binary_file", label, f"Attempted to read text at {label}:{line}:{col} (byte {pos}), "
                  "but the file holds a NUL byte, so it is binary, not CSV or JSONL text",
                  line=line, column=col, byte=pos, hint=hint)


def _decode(label: str, data: bytes, fallback: str | None) -> tuple[str, str]:
    codec = "utf-8-sig" if data.startswith(_UTF8_BOM) else "utf-8"
    try:
        return data.decode(codec), codec
    except UnicodeDecodeError as exc:
        # utf-8-sig counts positions after the BOM it removed; locations count file bytes.
        bad_byte = exc.start + (len(_UTF8_BOM) if codec == "utf-8-sig" else 0)
    if fallback is None:
        raise _encoding_error(label, data, bad_byte, "utf-8", "is not valid UTF-8 and no fallback "
                              "ingest.encoding is configured")
    body = data[len(_UTF8_BOM):] if data.startswith(_UTF8_BOM) else data
    try:
        return body.decode(fallback), fallback
    except LookupError:
        raise _reject("encoding", label, f"Attempted to decode {label} with the configured "
                      f"ingest.encoding {fallback!r}, but Python knows no such encoding",
                      hint="Set ingest.encoding to a known codec name such as \"cp1251\"") from None
    except UnicodeDecodeError as exc:
        offset = exc.start + len(data) - len(body)
        raise _encoding_error(label, data, offset, fallback, f"is valid neither in UTF-8 nor in the "
                              f"configured {fallback}") from None


def _encoding_error(label: str, data: bytes, pos: int, codec: str, why: str) -> FileRejected:
    line, col = _line_col(data, pos, codec)
    return _reject("encoding", label, f"Attempted to decode text at {label}:{line}:{col} (byte {pos}), "
                   f"but byte 0x{data[pos]:02x} there {why}", line=line, column=col, byte=pos)


# --- header -----------------------------------------------------------------------------------

def _normalise_header(label: str, raw: list[str], line: int) -> list[str]:
    names = []
    for i, name in enumerate(raw, start=1):
        clean = name.replace("\ufeff", "").strip().lower()
        # An unnamed column still needs a unique name so it can be reported as extra.
        names.append(clean or f"column_{i}")
    seen: set[str] = set()
    for i, name in enumerate(names, start=1):
        if name in seen or name == LINE:
            why = ("the name `_line` is reserved for the record's line number" if name == LINE
                   else f"the column name `{masked(name)}` appears a second time")
            raise _reject("duplicate_column", label, f"Attempted to read the header at {label}:{line}:{i}, "
                          f"but {why}", line=line, column=i)
        seen.add(name)
    return names


# --- frame building (shared) ------------------------------------------------------------------

def _text_frame(header: list[str], columns: list[list[str | None]] | list[tuple[str | None, ...]],
                lines: list[int]) -> pl.DataFrame:
    data = {name: pl.Series(name, list(col), dtype=pl.Utf8) for name, col in zip(header, columns, strict=True)}
    data[LINE] = pl.Series(LINE, lines, dtype=pl.Int64)
    return pl.DataFrame(data)


def _blank_to_null(frame: pl.DataFrame) -> pl.DataFrame:
    text = [n for n, t in frame.schema.items() if t == pl.Utf8]
    return frame.with_columns(
        pl.when(pl.col(n).str.strip_chars() == "").then(None).otherwise(pl.col(n)).alias(n) for n in text
    )


def _oversized(frame: pl.DataFrame, header: list[str], limit: int) -> tuple[pl.DataFrame, list[tuple[int, int, int]]]:
    """Drop rows with a text field over `limit` UTF-8 bytes: (row position, 1-based column, size)."""
    text = [(i, n) for i, n in enumerate(header, start=1) if frame.schema[n] == pl.Utf8]
    if not text or frame.height == 0:
        return frame, []
    over = [(i, pl.col(n).str.len_bytes()) for i, n in text]
    first = pl.coalesce([pl.when(size > limit).then(pl.lit(i)) for i, size in over])
    size = pl.coalesce([pl.when(size > limit).then(size) for _, size in over])
    flags = frame.select(first.alias("col"), size.alias("size")).with_row_index("pos")
    hits = flags.filter(pl.col("col").is_not_null())
    if hits.height == 0:
        return frame, []
    keep = flags.get_column("col").is_null()
    return frame.filter(keep), [(int(p), int(c), int(s)) for p, c, s in hits.iter_rows()]


def _size_problems(label: str, frame: pl.DataFrame, header: list[str], limit: int,
                   raw_at: RawAt | None) -> tuple[pl.DataFrame, list[Problem]]:
    kept, hits = _oversized(frame, header, limit)
    problems = []
    for pos, col, size in hits:
        line = int(frame[LINE][pos])
        name = header[col - 1]
        raw = raw_at(pos) if raw_at is not None else _row_text(frame, header, pos)
        problems.append(Problem(
            "field_too_large", label, line=line, column=col, column_name=name, raw=masked_raw(raw),
            message=f"Attempted to read field {col} at {label}:{line}:{col}, but it holds {size} bytes, "
                    f"more than the limit of {limit} bytes"))
    return kept, problems


def _row_text(frame: pl.DataFrame, header: list[str], pos: int) -> str:
    row = frame.row(pos, named=True)
    return ",".join("" if row[n] is None else str(row[n])[:_RAW_CHARS] for n in header)


def _finish(label: str, fmt: Format, header: list[str], frame: pl.DataFrame, problems: list[Problem],
            encoding: str, limit: int, raw_at: RawAt | None) -> ParsedFile:
    frame = _blank_to_null(frame)
    frame, size_problems = _size_problems(label, frame, header, limit, raw_at)
    problems = sorted(problems + size_problems, key=lambda p: (p.line or 0, p.column or 0))
    return ParsedFile(label, fmt, header, frame, problems, encoding)


# --- CSV --------------------------------------------------------------------------------------

# One field of a record: a quoted field (doubled quotes inside) or unquoted text up to a delimiter.
_QUOTED = re.compile(r'"(?:[^"]|"")*+"')
_UNQUOTED = re.compile(r"[^,\r\n]*")


def unclosed_quote_field(record: str, delimiter: str = ",") -> int | None:
    """1-based field index where a quote opens and never closes, scanning like csv (strict=False)."""
    unquoted = _UNQUOTED if delimiter == "," else re.compile(f"[^{re.escape(delimiter)}\r\n]*")
    pos, fld, n = 0, 1, len(record)
    while pos < n:
        if record[pos] == '"':
            m = _QUOTED.match(record, pos)
            if m is None:
                return fld
            pos = m.end()
        pos = unquoted.match(record, pos).end()  # type: ignore[union-attr]
        if pos < n and record[pos] == delimiter:
            fld, pos = fld + 1, pos + 1
        else:
            return None  # a line end outside quotes closes the record
    return None


def _blank(record: list[str]) -> bool:
    return not record or (len(record) == 1 and not record[0].strip())


def _set_field_limit() -> None:
    # The csv module refuses fields over 128 KiB; sizes are checked against max_field_bytes instead.
    if csv.field_size_limit() < 2**31 - 1:
        csv.field_size_limit(2**31 - 1)


def _read_csv(label: str, text: str, encoding: str, limit: int, delimiter: str = ",") -> ParsedFile:
    _set_field_limit()
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines, strict=False, delimiter=delimiter)
    header: list[str] | None = None
    prev = 0
    rows: list[list[str]] = []
    starts: list[int] = []
    ends: list[int] = []
    problems: list[Problem] = []
    width = -1  # no header yet: nothing takes the fast path
    for record in reader:
        start, end, prev = prev + 1, reader.line_num, reader.line_num
        # Fast path first: the common record is complete and not the file's last.
        if len(record) == width and end != len(lines):
            rows.append(record)
            starts.append(start)
            ends.append(end)
            continue
        if _blank(record):
            continue
        unclosed = unclosed_quote_field("".join(lines[start - 1:end]), delimiter) if end == len(lines) else None
        if header is None:
            header = _csv_header(label, record, start, unclosed, delimiter)
            width = len(header)
            continue
        raw = "".join(lines[start - 1:end]).rstrip("\r\n")
        problem = _record_problem(label, header, record, start, unclosed, raw)
        if problem is not None:
            problems.append(problem)
            continue
        rows.append(record)
        starts.append(start)
        ends.append(end)
    if header is None:
        raise _reject("empty_file", label, f"Attempted to read the header of {label}, but the file holds "
                      "only blank lines")
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in header]
    frame = _text_frame(header, columns, starts)

    def raw_at(pos: int) -> str:
        return "".join(lines[starts[pos] - 1:ends[pos]]).rstrip("\r\n")

    return _finish(label, "csv", header, frame, problems, encoding, limit, raw_at)


def _csv_header(label: str, record: list[str], line: int, unclosed: int | None, delimiter: str = ",") -> list[str]:
    if unclosed is not None:
        raise _reject("unterminated_quote", label, f"Attempted to read the header at {label}:{line}:{unclosed}, "
                      "but a quote opened there is never closed", line=line, column=unclosed)
    if delimiter != ",":
        others = [d for d in (",", *_OTHER_DELIMITERS) if d != delimiter]
        if len(record) == 1 and any(d in record[0] for d in others):
            shown = "tab" if delimiter == "\t" else f"`{delimiter}`"
            raise _reject("wrong_delimiter", label, f"Attempted to read the header at {label}:{line}:1 as "
                          f"separated by {shown}, but it is one field holding another delimiter",
                          line=line, column=1, hint="Set `delimiter` in the mapping to the file's delimiter")
    elif len(record) == 1 and any(d in record[0] for d in _OTHER_DELIMITERS):
        raise _reject("wrong_delimiter", label, f"Attempted to read the header at {label}:{line}:1 as "
                      "comma-separated, but it is one field holding `;`, tab or `|`", line=line, column=1)
    return _normalise_header(label, record, line)


def _record_problem(label: str, header: list[str], record: list[str], line: int, unclosed: int | None,
                    raw: str) -> Problem | None:
    if unclosed is not None:
        return Problem("unterminated_quote", label, line=line, column=unclosed, raw=masked_raw(raw),
                       message=f"Attempted to read the record at {label}:{line}:{unclosed}, but the quote "
                               "opened in this field is never closed before the end of the file")
    if len(record) == len(header):
        return None
    column = len(record) + 1 if len(record) < len(header) else len(header) + 1
    return Problem("field_count", label, line=line, column=column, raw=masked_raw(raw),
                   message=f"Attempted to read the record at {label}:{line}:{column}, but it has "
                           f"{len(record)} fields where the header has {len(header)}")


# --- JSONL ------------------------------------------------------------------------------------

def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _read_jsonl(label: str, text: str, encoding: str, limit: int) -> ParsedFile:
    names: dict[str, int] = {}   # normalised key -> 1-based header index, first-seen order
    rows: list[dict[str, str | None]] = []
    starts: list[int] = []
    raws: list[str] = []
    problems: list[Problem] = []
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if not line.strip():
            continue
        obj, why = _json_object(line)
        if obj is None:
            problems.append(Problem("invalid_json", label, line=number, raw=masked_raw(line.rstrip("\r\n")),
                                    message=f"Attempted to read a JSON object at {label}:{number}, but {why}"))
            continue
        rows.append(_json_row(label, obj, number, names))
        starts.append(number)
        raws.append(line)
    header = list(names)
    frame = _text_frame(header, [[r.get(n) for r in rows] for n in header], starts)
    return _finish(label, "jsonl", header, frame, problems, encoding, limit,
                   lambda pos: raws[pos].rstrip("\r\n"))


def _json_object(line: str) -> tuple[dict[str, object] | None, str]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, masked(f"the line is not valid JSON ({exc.msg} at character {exc.pos + 1})")
    if not isinstance(obj, dict):
        return None, f"the line holds a JSON {type(obj).__name__}, not an object"
    return obj, ""


def _json_row(label: str, obj: dict[str, object], line: int, names: dict[str, int]) -> dict[str, str | None]:
    row: dict[str, str | None] = {}
    for i, (key, value) in enumerate(obj.items(), start=1):
        name = key.replace("\ufeff", "").strip().lower() or f"column_{len(names) + 1}"
        if name in row or name == LINE:
            why = ("the key `_line` is reserved for the record's line number" if name == LINE
                   else f"two keys of the object both read as `{masked(name)}`")
            raise _reject("duplicate_column", label, f"Attempted to read the object at {label}:{line}:{i}, "
                          f"but {why}", line=line, column=i)
        names.setdefault(name, len(names) + 1)
        row[name] = _json_text(value)
    return row


# --- Parquet ----------------------------------------------------------------------------------

def _read_parquet(label: str, data: bytes, limit: int) -> ParsedFile:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises several error types for a corrupt file
        why = masked(str(exc).splitlines()[0][:200]) if str(exc) else type(exc).__name__
        raise _reject("unreadable_parquet", label, f"Attempted to read Parquet at {label}, but it cannot "
                      f"be read ({why})") from None
    header = _normalise_header(label, frame.columns, 1)
    frame = frame.rename(dict(zip(frame.columns, header, strict=True)))
    frame = frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(LINE))
    return _finish(label, "parquet", header, frame, [], "utf-8", limit, None)
