"""Check a parsed file's header against its kind and cast its columns to the contract types.

All casts are vectorised Polars expressions; Python only builds `Problem`s for the failing cells.
Local times become UTC here, once (DESIGN §5).
"""

from __future__ import annotations

import json

import polars as pl

from pipeline.core.errors import FileRejected
from pipeline.ingest.contract import Column, DType, KindSpec
from pipeline.ingest.problems import Problem
from pipeline.ingest.readers import LINE, ParsedFile, masked, masked_raw
from pipeline.ingest.rules import rule

UTC_TYPE = pl.Datetime("us", "UTC")
POLARS_TYPES: dict[DType, pl.DataType] = {
    "str": pl.Utf8(), "int": pl.Int64(), "float": pl.Float64(), "bool": pl.Boolean(),
    "timestamp": UTC_TYPE, "date": pl.Date(),
}
EXPECTED_FORMS: dict[DType, str] = {
    "str": "text",
    "int": "a whole number such as 12 or 12.0",
    "float": "a number with a decimal point such as 12.5",
    "bool": "one of true/false, 1/0, yes/no, t/f, y/n",
    "date": "a date written YYYY-MM-DD",
    "timestamp": "an ISO-8601 timestamp such as 2026-10-25T03:30:00+03:00",
}
_BOOLS = {"true": True, "t": True, "yes": True, "y": True, "1": True,
          "false": False, "f": False, "no": False, "n": False, "0": False}
_INT_RE = r"^([+-]?\d+)(?:\.0*)?$"
_FLOAT_RE = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
_TS_RE = (r"^(?P<d>\d{4}-\d{2}-\d{2})[T ](?P<t>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)"
          r"(?P<o>Z|[+-]\d{2}:?\d{2})?$")
_LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S%.f"


# --- header -----------------------------------------------------------------------------------

