"""Golden KPI fixtures: the specification of every KPI of DESIGN §3-§4, written before the code.

Each directory under golden/ holds canonical CSV inputs (≤ 30 contacts) and an `expected.toml` whose
entries name a report call (`query`), the row to pick and the figures it must show, each with its
arithmetic in a comment. Sections: `scorecard`, `queues`, `teams`, `csat` (pipeline.metrics.report) and
`contacts`, `csat_language_period` (rows of those published marts: `contact_facts`, `csat_language_period`). The decisions taken where DESIGN.md leaves a choice
are listed in golden/README.md.

Per fixture the inputs are loaded once into a fresh home (real ingest, real `run_pipeline`); every
expected entry is then one test, so a failure names the fixture, the row and every figure that differs.
"""

from __future__ import annotations

import csv
import numbers
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before anything imports GE (DESIGN §9)

from pipeline.core.config import Config  # noqa: E402
from pipeline.core.home import Home  # noqa: E402
from pipeline.ingest.contract import KINDS  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"
FIXTURES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
NULL = "null"
MAX_CONTACTS = 30
REL = ABS = 1e-9

# Section → the keys that identify its row (besides `period_start`).
IDENTITY: dict[str, tuple[str, ...]] = {
    "scorecard": ("operator_id",),
    "queues": ("queue_id",),
    "teams": ("dimension_value",),
    "csat": ("language",),
    "contacts": ("contact_type", "contact_id"),
    "csat_language_period": ("language", "grain"),
}
# Sections read from a published mart (the section's table; `period_start` joins the key when given).
MART_SECTIONS = {"contacts": "contact_facts", "csat_language_period": "csat_language_period"}
NOT_COMPARED = {"query", "period_start", "absent"}
DATE_ARGS = ("date_from", "date_to")
CONTACT_ID_COLUMNS = {"calls": "call_id", "chats": "chat_id", "tickets": "ticket_id"}
TIMESTAMP_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")


def _expected(name: str) -> dict[str, list[dict[str, Any]]]:
    return tomllib.loads((GOLDEN / name / "expected.toml").read_text(encoding="utf-8"))


def _entry_id(section: str, index: int, entry: dict[str, Any]) -> str:
    ident = "/".join(str(entry.get(k, "?")) for k in IDENTITY.get(section, ()))
    when = entry.get("period_start")
    grain = (entry.get("query") or {}).get("grain")
    return "-".join(str(p) for p in (section, index, ident, grain, when) if p)


def _cases() -> list[Any]:
    cases = []
    for name in FIXTURES:
        for section, entries in _expected(name).items():
            for i, entry in enumerate(entries):
                cases.append(pytest.param(name, section, i, id=f"{name}:{_entry_id(section, i, entry)}"))
    return cases


# --- building a fixture once ---------------------------------------------------------------------

@dataclass
class Built:
    home: Home
    ingest_lines: list[str] = field(default_factory=list)
    unclean: list[str] = field(default_factory=list)
    ingest_error: BaseException | None = None
    pipeline_error: BaseException | None = None


_BUILT: dict[str, Built] = {}


def _build(name: str, root: Path) -> Built:
    from pipeline.ingest import ingest_paths
    from pipeline.jobs.run import run_pipeline

    home = Home(root)
    built = Built(home=home)
    try:
        results = ingest_paths(home, Config(), sorted((GOLDEN / name).glob("*.csv")))
    except BaseException as exc:  # kept: every entry of the fixture then reports the same cause
        built.ingest_error = exc
        return built
    for r in results:
        built.ingest_lines.append(r.summary_line())
        if r.status != "loaded" or r.quarantined or r.flagged or r.read != r.inserted:
            problems = "; ".join(f"{p.rule_id} at {p.file}:{p.line} {p.message}" for p in r.problems)
            built.unclean.append(f"{r.summary_line()} [{problems}]")
    if not built.unclean:
        try:
            run_pipeline(home, Config(), min_age_s=0)
        except BaseException as exc:
            built.pipeline_error = exc
    return built


@pytest.fixture(scope="session")
def golden_home(tmp_path_factory: pytest.TempPathFactory):
    """`get(name)`: the fixture loaded and built once per session; `pipeline=False` stops after ingest."""
    def get(name: str, *, pipeline: bool = True) -> Built:
        if name not in _BUILT:
            _BUILT[name] = _build(name, tmp_path_factory.mktemp(f"golden-{name}") / "home")
        built = _BUILT[name]
        if built.ingest_error is not None:
            raise built.ingest_error
        assert not built.unclean, f"{name}: the golden inputs must ingest clean:\n" + "\n".join(built.unclean)
        if pipeline and built.pipeline_error is not None:
            raise built.pipeline_error
        return built
    return get


