"""`opkpi ingest --mapping FILE.toml`: any export (CSV, JSONL, Parquet, Excel) through a declarative
column mapping (docs/formats/mapping.md).

The source is parsed with the same care as a canonical file (`readers.read_file`: encodings, framing,
line numbers; Excel through polars/calamine), then renamed and converted in Polars into one canonical
frame per output kind. Conversions that only the mapping knows (date formats, local times, decimal
commas, durations, value maps) happen here; a cell that fails them, or fails a contract type, allowed
set or required value, is quarantined here with the SOURCE location (`file:line:column`, Excel
`file:Sheet!row`), so every problem points into the file the user has. Timestamps leave as ISO-8601
UTC strings with an offset; the loader's casting then has nothing left to convert.

A ticket-level export without events can `derive_segments`: synthetic ticket events (create, assign
to the final assignee, optional first public reply, solve at the resolved time) give one segment per
ticket for its final assignee. Several events come from one source line, so their `_line` is encoded
as `line * 10 + k` (k = 1 create, 2 assign, 3 reply, 4 solve): `freshdesk.csv:34` is line 3, solve.
"""

from __future__ import annotations

import io
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from pipeline.core.errors import ConfigError, FileRejected
from pipeline.ingest.casting import cast_frame
from pipeline.ingest.contract import KINDS, KindSpec
from pipeline.ingest.problems import Problem
from pipeline.ingest.readers import LINE, ParsedFile, masked, masked_raw, read_file
from pipeline.ingest.rules import rule

DOCS = "docs/formats/mapping.md"
Scalar = str | int | float | bool
Format = Literal["csv", "jsonl", "parquet", "excel"]
DurationForm = Literal["hh:mm", "hh:mm:ss", "mm:ss", "seconds", "minutes", "hours"]
_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".parquet": "parquet", ".xlsx": "excel", ".xlsm": "excel", ".xlsb": "excel", ".xls": "excel",
}
_READER_SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}
_EVENT_CODES = {"create": 1, "assign": 2, "reply": 3, "solve": 4}
_ECHO_CHARS = 40
_UTC = pl.Datetime("us", "UTC")
_ISO_RE = (r"^(?P<d>\d{4}-\d{2}-\d{2})[T ](?P<t>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
           r"(?P<o>Z|[+-]\d{2}:?\d{2})?$")
_DURATION_RE = {"hh:mm": r"^(\d+):([0-5]?\d)$", "hh:mm:ss": r"^(\d+):([0-5]?\d):([0-5]?\d(?:\.\d+)?)$",
                "mm:ss": r"^(\d+):([0-5]?\d(?:\.\d+)?)$"}
_UNIT_SECONDS = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0}


# --- the mapping language (validated with pydantic) ----------------------------------------------

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComputedSpec(_Model):
    """A timestamp computed as another timestamp of the output plus seconds from source columns."""

    base: str
    plus_seconds: list[str] = []
    when: dict[str, Scalar] = {}


class SegmentsSpec(_Model):
    """Source columns of a ticket-level export that drive the synthetic events of derive_segments."""

    resolved_at: str
    first_reply_at: str | None = None


class OutputSpec(_Model):
    """One canonical kind produced from the source."""

    kind: str
    columns: dict[str, str | list[str]] = {}
    values: dict[str, dict[str, Scalar]] = {}
    constants: dict[str, Scalar] = {}
    durations: dict[str, DurationForm] = {}
    prefixes: dict[str, str] = {}
    computed: dict[str, ComputedSpec] = {}
    skip_empty: list[str] = []
    derive_segments: bool = False
    segments: SegmentsSpec | None = None


_OUTPUT_KEYS = tuple(OutputSpec.model_fields)


class MappingSpec(_Model):
    format: Format | None = None
    delimiter: str = ","
    encoding: str | None = None
    decimal_comma: bool = False
    date_format: str | None = None
    timezone: str | None = None
    sheet: str | None = None
    # A single output may be written at the top level ...
    kind: str | None = None
    columns: dict[str, str | list[str]] = {}
    values: dict[str, dict[str, Scalar]] = {}
    constants: dict[str, Scalar] = {}
    durations: dict[str, DurationForm] = {}
    prefixes: dict[str, str] = {}
    computed: dict[str, ComputedSpec] = {}
    skip_empty: list[str] = []
    derive_segments: bool = False
    segments: SegmentsSpec | None = None
    # ... or several as [[outputs]] tables.
    outputs: list[OutputSpec] = []

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, v: str) -> str:
        v = {"tab": "\t", "\\t": "\t"}.get(v, v)
        if len(v) != 1 or v in "\"\r\n":
            raise ValueError("must be one character such as \",\", \";\", \"|\" or \"tab\" (not a quote or line end)")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                zoneinfo.ZoneInfo(v)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"is not a known IANA timezone such as \"Europe/Kyiv\" (got {v!r})") from None
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str | None) -> str | None:
        if v is not None:
            import codecs

            try:
                codecs.lookup(v)
            except LookupError:
                raise ValueError(f"is not a codec Python knows, such as \"cp1251\" (got {v!r})") from None
        return v

    def output_specs(self) -> list[OutputSpec]:
        if self.outputs:
            return self.outputs
        return [OutputSpec(**{k: getattr(self, k) for k in _OUTPUT_KEYS})]


