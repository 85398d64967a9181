"""Row rules run through great-expectations: exact (rule_id, line, column) for each kind of failure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from pipeline.ingest.contract import KINDS, Check, Column, KindSpec, kinds_in_load_order
from pipeline.ingest.rules import RULES
from pipeline.ingest.validation import build_suite, expectation_table, plan_expectations, validate

CALLS = KINDS["calls"]
# The file's header in contract order, so the 1-based field index of a column is its position:
# call_id 1, direction 3, ended_at 14, talk_s 18.
HEADER = list(CALLS.names)
DTYPES: dict[str, pl.DataType] = {
    "str": pl.Utf8(), "int": pl.Int64(), "float": pl.Float64(), "bool": pl.Boolean(),
    "timestamp": pl.Datetime("us", "UTC"), "date": pl.Date(),
}
T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)


def at(minute: int, second: int = 0) -> datetime:
    return T0.replace(minute=minute, second=second)


def good_call(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "call_id": "c1", "leg": 1, "direction": "inbound", "queue_id": "support", "agent_id": "op1",
        "enqueued_at": at(0), "answered_at": at(1), "ended_at": at(5), "outcome": "answered",
        "end_reason": "resolved", "talk_s": 240.0, "hold_s": 0.0, "wrap_s": 15.0,
    }
    row.update(overrides)
    return row


def typed_frame(spec: KindSpec, rows: list[dict[str, Any]], first_line: int = 2) -> pl.DataFrame:
    """What the readers hand over: every contract column typed (absent ones null) plus `_line`."""
    schema = {"_line": pl.Int64(), **{c.name: DTYPES[c.dtype] for c in spec.columns}}
    data = [{"_line": first_line + i, **row} for i, row in enumerate(rows)]
    return pl.DataFrame(data, schema=schema)


def triples(frame: pl.DataFrame, spec: KindSpec = CALLS, header: list[str] = HEADER) -> list[tuple]:
    return [(p.rule_id, p.line, p.column) for p in validate(frame, spec, file="calls.csv", header=header)]


def test_clean_frame_has_no_problems() -> None:
    rows = [good_call(call_id=f"c{i}") for i in range(3)]
    # Empty optional values pass every rule but required_value.
    rows.append(good_call(call_id="c9", answered_at=None, end_reason=None, talk_s=None))
    assert triples(typed_frame(CALLS, rows)) == []


def test_zero_row_frame() -> None:
    frame = typed_frame(CALLS, [])
    assert frame.height == 0
    assert triples(frame) == []


def test_null_required_value() -> None:
    frame = typed_frame(CALLS, [good_call(), good_call(call_id=None)])
    problems = validate(frame, CALLS, file="calls.csv", header=HEADER)
    assert [(p.rule_id, p.line, p.column) for p in problems] == [("required_value", 3, 1)]
    assert problems[0].column_name == "call_id"
    assert problems[0].location == "calls.csv:3:1"


def test_value_outside_allowed() -> None:
    frame = typed_frame(CALLS, [good_call(direction="sideways"), good_call()])
    problems = validate(frame, CALLS, file="calls.csv", header=HEADER)
    assert [(p.rule_id, p.line, p.column) for p in problems] == [("allowed_value", 2, 3)]
    assert problems[0].message.startswith("`direction` must be one of inbound, outbound, internal")


def test_negative_talk_s() -> None:
    frame = typed_frame(CALLS, [good_call(), good_call(), good_call(talk_s=-3.5)])
    problems = validate(frame, CALLS, file="calls.csv", header=HEADER)
    assert [(p.rule_id, p.line, p.column) for p in problems] == [("negative_duration", 4, 18)]
    assert problems[0].message.startswith("`talk_s` must be ≥ 0")


def test_ended_before_answered() -> None:
    # Enqueued 10:00, answered 10:01, ended 10:00:30: only the answered/ended pair is out of order.
    frame = typed_frame(CALLS, [good_call(ended_at=at(0, 30))])
    problems = validate(frame, CALLS, file="calls.csv", header=HEADER)
    assert [(p.rule_id, p.line, p.column) for p in problems] == [("end_before_start", 2, 14)]
    assert problems[0].message == "`ended_at` is before `answered_at`"


def test_equal_end_and_start_pass() -> None:
    frame = typed_frame(CALLS, [good_call(answered_at=at(0), ended_at=at(0))])
    assert triples(frame) == []


def test_problems_sorted_by_line_then_column() -> None:
    frame = typed_frame(CALLS, [
        good_call(),
        good_call(talk_s=-1.0, direction="up", call_id=None),
        good_call(outcome=None),
    ])
    assert triples(frame) == [
        ("required_value", 3, 1), ("allowed_value", 3, 3), ("negative_duration", 3, 18),
        ("required_value", 4, 15),
    ]


def test_column_index_comes_from_the_file_header() -> None:
    # The file wrote its columns in another order and case, and left out talk_s.
    header = ["TALK_S", "Direction", "call_id", "ended_at"]
    frame = typed_frame(CALLS, [good_call(direction="up"), good_call(wrap_s=-1.0)])
    assert triples(frame, header=header) == [("allowed_value", 2, 2), ("negative_duration", 3, None)]


def test_messages_do_not_echo_long_values() -> None:
    value = "x" * 60
    frame = typed_frame(CALLS, [good_call(direction=value)])
    (problem,) = validate(frame, CALLS, file="calls.csv", header=HEADER)
    assert value not in problem.message
    assert "60-character value" in problem.message


def test_one_of_not_null_check() -> None:
    spec = KindSpec(
        name="contacts_test", description="", grain="", key=("a",), load_mode="append",
        columns=(Column("a", "str"), Column("b", "str"), Column("c", "str")),
        checks=(Check("required_value", "one_of_not_null", ("a", "b", "c")),),
    )
    frame = typed_frame(spec, [{}, {"a": "x"}, {"b": "y"}, {"c": "z"}])
    assert triples(frame, spec, header=["a", "b", "c"]) == [("required_value", 2, 1)]


def test_every_suite_rule_id_is_registered() -> None:
    used = {row["rule_id"] for row in expectation_table()}
    assert used <= set(RULES), used - set(RULES)
    assert all(RULES[r].stage == "row" for r in used)


@pytest.mark.parametrize("spec", kinds_in_load_order(), ids=lambda s: s.name)
def test_suite_matches_plan(spec: KindSpec) -> None:
    """build_suite and the docs' expectation table come from one plan, so they cannot drift."""
    suite = build_suite(spec)
    assert suite.name == spec.name
    plan = plan_expectations(spec)
    assert [(e.expectation_type, e.meta) for e in suite.expectations] == [
        (p.expectation_type, {"rule_id": p.rule_id, "column": p.column}) for p in plan
    ]
    assert all(p.column in spec.names for p in plan)


def test_frame_after_pseudonymisation() -> None:
    # The loader validates after the phone and e-mail columns were replaced by customer_key.
    frame = typed_frame(CALLS, [good_call(), good_call(leg=-1)]).drop("customer_phone", "customer_email")
    frame = frame.with_columns(pl.lit("k1").alias("customer_key"))
    assert triples(frame) == [("negative_duration", 3, 2)]