def check_header(parsed: ParsedFile, spec: KindSpec, *, strict: bool = False) -> list[Problem]:
    """Reject a file lacking required columns; report (or with `strict`, reject) extra ones."""
    missing = [name for name in spec.required if name not in parsed.header]
    if missing:
        column = len(parsed.header) + 1
        where = f"{parsed.file}:1:{column}"
        raise FileRejected(
            f"Attempted to read a {spec.name} file at {where}, but the header lacks the required "
            f"column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            rule("missing_required_column").hint, rule_id="missing_required_column", location=where)
    extras = [_extra_problem(parsed, spec, i, name)
              for i, name in enumerate(parsed.header, start=1) if name not in spec.names]
    if extras and strict:
        first = extras[0]
        raise FileRejected(first.message + " and --strict is set", "Drop the column, map it with --mapping, "
                           "or run without --strict", rule_id="extra_column", location=first.location)
    return extras


def _extra_problem(parsed: ParsedFile, spec: KindSpec, index: int, name: str) -> Problem:
    shown = masked(name)
    return Problem("extra_column", parsed.file, line=1, column=index, column_name=shown,
                   message=f"Attempted to read column `{shown}` at {parsed.file}:1:{index}, but the "
                           f"{spec.name} contract has no such column, so it is ignored")


# --- casting ----------------------------------------------------------------------------------

# A cast is a few `with_columns` steps over temporary columns named `<tag><letter>`: each shared
# sub-result (parsed parts, local time, UTC conversions) is computed once instead of once per use.
# The last step yields `<tag>v` (typed value), `<tag>e` (quarantine rule id) and `<tag>w` (warning).
Stages = list[list[pl.Expr]]
_NO_RULE = pl.lit(None, dtype=pl.Utf8)


def cast_frame(parsed: ParsedFile, spec: KindSpec, *, timezone: str | None) -> tuple[pl.DataFrame, list[Problem]]:
    """Contract columns in contract order plus `_line`; rows with a failing cell are left out."""
    schema = parsed.frame.schema
    present = [c for c in spec.columns if c.name in schema]
    plans = [_cast_column(c.name, schema[c.name], c.dtype, timezone, f"__c{i}_") for i, c in enumerate(present)]
    lazy = parsed.frame.lazy().with_row_index("__pos")
    for step in range(max((len(p) for p in plans), default=0)):
        exprs = [e for plan in plans if step < len(plan) for e in plan[step]]
        lazy = lazy.with_columns(exprs)
    typed = lazy.collect()
    problems = _problems(parsed, typed, present, timezone)
    errors = [pl.col(f"__c{i}_e").is_not_null() for i in range(len(present))]
    keep = ~pl.any_horizontal(errors) if errors else pl.lit(True)
    tags = {c.name: f"__c{i}_v" for i, c in enumerate(present)}
    columns = [pl.col(tags[c.name]).alias(c.name) if c.name in tags
               else pl.lit(None, dtype=POLARS_TYPES[c.dtype]).alias(c.name) for c in spec.columns]
    return typed.filter(keep).select(*columns, pl.col(LINE)), problems


def _cast_column(name: str, source: pl.DataType, dtype: DType, timezone: str | None, tag: str) -> Stages:
    """Steps casting column `name`; typed Parquet sources skip the text path when their type fits."""
    col = pl.col(name)
    if dtype == "str":
        return [[_text(col, source).alias(tag + "v"), _NO_RULE.alias(tag + "e"), _NO_RULE.alias(tag + "w")]]
    if dtype == "timestamp":
        return _timestamp(col, source, timezone, tag)
    value = _native(col, source, dtype)
    if value is None:
        value = _FROM_TEXT[dtype](_text(col, source).str.strip_chars())
    mismatch = col.is_not_null() & pl.col(tag + "v").is_null()
    return [[value.alias(tag + "v")],
            [pl.when(mismatch).then(pl.lit("type_mismatch")).otherwise(None).alias(tag + "e"),
             _NO_RULE.alias(tag + "w")]]


def _text(expr: pl.Expr, source: pl.DataType) -> pl.Expr:
    if source == pl.Utf8:
        return expr
    if source == pl.Binary:
        return expr.map_elements(lambda b: b.decode("utf-8", "replace"), return_dtype=pl.Utf8)
    if source.is_nested():
        # Rare in contact-center exports; JSON keeps the value readable.
        return expr.map_elements(lambda v: json.dumps(v, ensure_ascii=False, default=str), return_dtype=pl.Utf8)
    return expr.cast(pl.Utf8)


def _native(expr: pl.Expr, source: pl.DataType, dtype: DType) -> pl.Expr | None:
    """A typed (Parquet) source that fits the contract type, cast without going through text."""
    if dtype == "int" and source.is_integer():
        return expr.cast(pl.Int64, strict=False)
    if dtype == "int" and (source.is_float() or source.is_decimal()):
        f = expr.cast(pl.Float64)
        whole = f.is_finite() & (f == f.round(0)) & (f.abs() < 2.0**63)
        return pl.when(whole).then(f).otherwise(None).cast(pl.Int64, strict=False)
    if dtype == "float" and source.is_numeric():
        f = expr.cast(pl.Float64)
        return pl.when(f.is_finite()).then(f).otherwise(None)
    if dtype == "bool" and source == pl.Boolean:
        return expr
    if dtype == "date" and source == pl.Date:
        return expr
    return None


def _int_from_text(text: pl.Expr) -> pl.Expr:
    # "12.0" is a whole number (spreadsheets write ints that way); "12.5" is not.
    return text.str.extract(_INT_RE, 1).cast(pl.Int64, strict=False)


def _float_from_text(text: pl.Expr) -> pl.Expr:
    f = pl.when(text.str.contains(_FLOAT_RE)).then(text).otherwise(None).cast(pl.Float64, strict=False)
    return pl.when(f.is_finite()).then(f).otherwise(None)


def _bool_from_text(text: pl.Expr) -> pl.Expr:
    return text.str.to_lowercase().replace_strict(_BOOLS, default=None, return_dtype=pl.Boolean)


def _date_from_text(text: pl.Expr) -> pl.Expr:
    return (pl.when(text.str.contains(_DATE_RE)).then(text).otherwise(None)
            .str.strptime(pl.Date, "%Y-%m-%d", strict=False))


_FROM_TEXT = {"int": _int_from_text, "float": _float_from_text, "bool": _bool_from_text,
              "date": _date_from_text}


# --- timestamps -------------------------------------------------------------------------------

def _timestamp(col: pl.Expr, source: pl.DataType, timezone: str | None, tag: str) -> Stages:
    if isinstance(source, pl.Datetime) and source.time_zone is not None:
        utc = col.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        return [[utc.alias(tag + "v"), _NO_RULE.alias(tag + "e"), _NO_RULE.alias(tag + "w")]]
    if isinstance(source, pl.Datetime):
        parsed = [col.dt.cast_time_unit("us").alias(tag + "l"), pl.lit(None, dtype=pl.Int32).alias(tag + "m"),
                  pl.lit(False).alias(tag + "b")]
        return [parsed, *_resolve(col, timezone, tag)]
    parts = _text(col, source).str.strip_chars().str.extract_groups(_TS_RE).alias(tag + "p")
    day, time, offset = (pl.col(tag + "p").struct.field(f) for f in ("d", "t", "o"))
    time = pl.when(time.str.len_chars() == 5).then(time + ":00").otherwise(time)
    local = pl.concat_str(day, pl.lit("T"), time).str.strptime(pl.Datetime("us"), _LOCAL_FORMAT, strict=False)
    minutes = _offset_minutes(offset)
    bad = pl.col(tag + "l").is_null() | (offset.is_not_null() & pl.col(tag + "m").is_null())
    return [[parts], [local.alias(tag + "l"), minutes.alias(tag + "m")], [bad.alias(tag + "b")],
            *_resolve(col, timezone, tag)]


def _offset_minutes(offset: pl.Expr) -> pl.Expr:
    """Signed minutes east of UTC from `Z`, `±HH:MM` or `±HHMM`; null when out of range."""
    digits = offset.str.replace(":", "", literal=True)
    hours = digits.str.slice(1, 2).cast(pl.Int32, strict=False)
    mins = digits.str.slice(3, 2).cast(pl.Int32, strict=False)
    sign = pl.when(digits.str.starts_with("-")).then(-1).otherwise(1)
    total = pl.when((hours < 24) & (mins < 60)).then(sign * (hours * 60 + mins)).otherwise(None)
    return pl.when(offset == "Z").then(pl.lit(0, dtype=pl.Int32)).otherwise(total)


def _resolve(source: pl.Expr, timezone: str | None, tag: str) -> Stages:
    """From local time `l`, offset minutes `m` and parse failure `b` to UTC value, rule and warning.

    Offsets give UTC directly; naive local times go through `timezone`, taking the earlier offset
    when ambiguous (a warning) and failing when the time does not exist there.
    """
    local, minutes, bad = pl.col(tag + "l"), pl.col(tag + "m"), pl.col(tag + "b")
    aware = minutes.is_not_null()
    present = source.is_not_null()
    convert = [(local - pl.duration(minutes=minutes)).dt.replace_time_zone("UTC").alias(tag + "o")]
    if timezone is None:
        naive = pl.lit(None, dtype=UTC_TYPE)
        naive_rule: pl.Expr = pl.lit("naive_timestamp")
        ambiguous = pl.lit(False)
    else:
        convert += [_to_utc(local, timezone, "earliest").alias(tag + "x"),
                    _to_utc(local, timezone, "latest").alias(tag + "y")]
        naive = pl.col(tag + "x")
        naive_rule = pl.when(naive.is_null()).then(pl.lit("nonexistent_local_time")).otherwise(None)
        ambiguous = naive != pl.col(tag + "y")
    error = (pl.when(present & bad).then(pl.lit("type_mismatch"))
             .when(present & ~aware).then(naive_rule).otherwise(None))
    warning = pl.when(present & ~bad & ~aware & ambiguous).then(pl.lit("ambiguous_local_time")).otherwise(None)
    value = pl.when(pl.col(tag + "e").is_null()).then(
        pl.when(aware).then(pl.col(tag + "o")).otherwise(naive)).otherwise(None)
    return [convert, [error.alias(tag + "e"), warning.alias(tag + "w")], [value.alias(tag + "v")]]


def _to_utc(local: pl.Expr, timezone: str, ambiguous: str) -> pl.Expr:
    return (local.dt.replace_time_zone(timezone, ambiguous=ambiguous, non_existent="null")
            .dt.convert_time_zone("UTC"))


# --- problems ---------------------------------------------------------------------------------

def _problems(parsed: ParsedFile, typed: pl.DataFrame, columns: list[Column], timezone: str | None) -> list[Problem]:
    flags = [f"__c{i}_{kind}" for kind in "ew" for i in range(len(columns))]
    if not flags:
        return []
    hits = typed.filter(pl.any_horizontal([pl.col(f).is_not_null() for f in flags]))
    if hits.height == 0:
        return []
    raws = _raw_rows(parsed, hits.get_column("__pos"))
    problems = []
    for row in hits.select(LINE, "__pos", *flags).iter_rows(named=True):
        raw = raws[row["__pos"]]
        for i, column in enumerate(columns):
            for flag in (f"__c{i}_e", f"__c{i}_w"):
                if row[flag] is not None:
                    problems.append(_cell_problem(parsed, column, row[flag], row[LINE], raw, timezone))
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


def _raw_rows(parsed: ParsedFile, positions: pl.Series) -> dict[int, str]:
    rows = parsed.frame.select(parsed.header)[positions]
    text = rows.select(pl.concat_str(
        [_text(pl.col(n), rows.schema[n]).str.slice(0, 500).fill_null("") for n in parsed.header],
        separator=",").alias("raw")).get_column("raw")
    return {int(p): masked_raw(r or "") for p, r in zip(positions, text, strict=True)}


def _cell_problem(parsed: ParsedFile, column: Column, rule_id: str, line: int, raw: str,
                  timezone: str | None) -> Problem:
    index = parsed.header.index(column.name) + 1
    where = f"{parsed.file}:{line}:{index}"
    why = {
        "type_mismatch": f"the value is not {EXPECTED_FORMS[column.dtype]}",
        "naive_timestamp": "the timestamp has no UTC offset and ingest.timezone is not set",
        "nonexistent_local_time": f"that local time does not exist in {timezone} (skipped by a DST change)",
        "ambiguous_local_time": f"that local time occurs twice in {timezone} (DST fall-back); the earlier "
                                "offset was taken",
    }[rule_id]
    return Problem(rule_id, parsed.file, line=line, column=index, column_name=column.name, raw=raw,
                   message=f"Attempted to read `{column.name}` as {column.dtype} at {where}, but {why}")