@dataclass
class Mapping:
    name: str
    spec: MappingSpec
    outputs: list[OutputSpec]
    date_format: str | None          # strftime form, "epoch", "epoch_ms" or None (ISO-8601)


def translate_date_format(fmt: str) -> str:
    """`dd.mm.yyyy HH:MM` → `%d.%m.%Y %H:%M`; strftime forms (with `%`) and epoch/iso pass through.
    `mm`/`MM` right after an hour (`HH:`) are minutes, elsewhere months, so `dd.MM.yyyy HH:mm` works too."""
    if fmt in ("epoch", "epoch_ms", "iso") or "%" in fmt:
        return fmt
    tokens = [("yyyy", "%Y"), ("YYYY", "%Y"), ("yy", "%y"), ("YY", "%y"), ("dd", "%d"), ("DD", "%d"),
              ("HH", "%H"), ("hh", "%H"), ("ss", "%S"), ("SS", "%S")]
    out: list[str] = []
    i = 0
    while i < len(fmt):
        if fmt[i:i + 2] in ("mm", "MM"):
            after_hour = out[-2:] == ["%H", ":"] or out[-1:] == ["%H"]
            out.append("%M" if after_hour else "%m")
            i += 2
            continue
        for tok, code in tokens:
            if fmt.startswith(tok, i):
                out.append(code)
                i += len(tok)
                break
        else:
            if fmt[i].isalpha():
                raise ValueError(f"has `{fmt[i]}` at position {i + 1}, which is not one of yyyy, yy, mm, dd, "
                                 "HH, MM (minutes after HH:), ss")
            out.append(fmt[i])
            i += 1
    return "".join(out)


def load_mapping(text: str | None, name: str = "mapping.toml") -> Mapping:
    """Parse and validate a mapping; every fault is a ConfigError naming the key (exit 2)."""
    if not text:
        raise ConfigError(f"Attempted to ingest with a mapping, but the mapping {name} is empty",
                          f"Write at least `kind` and a [columns] table; see {DOCS}")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Attempted to read the mapping {name}, but it is not valid TOML ({exc})",
                          f"Fix the syntax at that position; see {DOCS}") from None
    try:
        spec = MappingSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _loc(first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = "is not a key of the mapping language"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"Attempted to read the mapping {name}, but `{where}` {msg}{more}",
                          f"See {DOCS} for every key and its form") from None
    date_format = None
    if spec.date_format is not None:
        try:
            date_format = translate_date_format(spec.date_format)
        except ValueError as exc:
            raise ConfigError(f"Attempted to read the mapping {name}, but `date_format` {spec.date_format!r} {exc}",
                              "Write it as `dd.mm.yyyy HH:MM`, a strftime form such as `%d.%m.%Y %H:%M`, "
                              "\"epoch\" or \"epoch_ms\"") from None
        if date_format == "iso":
            date_format = None
    if spec.outputs:
        given = [k for k in _OUTPUT_KEYS if k in raw]
        if given:
            raise ConfigError(f"Attempted to read the mapping {name}, but it has both [[outputs]] and a top-level "
                              f"`{given[0]}`", "Move every output key into its [[outputs]] table")
    elif spec.kind is None:
        raise ConfigError(f"Attempted to read the mapping {name}, but it names no `kind`",
                          "Add `kind = \"tickets\"` (or calls, csat_responses, ...), or [[outputs]] tables")
    outputs = spec.output_specs()
    for i, out in enumerate(outputs):
        _check_output(name, out, f"outputs[{i}]." if spec.outputs else "")
    return Mapping(name, spec, sorted(outputs, key=lambda o: KINDS[o.kind].order), date_format)


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "list[str]", "function-after[_one_char(), str]"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _check_output(name: str, out: OutputSpec, at: str) -> None:
    def fail(key: str, why: str, hint: str) -> ConfigError:
        return ConfigError(f"Attempted to read the mapping {name}, but `{at}{key}` {why}", hint)

    spec = KINDS.get(out.kind)
    if spec is None:
        raise fail("kind", f"is {out.kind!r}, which is no canonical kind", "Use one of: " + ", ".join(KINDS))
    names = spec.names
    sources: dict[str, str] = {}
    for src, targets in out.columns.items():
        for target in [targets] if isinstance(targets, str) else targets:
            if target not in names:
                raise fail(f"columns.\"{src}\"", f"maps to `{target}`, which the {out.kind} contract does not have",
                           "Use one of: " + ", ".join(names))
            if target in sources:
                raise fail(f"columns.\"{src}\"", f"maps to `{target}`, which `{sources[target]}` already fills",
                           "Map each contract column from one source column")
            sources[target] = src
    provided = set(sources)
    for section, table in (("constants", out.constants), ("computed", out.computed)):
        for target in table:
            if target not in names:
                raise fail(f"{section}.{target}", f"names a column the {out.kind} contract does not have",
                           "Use one of: " + ", ".join(names))
            if target in provided:
                raise fail(f"{section}.{target}", "fills a column that another entry already fills",
                           "Fill each contract column once: from [columns], [constants] or [computed]")
            provided.add(target)
    for section, table in (("values", out.values), ("durations", out.durations), ("prefixes", out.prefixes)):
        for target in table:
            if target not in sources:
                raise fail(f"{section}.{target}", "applies to a column that no [columns] entry maps",
                           f"Map a source column to `{target}` under [columns] first")
    for target in out.durations:
        if spec.column(target).dtype not in ("int", "float"):
            raise fail(f"durations.{target}", f"converts `{target}`, which is not a number in the contract",
                       "Durations turn into seconds: use them for *_s columns")
    for target, comp in out.computed.items():
        if spec.column(target).dtype != "timestamp":
            raise fail(f"computed.{target}", "computes a column that is not a timestamp",
                       "[computed] adds seconds to a timestamp column")
        if comp.base in out.computed:
            raise fail(f"computed.{target}.base", "is itself computed", "Base a computed column on a mapped one")
        if comp.base in provided and (comp.base not in sources or spec.column(comp.base).dtype != "timestamp"):
            raise fail(f"computed.{target}.base", f"is `{comp.base}`, which this output fills but not as a "
                       "timestamp from [columns]", "Name a timestamp contract column mapped under [columns], "
                       "or a source column holding a time")
        for cond in comp.when:
            if cond not in provided:
                raise fail(f"computed.{target}.when", f"tests `{cond}`, which this output does not fill",
                           "Test a column filled under [columns] or [constants]")
    for target in out.skip_empty:
        if target not in provided:
            raise fail("skip_empty", f"lists `{target}`, which this output does not fill", "List filled columns")
    missing = [c for c in spec.required if c not in provided]
    if missing:
        raise fail("kind", f"is {out.kind}, which needs {', '.join(missing)}, but no [columns], [constants] or "
                   "[computed] entry fills it", f"Map a source column to it, or set it under [constants] ({DOCS})")
    if out.derive_segments:
        if out.kind != "tickets":
            raise fail("derive_segments", f"is set on a {out.kind} output", "Only a tickets output derives segments")
        if out.segments is None:
            raise fail("segments", "is missing, but derive_segments needs the resolved time",
                       "Add [segments] with resolved_at = \"<source column of the resolved time>\"")
        if "assignee_id" not in provided:
            raise fail("derive_segments", "is set, but no column fills assignee_id",
                       "Map the export's assignee/agent column to assignee_id")
    elif out.segments is not None:
        raise fail("segments", "is given without derive_segments = true", "Set derive_segments = true or drop it")