# --- comparing -----------------------------------------------------------------------------------

def _differs(expected: Any, actual: Any) -> str | None:
    """Why `actual` does not meet `expected`, or None when it does."""
    if isinstance(expected, str) and expected == NULL:
        return None if actual is None else f"expected null, got {actual!r}"
    if actual is None:
        return f"expected {expected!r}, got null"
    if isinstance(expected, bool):
        return None if isinstance(actual, bool | int) and bool(actual) is expected and actual in (0, 1) \
            else f"expected {expected!r}, got {actual!r}"
    if isinstance(expected, int):
        if isinstance(actual, bool) or not isinstance(actual, numbers.Integral):
            return f"expected the integer {expected!r}, got {actual!r} ({type(actual).__name__})"
        return None if int(actual) == expected else f"expected {expected!r}, got {actual!r}"
    if isinstance(expected, float):
        if not isinstance(actual, numbers.Real) or isinstance(actual, bool):
            return f"expected {expected!r}, got {actual!r} ({type(actual).__name__})"
        return None if float(actual) == pytest.approx(expected, rel=REL, abs=ABS) else \
            f"expected {expected!r}, got {actual!r}"
    return None if actual == expected else f"expected {expected!r}, got {actual!r}"


def _report_rows(built: Built, section: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    from pipeline.metrics import report

    kwargs = {k: (date.fromisoformat(v) if k in DATE_ARGS and isinstance(v, str) else v) for k, v in query.items()}
    return list(getattr(report, section)(built.home, **kwargs))


def _mart_row(built: Built, section: str, entry: dict[str, Any]) -> dict[str, Any] | None:
    from pipeline.warehouse import open_snapshot

    table = MART_SECTIONS[section]
    keys = [*IDENTITY[section], *(("period_start",) if "period_start" in entry else ())]
    where = " AND ".join(f'CAST("{k}" AS VARCHAR) = ?' for k in keys)
    con = open_snapshot(built.home)
    try:
        cur = con.execute(f'SELECT * FROM "{table}" WHERE {where}', [str(entry[k]) for k in keys])
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    assert len(rows) <= 1, f"{table} holds {len(rows)} rows for {({k: entry[k] for k in keys})}"
    return dict(zip(names, rows[0], strict=True)) if rows else None


def _mart_value(row: dict[str, Any], key: str) -> Any:
    """A `_s` key reads the mart's `_ms` column in seconds (DESIGN §3: `_ms` in marts ↔ `_s` in reports)."""
    if key in row:
        return row[key]
    if key.endswith("_s") and key[:-2] + "_ms" in row:
        ms = row[key[:-2] + "_ms"]
        return None if ms is None else ms / 1000.0
    raise KeyError(key)


@pytest.mark.parametrize(("name", "section", "index"), _cases())
def test_golden(golden_home, name: str, section: str, index: int) -> None:
    entry = _expected(name)[section][index]
    built = golden_home(name)
    ident = {k: entry[k] for k in IDENTITY[section]}
    if section in MART_SECTIONS:
        row = _mart_row(built, section, entry)
        if "period_start" in entry:
            ident["period_start"] = entry["period_start"]
        assert row is not None, f"{MART_SECTIONS[section]} has no row for {ident}"
        getter = _mart_value
    else:
        rows = _report_rows(built, section, entry["query"])
        if "period_start" in entry:
            ident["period_start"] = entry["period_start"]
        matching = [r for r in rows if all(str(r.get(k)) == str(v) for k, v in ident.items())]
        if entry.get("absent"):
            assert not matching, f"{section}({entry['query']}) should hold no row for {ident}, got {matching}"
            return
        assert len(matching) == 1, (
            f"{section}({entry['query']}) should hold exactly one row for {ident}, got {len(matching)}; rows: "
            + ", ".join(str({k: r.get(k) for k in (*IDENTITY[section], 'period_start', 'grain')}) for r in rows))
        row = matching[0]

        def getter(r: dict[str, Any], k: str) -> Any:
            if k not in r:
                raise KeyError(k)
            return r[k]

    problems = []
    for key, expected in entry.items():
        if key in NOT_COMPARED or key in IDENTITY[section]:
            continue
        try:
            actual = getter(row, key)
        except KeyError:
            problems.append(f"  {key}: missing from the row (keys: {', '.join(sorted(row))})")
            continue
        why = _differs(expected, actual)
        if why:
            problems.append(f"  {key}: {why}")
    assert not problems, f"{name} {section} {ident}:\n" + "\n".join(problems)


# --- the fixtures themselves ---------------------------------------------------------------------

@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_follows_the_contract(name: str) -> None:
    """Only contract kinds and columns, offsets on every timestamp, ≤ 30 contacts, ≥ 1 expectation."""
    folder = GOLDEN / name
    contacts: set[tuple[str, str]] = set()
    for path in sorted(folder.iterdir()):
        if path.name == "expected.toml":
            continue
        assert path.suffix == ".csv", f"{path.name}: only canonical CSV inputs and expected.toml belong here"
        assert path.stem in KINDS, f"{path.name}: not named after a contract kind ({', '.join(KINDS)})"
        spec = KINDS[path.stem]
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            assert len(set(header)) == len(header), f"{path.name}: a column appears twice"
            extra = [c for c in header if c not in spec.names]
            assert not extra, f"{path.name}: {extra} are not columns of the {spec.name} contract"
            missing = [c for c in spec.required if c not in header]
            assert not missing, f"{path.name}: the required columns {missing} are absent"
            stamps = [c.name for c in spec.columns if c.dtype == "timestamp" and c.name in header]
            for line, row in enumerate(reader, start=2):
                assert None not in row and all(v is not None for v in row.values()), \
                    f"{path.name}:{line}: field count differs from the header"
                for col in stamps:
                    value = row[col]
                    assert not value or TIMESTAMP_WITH_OFFSET.match(value), \
                        f"{path.name}:{line}: {col} = {value!r} is not ISO-8601 with an offset"
                if path.stem in CONTACT_ID_COLUMNS:
                    contacts.add((path.stem, row[CONTACT_ID_COLUMNS[path.stem]]))
    assert len(contacts) <= MAX_CONTACTS, f"{name}: {len(contacts)} contacts, a golden fixture holds ≤ {MAX_CONTACTS}"

    expected = _expected(name)
    assert sum(len(v) for v in expected.values()) >= 1, f"{name}/expected.toml has no entry"
    for section, entries in expected.items():
        assert section in IDENTITY, f"{name}/expected.toml: unknown section [[{section}]]"
        for i, entry in enumerate(entries):
            for key in IDENTITY[section]:
                assert key in entry, f"{name} [[{section}]] #{i}: lacks the identifying key {key}"
            if section not in MART_SECTIONS:
                assert isinstance(entry.get("query"), dict), f"{name} [[{section}]] #{i}: lacks `query`"
            compared = [k for k in entry if k not in NOT_COMPARED and k not in IDENTITY[section]]
            assert compared or entry.get("absent"), f"{name} [[{section}]] #{i}: nothing to compare"
            for key in compared:
                value = entry[key]
                assert not isinstance(value, str) or value == NULL or key == "aht_components" \
                    or key.endswith("_id"), f"{name} [[{section}]] #{i}: {key} = {value!r}: null is written \"null\""


@pytest.mark.parametrize("name", FIXTURES)
def test_every_expected_literal_carries_its_arithmetic(name: str) -> None:
    """Each compared literal in expected.toml has a comment on its line (the issue's rule)."""
    bare = []
    for n, line in enumerate((GOLDEN / name / "expected.toml").read_text(encoding="utf-8").splitlines(), start=1):
        m = re.match(r"^([a-z_0-9]+)\s*=", line)
        if not m or m.group(1) in NOT_COMPARED | {k for keys in IDENTITY.values() for k in keys}:
            continue
        if "#" not in line:
            bare.append(f"{n}: {line}")
    assert not bare, f"{name}/expected.toml: literals without their arithmetic:\n" + "\n".join(bare)


@pytest.mark.parametrize("name", FIXTURES)
def test_golden_inputs_ingest_clean(golden_home, name: str) -> None:
    """No quarantined, flagged or skipped row: the fixtures test KPIs, not ingest."""
    built = golden_home(name, pipeline=False)
    assert built.ingest_lines, f"{name}: nothing was ingested"
