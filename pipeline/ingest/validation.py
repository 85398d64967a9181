"""Row rules (DESIGN §5) as great-expectations suites, built from the contract.

GE is the single source of the row rules: `plan_expectations` derives them from a `KindSpec`,
`build_suite` turns the plan into a GE suite and `expectation_table` into the docs, so the suite
and `docs/validation.md` cannot drift. GE is imported lazily (6–7 s) and only on the validation
path; it runs over pandas because it has no polars support and its DuckDB datasource is broken
(RECIPES.md).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import polars as pl

from pipeline.core.errors import OpkpiError
from pipeline.ingest.contract import KindSpec, kinds_in_load_order
from pipeline.ingest.problems import Problem

if TYPE_CHECKING:
    import great_expectations as gx
    import pandas as pd

# Other GE 1.x releases phone home; this must be set before the first GE import.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

LINE_COLUMN = "_line"
NUMERIC_DTYPES = ("int", "float")
# An allowed-set value is echoed (masked) only up to this length: the column is an enum, so a
# longer value is something else pasted into it.
MAX_ECHO_CHARS = 40

_DEFINITION_SEQ = itertools.count(1)

NOT_NULL = "ExpectColumnValuesToNotBeNull"
IN_SET = "ExpectColumnValuesToBeInSet"
BETWEEN = "ExpectColumnValuesToBeBetween"
PAIR_A_GT_B = "ExpectColumnPairValuesAToBeGreaterThanB"


@dataclass(frozen=True)
class PlannedExpectation:
    """One GE expectation of a kind's suite, described without importing GE."""

    kind: str
    rule_id: str
    expectation: str                    # class name in great_expectations.expectations
    kwargs: Mapping[str, Any]           # constructor arguments, besides meta and row_condition
    column: str                         # the column a problem points at
    columns: tuple[str, ...]            # every column the expectation reads
    # Row condition: the expectation applies only to rows where all of these are null.
    when_all_null: tuple[str, ...] = field(default=())

    @property
    def meta(self) -> dict[str, str]:
        return {"rule_id": self.rule_id, "column": self.column}

    @property
    def expectation_type(self) -> str:
        """GE's snake-case type (`expect_column_values_to_not_be_null`), as results report it."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.expectation).lower()


def plan_expectations(spec: KindSpec) -> list[PlannedExpectation]:
    """The row rules of a kind, in a stable order; the one place that maps contract to GE."""
    plan: list[PlannedExpectation] = []
    for col in spec.columns:
        if col.required:
            plan.append(PlannedExpectation(spec.name, "required_value", NOT_NULL, {"column": col.name},
                                           col.name, (col.name,)))
    for col in spec.columns:
        if col.allowed:
            plan.append(PlannedExpectation(spec.name, "allowed_value", IN_SET,
                                           {"column": col.name, "value_set": list(col.allowed)},
                                           col.name, (col.name,)))
    for col in spec.columns:
        if col.non_negative and col.dtype in NUMERIC_DTYPES:
            plan.append(PlannedExpectation(spec.name, "negative_duration", BETWEEN,
                                           {"column": col.name, "min_value": 0}, col.name, (col.name,)))
    for check in spec.checks:
        if check.kind == "a_not_before_b":
            a, b = check.columns
            plan.append(PlannedExpectation(
                spec.name, check.rule_id, PAIR_A_GT_B,
                {"column_A": a, "column_B": b, "or_equal": True, "ignore_row_if": "either_value_is_missing"},
                a, (a, b)))
        elif check.kind == "one_of_not_null":
            first, *rest = check.columns
            plan.append(PlannedExpectation(spec.name, check.rule_id, NOT_NULL, {"column": first},
                                           first, check.columns, when_all_null=tuple(rest)))
        else:  # pragma: no cover - a new Check kind must be planned here before it is used
            raise ValueError(f"unplanned check kind {check.kind!r} in kind {spec.name!r}")
    return plan


def expectation_table() -> list[dict[str, Any]]:
    """Per kind (load order), per expectation: what `docs/validation.md` lists."""
    return [
        {"kind": p.kind, "expectation": p.expectation, "type": p.expectation_type,
         "columns": list(p.columns), "kwargs": dict(p.kwargs), "when_all_null": list(p.when_all_null),
         "rule_id": p.rule_id}
        for spec in kinds_in_load_order() for p in plan_expectations(spec)
    ]


# --- GE ---------------------------------------------------------------------------------------

def _to_gx(planned: PlannedExpectation) -> Any:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column as GxColumn

    kwargs: dict[str, Any] = dict(planned.kwargs)
    if planned.when_all_null:
        condition: Any = None
        for name in planned.when_all_null:
            term = GxColumn(name).is_null()
            condition = term if condition is None else condition & term
        kwargs["row_condition"] = condition
    return getattr(gxe, planned.expectation)(meta=planned.meta, **kwargs)


def build_suite(spec: KindSpec) -> gx.ExpectationSuite:
    """The kind's suite (named after the kind), not registered in any context."""
    import great_expectations as gx

    return gx.ExpectationSuite(name=spec.name, expectations=[_to_gx(p) for p in plan_expectations(spec)])