# --- reading the source ----------------------------------------------------------------------------

@dataclass
class _Source:
    label: str
    header: list[str]                 # normalised names (stripped, lower-case), in file order
    frame: pl.DataFrame               # text columns + _line
    problems: list[Problem]
    sheet: str | None = None
    delimiter: str = ","
    raws: dict[int, str] = field(default_factory=dict)

    def find(self, name: str) -> tuple[pl.Expr, int] | None:
        """A source column by its (case-insensitive) name; `a.b.c` reaches into JSON held in column `a`."""
        key = name.replace("\ufeff", "").strip().lower()
        if key in self.header:
            return pl.col(key), self.header.index(key) + 1
        parts = key.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            head = ".".join(parts[:cut])
            if head in self.header:
                path = "$" + "".join(f"['{p}']" if not p.isidentifier() else f".{p}" for p in parts[cut:])
                return pl.col(head).str.json_path_match(path), self.header.index(head) + 1
        return None

    def raw(self, line: int) -> str | None:
        if line not in self.raws:
            rows = self.frame.filter(pl.col(LINE) == line)
            if rows.height == 0:
                return None
            values = rows.row(0, named=True)
            self.raws[line] = masked_raw(self.delimiter.join("" if values[h] is None else str(values[h])
                                                              for h in self.header))
        return self.raws[line]

    def problem(self, rule_id: str, line: int, column: int | None, column_name: str | None, message: str) -> Problem:
        return Problem(rule_id, self.label, line=line, column=column, column_name=column_name,
                       message=message, raw=self.raw(line), sheet=self.sheet)

    def where(self, line: int, column: int | None) -> str:
        if self.sheet:
            return f"{self.label}:{self.sheet}!{line}"
        return f"{self.label}:{line}" + (f":{column}" if column else "")


def _source_format(mapping: Mapping, path: Path) -> Format:
    if mapping.spec.format is not None:
        return mapping.spec.format
    return _EXTENSIONS.get(path.suffix.lower(), "csv")


def _read_source(data: bytes, ctx: Any, mapping: Mapping) -> _Source:
    spec = mapping.spec
    label = ctx.label
    fmt = _source_format(mapping, Path(ctx.path))
    if fmt == "excel":
        return _read_excel(data, label, spec.sheet)
    cfg = ctx.config.ingest
    parsed = read_file(Path("source" + _READER_SUFFIX[fmt]), data, encoding=spec.encoding or cfg.encoding,
                       max_field_bytes=cfg.max_field_bytes, file_label=label, delimiter=spec.delimiter)
    frame = parsed.frame
    text = [c for c in parsed.header if frame.schema[c] != pl.Utf8]
    if text:  # Parquet: typed columns become text the conversions below can read
        frame = frame.with_columns(_as_text(c, frame.schema[c]) for c in text)
    return _Source(label, parsed.header, frame, list(parsed.problems), delimiter=spec.delimiter)


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            return col.dt.convert_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%.f+00:00").alias(name)
        return col.dt.to_string("%Y-%m-%dT%H:%M:%S%.f").alias(name)
    if dtype == pl.Date:
        return col.dt.to_string("%Y-%m-%d").alias(name)
    if isinstance(dtype, pl.Struct):
        return col.struct.json_encode().alias(name)
    if dtype.is_nested() or dtype == pl.Binary:
        import json

        return col.map_elements(lambda v: json.dumps(v, ensure_ascii=False, default=str), return_dtype=pl.Utf8
                                ).alias(name)
    return col.cast(pl.Utf8).alias(name)


