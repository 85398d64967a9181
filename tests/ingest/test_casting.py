"""casting: header checks, contract types, timezone conversion (and DuckDB agreement), Parquet types."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipeline.core.errors import FileRejected
from pipeline.ingest.casting import POLARS_TYPES, cast_frame, check_header
from pipeline.ingest.contract import KINDS
from pipeline.ingest.problems import Problem
from pipeline.ingest.readers import ParsedFile, read_file

UTC = dt.UTC
CALLS = KINDS["calls"]
HEAD = "call_id,leg,direction,ended_at,outcome"


def parse(text: str, name: str = "calls.csv") -> ParsedFile:
    return read_file(Path(name), text.encode())


def cast(text: str, *, timezone: str | None = None, kind: str = "calls") -> tuple[pl.DataFrame, list[Problem]]:
    return cast_frame(parse(text), KINDS[kind], timezone=timezone)


def where(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.location, p.rule_id) for p in problems]


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# --- header -------------------------------------------------------------------------------------

def test_missing_required_columns_reject_the_file() -> None:
    with pytest.raises(FileRejected) as info:
        check_header(parse("call_id,leg,queue_id\n"), CALLS)
    err = info.value
    assert (err.rule_id, err.location) == ("missing_required_column", "calls.csv:1:4")
    assert "direction, ended_at, outcome" in err.title and "calls" in err.title


def test_extra_columns_warn_or_reject_when_strict() -> None:
    parsed = parse(f"{HEAD},mood,queue_id,color\n")
    problems = check_header(parsed, CALLS)
    assert where(problems) == [("calls.csv:1:6", "extra_column"), ("calls.csv:1:8", "extra_column")]
    assert [p.column_name for p in problems] == ["mood", "color"]
    assert all(p.action == "warn" for p in problems)
    with pytest.raises(FileRejected) as info:
        check_header(parsed, CALLS, strict=True)
    assert (info.value.rule_id, info.value.location) == ("extra_column", "calls.csv:1:6")


# --- output shape and types ---------------------------------------------------------------------

def test_output_has_contract_columns_in_order_with_types() -> None:
    frame, problems = cast(f"outcome,{HEAD.replace(',outcome', '')},talk_s,mood\n"
                           "answered,c1,2,inbound,2026-10-14T08:00:00Z,3.5,happy\n")
    assert problems == []
    assert frame.columns == [*CALLS.names, "_line"]
    assert frame.schema == pl.Schema({**{c.name: POLARS_TYPES[c.dtype] for c in CALLS.columns}, "_line": pl.Int64})
    row = frame.row(0, named=True)
    assert (row["call_id"], row["leg"], row["talk_s"], row["queue_id"]) == ("c1", 2, 3.5, None)
    assert row["ended_at"] == utc(2026, 10, 14, 8)


def test_int_accepts_integral_text_only() -> None:
    frame, problems = cast(f"{HEAD}\nc1,12,inbound,2026-10-14T08:00:00Z,answered\n"
                           f"c2,12.0,inbound,2026-10-14T08:00:00Z,answered\n"
                           f"c3,12.5,inbound,2026-10-14T08:00:00Z,answered\n"
                           f"c4, 7 ,inbound,2026-10-14T08:00:00Z,answered\n")
    assert frame["leg"].to_list() == [12, 12, 7]
    assert where(problems) == [("calls.csv:4:2", "type_mismatch")]
    problem = problems[0]
    assert problem.column_name == "leg" and "whole number" in problem.message and "12.5" not in problem.message
    assert problem.raw == "c3,12.5,inbound,2026-10-14T08:00:00Z,answered"


def test_float_rejects_a_decimal_comma_and_non_finite_values() -> None:
    frame, problems = cast(f"{HEAD},talk_s\nc1,1,inbound,2026-10-14T08:00:00Z,answered,12.5\n"
                           f'c2,1,inbound,2026-10-14T08:00:00Z,answered,"12,5"\n'
                           f"c3,1,inbound,2026-10-14T08:00:00Z,answered,nan\n"
                           f"c4,1,inbound,2026-10-14T08:00:00Z,answered,1e2\n")
    assert frame["talk_s"].to_list() == [12.5, 100.0]
    assert where(problems) == [("calls.csv:3:6", "type_mismatch"), ("calls.csv:4:6", "type_mismatch")]


def test_bool_and_date_forms() -> None:
    rows = ["true", "F", "Yes", "n", "1", "0", "T", "y", "maybe"]
    text = "evaluation_id,version,contact_type,contact_id,operator_id,evaluator_id,evaluated_at,score," \
           "is_auto_fail\n" + "".join(f"e{i},1,call,c,o,q,2026-10-14 08:00:00Z,90,{v}\n" for i, v in enumerate(rows))
    frame, problems = cast(text, kind="qa_evaluations")
    assert frame["is_auto_fail"].to_list() == [True, False, True, False, True, False, True, True]
    assert where(problems) == [("calls.csv:10:9", "type_mismatch")]

    ops = "operator_id,display_name,team_id,tier,timezone,valid_from\n" \
          "o1,A,t,L1,Europe/Kyiv,2026-01-31\no2,B,t,L1,Europe/Kyiv,2026-02-30\no3,C,t,L1,Europe/Kyiv,31.01.2026\n"
    frame, problems = cast(ops, kind="operators")
    assert frame["valid_from"].to_list() == [dt.date(2026, 1, 31)]
    assert where(problems) == [("calls.csv:3:6", "type_mismatch"), ("calls.csv:4:6", "type_mismatch")]


def test_timestamp_forms_with_offsets_become_utc() -> None:
    values = ["2026-10-14T08:00:00Z", "2026-10-14 11:00:00+03:00", "2026-10-14T11:00:00.250+0300",
              "2026-10-14T03:30-04:30", "2026-10-14T08:00:00+25:00", "14/10/2026 08:00"]
    text = f"{HEAD}\n" + "".join(f"c{i},1,inbound,{v},answered\n" for i, v in enumerate(values))
    frame, problems = cast(text)
    assert frame["ended_at"].to_list() == [utc(2026, 10, 14, 8), utc(2026, 10, 14, 8),
                                           utc(2026, 10, 14, 8, 0, 0, 250000), utc(2026, 10, 14, 8)]
    assert where(problems) == [("calls.csv:6:4", "type_mismatch"), ("calls.csv:7:4", "type_mismatch")]
    assert "ISO-8601" in problems[0].message


def test_naive_timestamp_without_timezone_is_quarantined() -> None:
    frame, problems = cast(f"{HEAD}\nc1,1,inbound,2026-10-14 08:00:00,answered\n"
                           f"c2,1,inbound,2026-10-14T08:00:00+03:00,answered\n")
    assert frame["call_id"].to_list() == ["c2"]
    assert where(problems) == [("calls.csv:2:4", "naive_timestamp")]


def test_mixed_offset_and_naive_values_in_one_column() -> None:
    frame, problems = cast(f"{HEAD}\nc1,1,inbound,2026-10-14 11:00:00,answered\n"
                           f"c2,1,inbound,2026-10-14T11:00:00Z,answered\n", timezone="Europe/Kyiv")
    assert problems == []
    assert frame["ended_at"].to_list() == [utc(2026, 10, 14, 8), utc(2026, 10, 14, 11)]


def test_every_failing_cell_is_reported_and_the_row_dropped_once() -> None:
    frame, problems = cast(f"{HEAD},talk_s\nc1,x,inbound,never,answered,fast\nc2,1,inbound,2026-10-14T08:00:00Z,"
                           "answered,1\n")
    assert frame["call_id"].to_list() == ["c2"]
    assert where(problems) == [("calls.csv:2:2", "type_mismatch"), ("calls.csv:2:4", "type_mismatch"),
                               ("calls.csv:2:6", "type_mismatch")]
    assert all("never" not in p.message and "fast" not in p.message for p in problems)


def test_raw_row_is_masked() -> None:
    _, problems = cast(f"{HEAD},customer_phone\nc1,x,inbound,2026-10-14T08:00:00Z,answered,+7 912 345-67-89\n")
    assert where(problems) == [("calls.csv:2:2", "type_mismatch")]
    assert problems[0].raw is not None and "345-67-89" not in problems[0].raw


# --- DST: Europe/Kyiv, and agreement with DuckDB ------------------------------------------------

KYIV_FALL_BACK = ["2026-10-25 02:30:00", "2026-10-25 03:30:00", "2026-10-25 04:30:00"]


def _duckdb_utc(local: str) -> dt.datetime:
    con = duckdb.connect()  # in memory; no personal data involved
    try:
        con.execute("SET TimeZone = 'UTC'")
        row = con.execute(f"SELECT TIMESTAMP '{local}' AT TIME ZONE 'Europe/Kyiv'").fetchone()
    finally:
        con.close()
    assert row is not None
    return row[0].astimezone(UTC)


def test_kyiv_fall_back_agrees_with_duckdb_except_the_ambiguous_choice() -> None:
    text = f"{HEAD}\n" + "".join(f"c{i},1,inbound,{v},answered\n" for i, v in enumerate(KYIV_FALL_BACK))
    frame, problems = cast(text, timezone="Europe/Kyiv")
    ours = frame["ended_at"].to_list()
    duck = [_duckdb_utc(v) for v in KYIV_FALL_BACK]
    assert ours == [utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2, 30)]
    # Unambiguous times: the same instant in both engines.
    assert (ours[0], ours[2]) == (duck[0], duck[2])
    # 03:30 happens twice. We take the earlier offset (+03:00, summer time) and warn; DuckDB (ICU)
    # takes the later one (+02:00, winter time), one hour later in UTC.
    assert ours[1] == dt.datetime(2026, 10, 25, 3, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert duck[1] == utc(2026, 10, 25, 1, 30)
    assert where(problems) == [("calls.csv:3:4", "ambiguous_local_time")]
    assert problems[0].action == "warn"


def test_kyiv_spring_forward_gap_is_quarantined() -> None:
    frame, problems = cast(f"{HEAD}\nc1,1,inbound,2026-03-29 03:30:00,answered\n"
                           f"c2,1,inbound,2026-03-29 04:30:00,answered\n", timezone="Europe/Kyiv")
    assert where(problems) == [("calls.csv:2:4", "nonexistent_local_time")]
    assert frame["ended_at"].to_list() == [utc(2026, 3, 29, 1, 30)]
    # DuckDB would shift the missing 03:30 to 01:30 UTC (read with the pre-change +02:00) instead.
    assert _duckdb_utc("2026-03-29 03:30:00") == utc(2026, 3, 29, 1, 30)


# --- Parquet: typed inputs ----------------------------------------------------------------------

def _parquet_parsed(frame: pl.DataFrame) -> ParsedFile:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return read_file(Path("calls.parquet"), buf.getvalue())


def test_parquet_native_types_are_used_directly() -> None:
    kyiv = pl.Datetime("us", "Europe/Kyiv")
    frame = pl.DataFrame({
        "call_id": [101, 102, 103],
        "leg": pl.Series([1, 2, 3], dtype=pl.Int32),
        "direction": ["inbound"] * 3,
        "enqueued_at": pl.Series([dt.datetime(2026, 10, 14, 11)] * 3).dt.replace_time_zone("Europe/Kyiv")
        .cast(kyiv),
        "ended_at": [dt.datetime(2026, 10, 14, 11), dt.datetime(2026, 10, 25, 3, 30), dt.datetime(2026, 3, 29, 3, 30)],
        "outcome": ["answered"] * 3,
        "talk_s": pl.Series([1, 2, 3], dtype=pl.Int16),
        "hold_s": [1.0, 2.5, 3.0],
    })
    parsed = _parquet_parsed(frame)
    typed, problems = cast_frame(parsed, CALLS, timezone="Europe/Kyiv")
    assert where(problems) == [("calls.parquet:2:5", "ambiguous_local_time"),
                               ("calls.parquet:3:5", "nonexistent_local_time")]
    assert typed["call_id"].to_list() == ["101", "102"]
    assert typed["leg"].to_list() == [1, 2]
    assert typed["enqueued_at"].to_list() == [utc(2026, 10, 14, 8)] * 2
    assert typed["ended_at"].to_list() == [utc(2026, 10, 14, 8), utc(2026, 10, 25, 0, 30)]
    assert typed["talk_s"].to_list() == [1.0, 2.0]
    assert typed.schema["enqueued_at"] == pl.Datetime("us", "UTC")


def test_parquet_float_in_an_int_column_must_be_whole() -> None:
    frame = pl.DataFrame({"call_id": ["a", "b"], "leg": [1.0, 2.5], "direction": ["inbound"] * 2,
                          "ended_at": [dt.datetime(2026, 10, 14, 8, tzinfo=UTC)] * 2, "outcome": ["answered"] * 2})
    typed, problems = cast_frame(_parquet_parsed(frame), CALLS, timezone=None)
    assert typed["leg"].to_list() == [1]
    assert where(problems) == [("calls.parquet:2:2", "type_mismatch")]


def test_parquet_naive_datetime_without_timezone_is_naive() -> None:
    frame = pl.DataFrame({"call_id": ["a"], "leg": [1], "direction": ["inbound"],
                          "ended_at": [dt.datetime(2026, 10, 14, 8)], "outcome": ["answered"]})
    typed, problems = cast_frame(_parquet_parsed(frame), CALLS, timezone=None)
    assert typed.height == 0
    assert where(problems) == [("calls.parquet:1:4", "naive_timestamp")]