@cache
def _context() -> Any:
    """One ephemeral context per process: in memory, so no files and no network."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


@dataclass(frozen=True)
class _Definition:
    batch: Any                                        # GE batch definition over a pandas frame
    suite: Any                                        # the registered GE suite
    planned_by_id: Mapping[str, PlannedExpectation]   # GE expectation id -> what it checks


@cache
def _definition(spec: KindSpec, selected: tuple[int, ...]) -> _Definition:
    """The suite for a subset of the kind's plan and a batch definition, built once per process."""
    import great_expectations as gx

    ctx = _context()
    # Names must be unique in the context; a sequence number also keeps apart two specs that
    # share a kind name (tests build their own).
    name = f"{spec.name}#{next(_DEFINITION_SEQ)}"
    plan = [plan_expectations(spec)[i] for i in selected]
    suite = ctx.suites.add(gx.ExpectationSuite(name=name, expectations=[_to_gx(p) for p in plan]))
    batch = (ctx.data_sources.add_pandas(name).add_dataframe_asset(name=spec.name)
             .add_batch_definition_whole_dataframe("whole"))
    # Results come back reordered and two expectations may share type, rule and column, so the
    # id GE assigned on registration is what ties a result to its planned expectation.
    planned_by_id = {str(e.id): p for e, p in zip(suite.expectations, plan, strict=True)}
    return _Definition(batch, suite, planned_by_id)


def _can_fail(planned: PlannedExpectation, nulls: Mapping[str, int], height: int) -> bool:
    """False when the frame's null counts alone prove the expectation passes on every row.

    Skipping those keeps the result identical and spares GE a pass over the column.
    """
    if planned.expectation == NOT_NULL and not planned.when_all_null:
        return nulls[planned.column] > 0
    if planned.when_all_null:
        return all(nulls[c] > 0 for c in planned.columns)
    # The other expectations ignore nulls, so an all-null column has nothing to check.
    return all(nulls[c] < height for c in planned.columns)


def _to_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa

    # Nullable Int64 instead of float64 keeps large integers exact; datetimes stay tz-aware
    # datetime64[us, UTC], so pair comparisons compare instants.
    return frame.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def _mask(text: str) -> str:
    try:
        from pipeline.ingest.pii import mask_text
    except ImportError:
        return text
    return mask_text(text)