def _read_excel(data: bytes, label: str, sheet: str | None) -> _Source:
    if not data:
        raise FileRejected(f"Attempted to read {label}, but the file has 0 bytes", rule("empty_file").hint,
                           rule_id="empty_file", location=label)
    try:
        import fastexcel
    except ModuleNotFoundError:
        raise FileRejected(f"Attempted to read the Excel file {label}, but the Excel reader (fastexcel) is not "
                           "installed", "Install opkpi with its Excel dependency, or save the sheet as CSV",
                           rule_id="binary_file", location=label) from None
    try:
        book = fastexcel.read_excel(data)
        names = list(book.sheet_names)
    except Exception as exc:  # calamine raises its own error types for a file that is no workbook
        raise FileRejected(f"Attempted to read {label} as an Excel workbook, but it cannot be opened "
                           f"({masked(str(exc).splitlines()[0][:160]) if str(exc) else type(exc).__name__})",
                           "Save it as .xlsx from Excel, or export CSV and set format = \"csv\" in the mapping",
                           rule_id="binary_file", location=label) from None
    name = sheet if sheet is not None else (names[0] if names else None)
    if name not in names:
        raise FileRejected(f"Attempted to read the sheet `{masked(str(sheet))}` of {label}, but the workbook has "
                           f"only {', '.join(masked(n) for n in names) or 'no sheets'}",
                           "Set `sheet` in the mapping to one of those names", rule_id="missing_required_column",
                           location=f"{label}:{sheet}!1")
    frame = pl.read_excel(io.BytesIO(data), sheet_name=name, engine="calamine", infer_schema_length=0,
                          drop_empty_rows=False, drop_empty_cols=False, raise_if_empty=False)
    header: list[str] = []
    for i, col in enumerate(frame.columns, start=1):
        clean = col.replace("\ufeff", "").strip().lower()
        clean = clean or f"column_{i}"
        if clean.startswith("__unnamed__"):
            clean = f"column_{i}"
        if clean in header or clean == LINE:
            raise FileRejected(f"Attempted to read the header at {label}:{name}!1, but the column name "
                               f"`{masked(clean)}` appears a second time", rule("duplicate_column").hint,
                               rule_id="duplicate_column", location=f"{label}:{name}!1")
        header.append(clean)
    frame = frame.rename(dict(zip(frame.columns, header, strict=True)))
    frame = frame.with_columns(pl.col(c).cast(pl.Utf8) for c in header)
    frame = frame.with_columns(
        *(pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c) for c in header),
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(LINE))
    if header:
        frame = frame.filter(~pl.all_horizontal(pl.col(c).is_null() for c in header))
    return _Source(label, header, frame, [], sheet=name)


# --- building one output -----------------------------------------------------------------------------

@dataclass
class _Col:
    name: str                    # contract column
    source: str | None           # source column name as written in the mapping
    index: int | None            # its 1-based position in the source


def _text_value(expr: pl.Expr) -> pl.Expr:
    text = expr.cast(pl.Utf8).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def _scalar(v: Scalar) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _value_map(expr: pl.Expr, table: dict[str, Scalar]) -> pl.Expr:
    lookup = {k.strip().lower(): _scalar(v) for k, v in table.items() if k != "*"}
    default = pl.lit(_scalar(table["*"])) if "*" in table else expr
    mapped = expr.str.to_lowercase().replace_strict(lookup, default=default, return_dtype=pl.Utf8)
    mapped = pl.when(expr.is_null()).then(None).otherwise(mapped)
    return pl.when(mapped.str.strip_chars() == "").then(None).otherwise(mapped)


def _number_text(expr: pl.Expr, decimal_comma: bool) -> pl.Expr:
    if not decimal_comma:
        return expr
    return expr.str.replace_all(r"[\s\u00a0\u202f']", "").str.replace(",", ".", literal=True)