def _number(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def _message(planned: PlannedExpectation, value: Any) -> str:
    col = planned.column
    if planned.when_all_null:
        names = ", ".join(f"`{c}`" for c in planned.columns)
        return f"one of {names} must not be empty"
    if planned.expectation == NOT_NULL:
        return f"`{col}` is required and must not be empty"
    if planned.expectation == IN_SET:
        allowed = ", ".join(planned.kwargs["value_set"])
        text = str(value)
        shown = _mask(text) if len(text) <= MAX_ECHO_CHARS else f"a {len(text)}-character value"
        return f"`{col}` must be one of {allowed} (got {shown})"
    if planned.expectation == BETWEEN:
        return f"`{col}` must be ≥ {planned.kwargs['min_value']} (got {_mask(_number(value))})"
    if planned.expectation == PAIR_A_GT_B:
        # Timestamps are not echoed: the row is in quarantine for whoever needs the values.
        return f"`{planned.kwargs['column_A']}` is before `{planned.kwargs['column_B']}`"
    raise ValueError(f"no message for {planned.expectation}")  # pragma: no cover


def _header_index(header: list[str]) -> dict[str, int]:
    # Header names are case-insensitive (data contract); the first occurrence wins because a
    # duplicated column rejects the file before validation runs.
    index: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        index.setdefault(name.strip().lower(), i)
    return index


def validate(frame: pl.DataFrame, spec: KindSpec, *, file: str, header: list[str]) -> list[Problem]:
    """One Problem per failing (row, expectation), sorted by (line, column).

    `frame` is typed, with exactly the contract columns plus `_line` (1-based physical line).
    """
    if frame.height == 0:
        # No row can fail, and a header-only file should not pay for importing GE.
        return []
    plan = plan_expectations(spec)
    absent = sorted({c for p in plan for c in p.columns} - set(frame.columns))
    if absent:
        # A contract column the frame lacks reads as all-null, as a missing optional column does.
        frame = frame.with_columns(pl.lit(None).alias(c) for c in absent)
    nulls = frame.null_count().row(0, named=True)
    selected = tuple(i for i, p in enumerate(plan) if _can_fail(p, nulls, frame.height))
    if not selected:
        return []
    definition = _definition(spec, selected)
    needed = sorted({c for i in selected for c in plan[i].columns})
    # `_line` as the named index with excluded values makes GE list the failing lines straight
    # from the index; otherwise it looks every failing row up one `.at` at a time (~10 s for
    # 100k failures). The values a message shows are read back from the typed frame instead.
    data = _to_pandas(frame.select(LINE_COLUMN, *needed)).set_index(LINE_COLUMN)
    # batch.validate, not ValidationDefinition.run: run also serialises every result into the
    # context's store, which doubles the time and keeps each file's failures in memory.
    result = definition.batch.get_batch(batch_parameters={"dataframe": data}).validate(
        definition.suite,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [LINE_COLUMN],
                       "exclude_unexpected_values": True},
    )
    positions = _header_index(header)
    problems: list[Problem] = []
    for outcome in result.results:
        planned = definition.planned_by_id[str(outcome.expectation_config.id)]
        info = outcome.exception_info or {}
        if info.get("raised_exception"):
            raise OpkpiError(
                f"Attempted to validate {file} against the {spec.name} rules, but great-expectations "
                f"failed on {planned.expectation_type} for `{planned.column}`: "
                f"{_mask(str(info.get('exception_message')))}",
                "This is a bug in opkpi; report it with the message above",
            )
        if outcome.success:
            continue
        lines = _failing_lines(outcome.result["unexpected_index_list"])
        values = _values_at(frame, planned, lines)
        position = positions.get(planned.column.lower())
        problems.extend(
            Problem(rule_id=planned.rule_id, file=file, line=line, column=position,
                    column_name=planned.column, message=_message(planned, values.get(line)))
            for line in lines
        )
    problems.sort(key=lambda p: (p.line, p.column is None, p.column or 0, p.rule_id, p.message))
    return problems


def _failing_lines(index_list: list[Any]) -> list[int]:
    # With exclude_unexpected_values GE gives [{"_line": [...]}]; without it, one dict per row.
    lines: list[int] = []
    for entry in index_list:
        found = entry[LINE_COLUMN]
        if isinstance(found, list):
            lines.extend(int(x) for x in found)
        else:
            lines.append(int(found))
    return lines


def _values_at(frame: pl.DataFrame, planned: PlannedExpectation, lines: list[int]) -> dict[int, Any]:
    if planned.expectation not in (IN_SET, BETWEEN):
        return {}
    rows = frame.lazy().filter(pl.col(LINE_COLUMN).is_in(lines)).select(LINE_COLUMN, planned.column).collect()
    return dict(zip(rows[LINE_COLUMN].to_list(), rows[planned.column].to_list(), strict=True))