def _duration_seconds(expr: pl.Expr, form: str, decimal_comma: bool) -> pl.Expr:
    if form in _UNIT_SECONDS:
        num = _number_text(expr, decimal_comma)
        ok = num.str.contains(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
        return pl.when(ok).then(num.cast(pl.Float64, strict=False) * _UNIT_SECONDS[form]).otherwise(None)
    parts = expr.str.extract_groups(_DURATION_RE[form])
    if form == "hh:mm":
        secs = parts.struct.field("1").cast(pl.Float64) * 3600 + parts.struct.field("2").cast(pl.Float64) * 60
    elif form == "hh:mm:ss":
        secs = (parts.struct.field("1").cast(pl.Float64) * 3600 + parts.struct.field("2").cast(pl.Float64) * 60
                + parts.struct.field("3").cast(pl.Float64))
    else:
        secs = parts.struct.field("1").cast(pl.Float64) * 60 + parts.struct.field("2").cast(pl.Float64)
    return secs


def _seconds_text(secs: pl.Expr) -> pl.Expr:
    whole = secs == secs.round(0)
    return pl.when(secs.is_null()).then(None).when(whole).then(secs.cast(pl.Int64).cast(pl.Utf8)
                                                               ).otherwise(secs.cast(pl.Utf8))


def _parse_time(text: pl.Expr, fmt: str | None, tag: str) -> list[list[pl.Expr]]:
    """Stages giving `<tag>l` (naive local datetime), `<tag>u` (UTC when the value carried an offset or
    is an epoch) and `<tag>b` (present but unreadable)."""
    if fmt in ("epoch", "epoch_ms"):
        num = text.cast(pl.Float64, strict=False)
        scale = 1_000_000 if fmt == "epoch" else 1_000
        utc = pl.when(num == 0).then(None).otherwise((num * scale).cast(pl.Int64, strict=False)).cast(_UTC)
        return [[pl.lit(None, dtype=pl.Datetime("us")).alias(tag + "l"), utc.alias(tag + "u"),
                 (text.is_not_null() & num.is_null()).alias(tag + "b")]]
    if fmt is not None:
        if "%z" in fmt or "%Z" in fmt:
            aware = text.str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False)
            return [[pl.lit(None, dtype=pl.Datetime("us")).alias(tag + "l"), aware.alias(tag + "u"),
                     (text.is_not_null() & aware.is_null()).alias(tag + "b")]]
        local = text.str.strptime(pl.Datetime("us"), fmt, strict=False)
        return [[local.alias(tag + "l"), pl.lit(None, dtype=_UTC).alias(tag + "u"),
                 (text.is_not_null() & local.is_null()).alias(tag + "b")]]
    parts = text.str.extract_groups(_ISO_RE)
    day, clock, offset = (parts.struct.field(f) for f in ("d", "t", "o"))
    clock = pl.when(clock.str.len_chars() == 5).then(clock + ":00").otherwise(clock)
    local = pl.concat_str(day, pl.lit("T"), clock).str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f",
                                                                strict=False)
    digits = offset.str.replace(":", "", literal=True)
    hours = digits.str.slice(1, 2).cast(pl.Int64, strict=False)
    mins = digits.str.slice(3, 2).cast(pl.Int64, strict=False)
    sign = pl.when(digits.str.starts_with("-")).then(-1).otherwise(1)
    minutes = pl.when(offset == "Z").then(0).when((hours < 24) & (mins < 60)).then(sign * (hours * 60 + mins))
    utc = pl.when(offset.is_not_null()).then((local - pl.duration(minutes=minutes)).dt.replace_time_zone("UTC"))
    bad = text.is_not_null() & (local.is_null() | (offset.is_not_null() & minutes.is_null()))
    return [[pl.when(offset.is_null()).then(local).alias(tag + "l"), utc.alias(tag + "u"), bad.alias(tag + "b")]]


def _resolve_time(tag: str, timezone: str | None) -> list[list[pl.Expr]]:
    """From `<tag>l/u/b` to `<tag>v` (UTC), `<tag>e` (quarantine rule) and `<tag>w` (warning)."""
    local, utc, bad = pl.col(tag + "l"), pl.col(tag + "u"), pl.col(tag + "b")
    if timezone is None:
        early = pl.lit(None, dtype=_UTC)
        naive_rule: pl.Expr = pl.lit("naive_timestamp")
        ambiguous = pl.lit(False)
    else:
        early = local.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null"
                                           ).dt.convert_time_zone("UTC")
        late = local.dt.replace_time_zone(timezone, ambiguous="latest", non_existent="null"
                                          ).dt.convert_time_zone("UTC")
        naive_rule = pl.when(early.is_null()).then(pl.lit("nonexistent_local_time"))
        ambiguous = early != late
    error = pl.when(bad).then(pl.lit("type_mismatch")).when(local.is_not_null()).then(naive_rule)
    warn = pl.when(~bad & local.is_not_null() & ambiguous).then(pl.lit("ambiguous_local_time"))
    value = pl.when(utc.is_not_null()).then(utc).when(local.is_not_null() & error.is_null()).then(early)
    return [[value.cast(_UTC).alias(tag + "v"), error.cast(pl.Utf8).alias(tag + "e"),
             warn.cast(pl.Utf8).alias(tag + "w")]]


def _iso(expr: pl.Expr) -> pl.Expr:
    whole = expr.dt.microsecond() == 0
    return (pl.when(whole).then(expr.dt.to_string("%Y-%m-%dT%H:%M:%S+00:00"))
            .otherwise(expr.dt.to_string("%Y-%m-%dT%H:%M:%S%.6f+00:00")))


_WHY = {
    "type_mismatch": "the value cannot be read",
    "naive_timestamp": "the time has no UTC offset and neither the mapping's `timezone` nor ingest.timezone is set",
    "nonexistent_local_time": "that local time does not exist in {tz} (skipped by a DST change)",
    "ambiguous_local_time": "that local time occurs twice in {tz} (DST fall-back); the earlier offset was taken",
}


class _Builder:
    def __init__(self, mapping: Mapping, out: OutputSpec, source: _Source, timezone: str | None,
                 skip_lines: set[int]) -> None:
        self.mapping, self.out, self.src, self.tz = mapping, out, source, timezone
        self.kind: KindSpec = KINDS[out.kind]
        self.skip_lines = skip_lines
        self.cols: dict[str, _Col] = {}
        self.problems: list[Problem] = []
        self.bad_lines: set[int] = set()

    # -- locating source columns --
    def _need(self, src: str, *, required: bool, what: str) -> tuple[pl.Expr, int] | None:
        found = self.src.find(src)
        if found is None and required:
            where = f"{self.src.label}:{self.src.sheet}!1" if self.src.sheet else f"{self.src.label}:1"
            raise FileRejected(f"Attempted to read the column `{masked(src)}` ({what} in {self.mapping.name}) at "
                               f"{where}, but the header has no such column",
                               "Check the export's columns against the mapping, or fix the mapping's [columns]",
                               rule_id="missing_required_column", location=where)
        return found

    def build(self) -> tuple[ParsedFile, pl.DataFrame]:
        out, kind = self.out, self.kind
        dc = self.mapping.spec.decimal_comma
        frame = self.src.frame.filter(~pl.col(LINE).is_in(list(self.skip_lines))) if self.skip_lines \
            else self.src.frame
        exprs: list[pl.Expr] = []
        times: list[str] = []          # contract timestamp columns parsed from the source
        for src, targets in out.columns.items():
            for target in [targets] if isinstance(targets, str) else targets:
                column = kind.column(target)
                found = self._need(src, required=column.required, what=f"mapped to {target}")
                if found is None:
                    continue
                expr, index = found
                self.cols[target] = _Col(target, src, index)
                value = _text_value(expr)
                if target in out.values:
                    value = _value_map(value, out.values[target])
                if target in out.prefixes:
                    value = pl.when(value.is_null()).then(None).otherwise(pl.lit(out.prefixes[target]) + value)
                if target in out.durations:
                    secs = _duration_seconds(value, out.durations[target], dc)
                    exprs.append(pl.when(value.is_not_null() & secs.is_null()).then(pl.lit("type_mismatch"))
                                 .alias(f"__e_{target}"))
                    value = _seconds_text(secs)
                elif column.dtype in ("int", "float"):
                    value = _number_text(value, dc)
                if column.dtype == "timestamp":
                    times.append(target)
                    exprs.append(value.alias(f"__t_{target}"))
                else:
                    exprs.append(value.alias(target))
        for target, v in out.constants.items():
            self.cols[target] = _Col(target, None, None)
            exprs.append(pl.lit(_scalar(v), dtype=pl.Utf8).alias(target))
        # hidden source columns: segment times and computed seconds
        hidden_times: dict[str, tuple[str, int]] = {}
        if out.derive_segments and out.segments is not None:
            for key in ("resolved_at", "first_reply_at"):
                src = getattr(out.segments, key)
                if src is None:
                    continue
                found = self._need(src, required=key == "resolved_at", what=f"segments.{key}")
                if found is not None:
                    hidden_times[f"__seg_{key}"] = (src, found[1])
                    exprs.append(_text_value(found[0]).alias(f"__t___seg_{key}"))
        addends: dict[str, tuple[str, int]] = {}
        active_computed: dict[str, ComputedSpec] = {}
        bases: dict[str, str] = {}     # computed column -> tag key of its base time
        for target, comp in out.computed.items():
            required = kind.column(target).required
            ok = comp.base in self.cols
            if ok:
                bases[target] = comp.base
            else:   # a source column holding a time
                found = self._need(comp.base, required=required, what=f"computed.{target}.base")
                if found is not None:
                    key = f"__base_{target}"
                    hidden_times[key] = (comp.base, found[1])
                    exprs.append(_text_value(found[0]).alias(f"__t_{key}"))
                    bases[target] = key
                    ok = True
            for src in comp.plus_seconds:
                found = self._need(src, required=required and ok, what=f"computed.{target}.plus_seconds")
                if found is None:
                    ok = False
                    continue
                if src not in {a[0] for a in addends.values()}:
                    key = f"__s_{len(addends)}"
                    addends[key] = (src, found[1])
                    exprs.append(_number_text(_text_value(found[0]), dc).alias(key))
            if ok:
                active_computed[target] = comp
                base_index = self.cols[comp.base].index if comp.base in self.cols else hidden_times[bases[target]][1]
                self.cols[target] = _Col(target, None, base_index)
        frame = frame.select(pl.col(LINE), *exprs) if exprs else frame.select(pl.col(LINE))
        # skip_empty: rows without those values are no records of this output
        if out.skip_empty:
            present = [c for c in out.skip_empty if c in frame.columns or f"__t_{c}" in frame.columns]
            if present:
                frame = frame.filter(pl.all_horizontal(
                    pl.col(c if c in frame.columns else f"__t_{c}").is_not_null() for c in present))
        # timestamps: parse, localise, flag
        tags = {t: f"__p{i}_" for i, t in enumerate([*times, *hidden_times])}
        lazy = frame.lazy()
        for t, tag in tags.items():
            text = pl.col(f"__t_{t}")
            for stage in (*_parse_time(text, self.mapping.date_format, tag), *_resolve_time(tag, self.tz)):
                lazy = lazy.with_columns(stage)
        # seconds for computed columns
        for key in addends:
            num = pl.col(key)
            ok = num.str.contains(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
            lazy = lazy.with_columns(
                pl.when(ok).then(num.cast(pl.Float64, strict=False)).alias(key + "v"),
                pl.when(num.is_not_null() & ~ok).then(pl.lit("type_mismatch")).alias(key + "e"))
        frame = lazy.collect()
        src_of = {src: key for key, (src, _) in addends.items()}
        for target, comp in active_computed.items():
            base = pl.col(tags[bases[target]] + "v")
            total = pl.lit(0.0)
            for src in comp.plus_seconds:
                total = total + pl.col(src_of[src] + "v")
            value = base + pl.duration(microseconds=(total * 1_000_000).round(0).cast(pl.Int64))
            for cond, want in comp.when.items():
                col = pl.col(cond) if cond in frame.columns else pl.col(f"__t_{cond}")
                value = pl.when(col == _scalar(want)).then(value)
            frame = frame.with_columns(value.cast(_UTC).alias(f"__c_{target}"))
        # problems of the conversions, at the source column
        fmt = self.mapping.spec.date_format
        time_why = (f"the value is not a time written as `{fmt}` (date_format)" if fmt
                    else "the value is not an ISO-8601 time such as 2026-10-25 03:30:00")
        checks: list[tuple[str, str, int | None, str]] = []   # (flag column, why, source index, name)
        for t, tag in tags.items():
            idx = self.cols[t].index if t in self.cols else hidden_times[t][1]
            name = t if t in self.cols else hidden_times[t][0]
            checks += [(tag + "e", time_why, idx, name), (tag + "w", time_why, idx, name)]
        for target, form in out.durations.items():
            if f"__e_{target}" in frame.columns:
                checks.append((f"__e_{target}", f"the value is not a duration written as {form} (durations)",
                               self.cols[target].index, target))
        for key, (src, idx) in addends.items():
            checks.append((key + "e", "the value is not a number of seconds", idx, src))
        self._flag_problems(frame, checks)
        # assemble the canonical text frame
        final = [pl.col(LINE)]
        header: list[str] = []
        for c in kind.columns:
            if c.name in tags:
                final.append(_iso(pl.col(tags[c.name] + "v")).alias(c.name))
            elif c.name in active_computed:
                final.append(_iso(pl.col(f"__c_{c.name}")).alias(c.name))
            elif c.name in frame.columns and c.name in self.cols:
                final.append(pl.col(c.name))
            else:
                continue
            header.append(c.name)
        hidden = [pl.col(tags[h] + "v").alias(h) for h in hidden_times if h.startswith("__seg_")]
        canon = frame.select(*final, *hidden)
        canon = canon.filter(~pl.col(LINE).is_in(list(self.bad_lines))) if self.bad_lines else canon
        canon = self._precheck(canon, header)
        parsed = ParsedFile(self.src.label, "dialect", header, canon.select(*header, LINE),
                            sorted(self.problems, key=lambda p: (p.line or 0, p.column or 0)))
        return parsed, canon

    def _flag_problems(self, frame: pl.DataFrame, checks: list[tuple[str, str, int | None, str]]) -> None:
        flags = [c for c, *_ in checks if c in frame.columns]
        if not flags:
            return
        hits = frame.filter(pl.any_horizontal(pl.col(f).is_not_null() for f in flags))
        for row in hits.iter_rows(named=True):
            line = row[LINE]
            for flag, why, idx, name in checks:
                rule_id = row.get(flag)
                if rule_id is None:
                    continue
                self._add(rule_id, line, idx, name, why if rule_id == "type_mismatch" else None)

    def _add(self, rule_id: str, line: int, idx: int | None, name: str, why: str | None = None) -> None:
        where = self.src.where(line, idx)
        text = why or _WHY.get(rule_id, "the value cannot be read").format(tz=self.tz)
        target = self.cols.get(name)
        shown = f"`{masked(target.source)}` (mapped to {name})" if target and target.source else f"`{masked(name)}`"
        self.problems.append(self.src.problem(rule_id, line, idx, name,
                                              f"Attempted to read {shown} at {where}, but {text}"))
        if rule(rule_id).action == "quarantine":
            self.bad_lines.add(line)

    def _precheck(self, canon: pl.DataFrame, header: list[str]) -> pl.DataFrame:
        """Contract types, allowed sets and required values of source-mapped columns, reported at the
        source column; failing rows leave the output here so the loader does not report them again."""
        from pipeline.ingest.casting import EXPECTED_FORMS

        if canon.height == 0:
            return canon
        kind = self.kind
        probe = ParsedFile(self.src.label, "dialect", header, canon.select(*header, LINE))
        _, cast_problems = cast_frame(probe, kind, timezone="UTC")
        for p in cast_problems:
            if p.line is None or p.column_name is None:
                continue
            col = self.cols.get(p.column_name)
            dtype = kind.column(p.column_name).dtype
            self._add(p.rule_id, p.line, col.index if col else None, p.column_name,
                      f"the value is not {EXPECTED_FORMS[dtype]}" if p.rule_id == "type_mismatch" else None)
        checks = []
        for c in kind.columns:
            col = self.cols.get(c.name)
            if col is None or col.source is None or c.name not in canon.columns:
                continue
            if c.allowed:
                checks.append((c, pl.col(c.name).is_not_null() & ~pl.col(c.name).is_in(list(c.allowed)),
                               "allowed_value"))
            if c.required:
                checks.append((c, pl.col(c.name).is_null(), "required_value"))
        if checks:
            flagged = canon.select(pl.col(LINE), *(e.alias(f"__k{i}") for i, (_, e, _) in enumerate(checks)),
                                   *(pl.col(c.name).alias(f"__v{i}") for i, (c, _, _) in enumerate(checks)))
            hits = flagged.filter(pl.any_horizontal(pl.col(f"__k{i}") for i in range(len(checks))))
            for row in hits.iter_rows(named=True):
                for i, (c, _, rule_id) in enumerate(checks):
                    if not row[f"__k{i}"]:
                        continue
                    if rule_id == "allowed_value":
                        value = masked(str(row[f"__v{i}"]))
                        value = value if len(value) <= _ECHO_CHARS else value[:_ECHO_CHARS] + "…"
                        why = (f"`{value}` is not one of {', '.join(c.allowed)}; map it under "
                               f"[values.{c.name}] in {self.mapping.name}")
                    else:
                        why = "it is empty and the contract requires a value"
                    self._add(rule_id, row[LINE], self.cols[c.name].index, c.name, why)
        return canon.filter(~pl.col(LINE).is_in(list(self.bad_lines))) if self.bad_lines else canon


# --- derived ticket events -----------------------------------------------------------------------------

def _events(tickets: pl.DataFrame, label: str) -> ParsedFile:
    """create (customer), assign (to the final assignee), reply (optional, by the assignee), solve (by the
    assignee, or system when unassigned, only for solved/closed tickets) per ticket row."""
    spec = KINDS["ticket_events"]
    has = set(tickets.columns)
    status = pl.col("status") if "status" in has else pl.lit(None, dtype=pl.Utf8)
    system = pl.col("source_system") if "source_system" in has else pl.lit(None, dtype=pl.Utf8)
    assignee = pl.col("assignee_id")
    solved = pl.col("__seg_resolved_at").is_not_null() & (status.is_null() | status.is_in(["solved", "closed"]))
    reply_at = pl.col("__seg_first_reply_at") if "__seg_first_reply_at" in has else pl.lit(None, dtype=_UTC)

    def event(kind: str, at: pl.Expr, author: pl.Expr, author_type: pl.Expr, public: pl.Expr,
              target: pl.Expr, keep: pl.Expr) -> pl.DataFrame:
        return tickets.filter(keep).select(
            (pl.col("ticket_id") + f":{kind}").alias("event_id"), pl.col("ticket_id"), at.alias("at"),
            pl.lit(kind).alias("event_type"), author.cast(pl.Utf8).alias("author_id"),
            author_type.alias("author_type"), public.alias("is_public"), target.cast(pl.Utf8).alias("assignee_id"),
            system.alias("source_system"), (pl.col(LINE) * 10 + _EVENT_CODES[kind]).alias(LINE))

    none = pl.lit(None, dtype=pl.Utf8)
    parts = [
        event("create", pl.col("created_at"), none, pl.lit("customer"), none, none, pl.col("created_at").is_not_null()),
        event("assign", pl.col("created_at"), none, pl.lit("system"), none, assignee,
              assignee.is_not_null() & pl.col("created_at").is_not_null()),
        event("reply", _iso(reply_at), assignee, pl.lit("operator"), pl.lit("true"), none,
              assignee.is_not_null() & reply_at.is_not_null()),
        event("solve", _iso(pl.col("__seg_resolved_at")), assignee,
              pl.when(assignee.is_null()).then(pl.lit("system")).otherwise(pl.lit("operator")), none, none, solved),
    ]
    frame = pl.concat(parts).sort(LINE)
    header = [c.name for c in spec.columns if c.name in frame.columns]
    return ParsedFile(label, "dialect", header, frame.select(*header, LINE))


# --- entry point -------------------------------------------------------------------------------------

def read(data: bytes, ctx: Any) -> list[tuple[str, ParsedFile]]:
    options = ctx.options or {}
    mapping = load_mapping(options.get("mapping"), options.get("mapping_name") or "mapping.toml")
    source = _read_source(data, ctx, mapping)
    timezone = mapping.spec.timezone or ctx.config.ingest.timezone
    skip = {p.line for p in source.problems if p.line is not None and p.action == "quarantine"}
    results: list[tuple[str, ParsedFile]] = []
    for i, out in enumerate(mapping.outputs):
        builder = _Builder(mapping, out, source, timezone, set(skip))
        parsed, canon = builder.build()
        if i == 0:
            parsed.problems = sorted(source.problems + parsed.problems, key=lambda p: (p.line or 0, p.column or 0))
        skip |= builder.bad_lines
        results.append((out.kind, parsed))
        if out.derive_segments:
            results.append(("ticket_events", _events(canon, source.label)))
    return results
