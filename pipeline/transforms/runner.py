"""Build the SQL models of `sql/` (staging → intermediate → marts) in dependency order.

A model is one file; its name is the table name; its first line is a comment naming the grain.
Dependencies are the other models' names the SQL mentions, so no templating is needed, except
one: a line `-- include: metrics/operator_cells.sql` is replaced by that file of `sql/` (the
metric definitions shared by the marts and by `pipeline.metrics.report`, so each metric is
written once).

Header markers (comment lines at the top of a model):
- `-- touch: local_date, team_local_date` on a fact model: the local dates whose rows changed
  since the last build are *touched*;
- `-- incremental: local_date` (a day column) or `-- incremental: grain, period_start` on a mart:
  an incremental build deletes and re-inserts only the rows of touched days (resp. the days,
  ISO weeks and months holding a touched day); a full build replaces the table.

Materialisation: the incremental marts are the only models a build needs from the previous one,
so they are the only persistent tables; every other model (staging, intermediate, facts,
dimensions) is a TEMP table of the build's connection, which `publish` copies into the snapshot.
Writing those 10M-row layers to the warehouse file cost more than computing them (DECISIONS.md);
`transforms.keep_intermediate = true` keeps them in the warehouse for inspection.

Incremental (DESIGN §3): every staging, intermediate and fact model is rebuilt (cheap in DuckDB);
the facts' rows are hashed per local date and compared with the previous build's, which gives
exactly the local dates touched by new, changed or late rows, whatever the window that carried the change
(a repeat 7 days back, a CSAT 14 days back). The daily and period marts are then rebuilt for those
dates only. A change of the SQL, the configuration, the calendars or the operator, team and queue
dimensions makes the build full, as does `full_refresh`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from pipeline.core.config import Config
from pipeline.core.errors import OpkpiError
from pipeline.core.home import Home
from pipeline.transforms.calendars import check_calendars, write_calendars
from pipeline.transforms.params import write_params

log = logging.getLogger("opkpi.transforms")

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
LAYERS = ("staging", "intermediate", "marts")
# Bump when the runner's own semantics change, so the next build is a full one.
RUNNER_VERSION = "3"
STATE_TABLE = "_build_state"
TOUCHED_TABLE = "_touched_periods"
# Tables whose content change makes the build full: dimensions every mart row depends on, and the
# keys the dense marts repeat on every day (a new one would need rows on untouched days too).
DIMENSION_MODELS = ("stg_operators", "stg_teams", "stg_queues", "roster_keys")

_INCLUDE = re.compile(r"^[ \t]*--[ \t]*include:[ \t]*(\S+)[ \t]*$", re.MULTILINE)
_MARKER = re.compile(r"^[ \t]*--[ \t]*(touch|incremental):[ \t]*(.+?)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    path: Path
    sql: str
    grain: str
    touch: tuple[str, ...] = ()
    incremental: tuple[str, ...] = ()


@dataclass
class BuildReport:
    built: list[str] = field(default_factory=list)
    mode: str = "full"  # full | incremental
    reason: str = ""
    touched_dates: list[date] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def expand_includes(text: str, *, sql_dir: Path = SQL_DIR, _seen: tuple[str, ...] = ()) -> str:
    def repl(m: re.Match[str]) -> str:
        rel = m.group(1)
        if rel in _seen:
            raise OpkpiError(f"Attempted to expand `-- include: {rel}`, but it includes itself",
                             "Break the include cycle")
        path = sql_dir / rel
        if not path.exists():
            raise OpkpiError(f"Attempted to expand `-- include: {rel}`, but {path} does not exist",
                             "Fix the include path (relative to sql/)")
        return expand_includes(path.read_text(encoding="utf-8").rstrip(), sql_dir=sql_dir, _seen=(*_seen, rel))

    return _INCLUDE.sub(repl, text)


def discover_models(sql_dir: Path = SQL_DIR) -> list[Model]:
    models = []
    for layer in LAYERS:
        for path in sorted((sql_dir / layer).rglob("*.sql")):
            text = path.read_text(encoding="utf-8")
            first = text.lstrip().splitlines()[0] if text.strip() else ""
            if not first.startswith("--"):
                raise OpkpiError(f"Attempted to read the model {path}, but its first line is not a grain comment",
                                 "Start the file with `-- One row per ...`")
            markers = {k: tuple(c.strip() for c in v.split(",") if c.strip()) for k, v in _MARKER.findall(text)}
            models.append(Model(path.stem, layer, path, expand_includes(text, sql_dir=sql_dir),
                                first.lstrip("- ").strip(), markers.get("touch", ()),
                                markers.get("incremental", ())))
    return _ordered(models)


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _ordered(models: list[Model]) -> list[Model]:
    by_name = {m.name: m for m in models}
    bodies = {m.name: _strip_comments(m.sql) for m in models}
    deps = {m.name: {n for n in by_name if n != m.name and re.search(rf"\b{re.escape(n)}\b", bodies[m.name])}
            for m in models}
    done: list[Model] = []
    seen: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in seen:
            return
        if name in stack:
            raise OpkpiError(f"Attempted to order the SQL models, but {' → '.join(stack + (name,))} is a cycle",
                             "Break the cycle")
        for d in sorted(deps[name]):
            visit(d, stack + (name,))
        seen.add(name)
        done.append(by_name[name])

    for m in models:
        visit(m.name, ())
    for m in done:
        if not m.incremental:
            bad = sorted(d for d in deps[m.name] if by_name[d].incremental)
            if bad:
                raise OpkpiError(f"Attempted to order the SQL models, but {m.name} reads the incremental "
                                 f"mart(s) {', '.join(bad)}", "Read the facts instead, or make it incremental")
    return done


def model_dependencies(models: list[Model]) -> dict[str, set[str]]:
    names = {m.name for m in models}
    return {m.name: {n for n in names if n != m.name and re.search(rf"\b{re.escape(n)}\b", _strip_comments(m.sql))}
            for m in models}


def select_models(targets: list[str], models: list[Model] | None = None) -> list[Model]:
    """The models `targets` need (themselves and everything upstream), in build order — e.g. the
    benchmark's KPI subset: `select_models(["operator_daily"])`."""
    models = models or discover_models()
    deps = model_dependencies(models)
    unknown = sorted(set(targets) - set(deps))
    if unknown:
        raise OpkpiError(f"Attempted to select the models {', '.join(unknown)}, but no such model exists",
                         "Use a file name of sql/staging, sql/intermediate or sql/marts")
    keep: set[str] = set()
    todo = list(targets)
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo.extend(deps[name])
    return [m for m in models if m.name in keep]


# --- building ------------------------------------------------------------------------------------

def _body(m: Model) -> str:
    return m.sql.strip().rstrip(";")


def _create(con: duckdb.DuckDBPyConnection, m: Model, *, temp: bool = False) -> None:
    try:
        if temp:
            # A stale persistent copy (an older build, or keep_intermediate) would shadow nothing
            # but still take space in the warehouse file.
            con.execute(f'DROP TABLE IF EXISTS main."{m.name}"')
        con.execute(f'CREATE OR REPLACE {"TEMP " if temp else ""}TABLE "{m.name}" AS {_body(m)}')
    except duckdb.Error as exc:
        raise OpkpiError(f"Attempted to build the model {m.name} from {m.path}, but DuckDB said: {exc}",
                         "Fix the SQL; run `opkpi run --full-refresh` after") from None


def _predicate(m: Model) -> str:
    cols = m.incremental
    if len(cols) == 1:
        return f'"{cols[0]}" IN (SELECT period_start FROM {TOUCHED_TABLE} WHERE grain = \'day\')'
    if len(cols) == 2:
        return f'("{cols[0]}", "{cols[1]}") IN (SELECT grain, period_start FROM {TOUCHED_TABLE})'
    raise OpkpiError(f"Attempted to read the incremental marker of {m.name}, but it names {len(cols)} columns",
                     "Use `-- incremental: local_date` or `-- incremental: grain, period_start`")


def _update(con: duckdb.DuckDBPyConnection, m: Model) -> None:
    pred = _predicate(m)
    try:
        con.execute(f'DELETE FROM "{m.name}" WHERE {pred}')
        con.execute(f'INSERT INTO "{m.name}" SELECT * FROM ({_body(m)}) AS _m WHERE {pred}')
    except duckdb.Error as exc:
        raise OpkpiError(f"Attempted to update the model {m.name} from {m.path} incrementally, but DuckDB said: "
                         f"{exc}", "Run `opkpi run --full-refresh`") from None


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The warehouse's tables and this connection's TEMP ones."""
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                                      "AND table_catalog IN (current_database(), 'temp')").fetchall()}


def _read_state(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    if STATE_TABLE not in _tables(con):
        return {}
    return dict(con.execute(f"SELECT key, value FROM {STATE_TABLE}").fetchall())


def _write_state(con: duckdb.DuckDBPyConnection, state: dict[str, str]) -> None:
    con.execute(f"CREATE OR REPLACE TABLE {STATE_TABLE} (key VARCHAR, value VARCHAR)")
    con.executemany(f"INSERT INTO {STATE_TABLE} VALUES (?, ?)", sorted(state.items()))


def _content_hash(con: duckdb.DuckDBPyConnection, table: str) -> str:
    if table not in _tables(con):
        return "-"
    row = con.execute(f'SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM "{table}" AS t').fetchone()
    return f"{row[0]}:{row[1]}"


def _hash_touch_model(con: duckdb.DuckDBPyConnection, m: Model) -> None:
    """Keep (local date, row count, sum of row hashes) of a fact model; the previous build's moves
    to `__prev`. One row per date, so the warehouse keeps no copy of the facts."""
    new, prev = f"_touch__{m.name}", f"_touch__{m.name}__prev"
    tables = _tables(con)
    con.execute(f'DROP TABLE IF EXISTS "{prev}"')
    if new in tables:
        con.execute(f'ALTER TABLE "{new}" RENAME TO "{prev}"')
    parts = " UNION ALL ".join(f'SELECT CAST(t."{c}" AS DATE) AS d, hash(t) AS h FROM "{m.name}" AS t'
                               for c in m.touch)
    con.execute(f'CREATE TABLE "{new}" AS SELECT d, count(*) AS n, sum(h::HUGEINT) AS h FROM ({parts}) GROUP BY d')


def _touched_dates(con: duckdb.DuckDBPyConnection, models: list[Model], old_range: str, new_range: str) -> list[date]:
    parts = []
    for m in models:
        new, prev = f"_touch__{m.name}", f"_touch__{m.name}__prev"
        parts.append(f'SELECT coalesce(a.d, b.d) AS d FROM "{prev}" AS a FULL JOIN "{new}" AS b '
                     'ON a.d IS NOT DISTINCT FROM b.d WHERE a.n IS DISTINCT FROM b.n OR a.h IS DISTINCT FROM b.h')
    dates = {r[0] for r in con.execute(" UNION ".join(parts)).fetchall() if r[0] is not None} if parts else set()
    # Days entering or leaving the loaded range change the dense marts even without facts on them.
    dates |= _range_days(old_range) ^ _range_days(new_range)
    return sorted(dates)


def _range_days(text: str) -> set[date]:
    if not text or "|" not in text:
        return set()
    a, b = text.split("|", 1)
    if a in ("", "None") or b in ("", "None"):
        return set()
    lo, hi = date.fromisoformat(a), date.fromisoformat(b)
    return {date.fromordinal(o) for o in range(lo.toordinal(), hi.toordinal() + 1)}


def _write_touched(con: duckdb.DuckDBPyConnection, dates: list[date]) -> None:
    con.execute(f"CREATE OR REPLACE TABLE {TOUCHED_TABLE} (grain VARCHAR, period_start DATE)")
    if dates:
        con.execute("CREATE OR REPLACE TEMP TABLE _touched_days AS SELECT unnest(?::DATE[]) AS d", [dates])
        con.execute(f"""INSERT INTO {TOUCHED_TABLE}
            SELECT DISTINCT 'day', d FROM _touched_days
            UNION SELECT DISTINCT 'week', CAST(date_trunc('week', d) AS DATE) FROM _touched_days
            UNION SELECT DISTINCT 'month', CAST(date_trunc('month', d) AS DATE) FROM _touched_days""")
        con.execute("DROP TABLE _touched_days")


def _code_hash(models: list[Model]) -> str:
    h = hashlib.sha256(RUNNER_VERSION.encode())
    for m in models:
        h.update(m.name.encode() + b"\0" + m.sql.encode() + b"\0")
    return h.hexdigest()


def _data_range(con: duckdb.DuckDBPyConnection) -> str:
    if "data_range" not in _tables(con):
        return ""
    row = con.execute("SELECT date_from, date_to FROM data_range").fetchone()
    return f"{row[0]}|{row[1]}" if row else ""


def _releaser(models: list[Model], incremental_models: list[Model]):
    """name of a model just built → the TEMP models nobody reads any more. Staging and intermediate
    tables are dropped after their last reader, so the build's memory holds only what is still
    needed (marts stay: `publish` copies them; the dimensions stay for their content hash)."""
    deps = model_dependencies(models)
    order = [m.name for m in models if not m.incremental] + [m.name for m in incremental_models]
    layer = {m.name: m.layer for m in models}
    last_reader: dict[str, str] = {}
    for name in order:
        for d in deps[name]:
            last_reader[d] = name
    freed: dict[str, list[str]] = {}
    for d, reader in last_reader.items():
        if layer[d] != "marts" and d not in DIMENSION_MODELS:
            freed.setdefault(reader, []).append(d)
    return lambda name: freed.get(name, [])


def _drop(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    for name in names:
        con.execute(f'DROP TABLE IF EXISTS temp."{name}"')


def build(con: duckdb.DuckDBPyConnection, models: list[Model] | None = None, *, config: Config | None = None,
          home: Home | None = None, full_refresh: bool = False) -> BuildReport:
    """Write the parameter and calendar tables, then build every model (incrementally when allowed)."""
    import time

    models = models or discover_models()
    config = config or Config()
    temp = not config.transforms.keep_intermediate
    # No model relies on row order (each orders what it ranks); unordered writes parallelise and
    # need less memory.
    con.execute("SET preserve_insertion_order = false")
    report = BuildReport()
    state = _read_state(con)
    new_state = {"code": _code_hash(models), "params": write_params(con, config, home=home),
                 "calendars": write_calendars(con)}
    tables = _tables(con)
    incremental_models = [m for m in models if m.incremental]
    touch_models = [m for m in models if m.touch]
    if full_refresh:
        report.reason = "full refresh requested"
    elif not state:
        report.reason = "first build"
    elif state.get("complete") != "1":
        report.reason = "the last build did not finish"
    elif any(state.get(k) != v for k, v in new_state.items()):
        report.reason = "SQL, configuration or calendars changed"
    elif any(m.name not in tables for m in incremental_models):
        report.reason = "a mart is missing"
    elif any(f"_touch__{m.name}" not in tables for m in touch_models):
        report.reason = "no fact hashes of the last build"
    else:
        report.mode = "incremental"

    _write_state(con, {**state, "complete": "0"})
    release = _releaser(models, incremental_models) if temp else (lambda _name: [])
    # Pass 1: everything but the incremental marts, always rebuilt.
    for m in models:
        if m.incremental:
            continue
        t0 = time.perf_counter()
        _create(con, m, temp=temp)
        report.seconds[m.name] = time.perf_counter() - t0
        report.built.append(m.name)
        if m.name == "int_business_hours__team_days":
            check_calendars(con)
        _drop(con, release(m.name))
    for m in touch_models:
        _hash_touch_model(con, m)
    for name in DIMENSION_MODELS:
        new_state[f"dim:{name}"] = _content_hash(con, name)
    new_state["range"] = _data_range(con)
    if report.mode == "incremental" and any(state.get(f"dim:{n}") != new_state[f"dim:{n}"]
                                            for n in DIMENSION_MODELS):
        report.mode, report.reason = "full", "operators, teams, queues or mart keys changed"

    # Pass 2: the daily and period marts, for the touched dates only when incremental.
    if report.mode == "incremental":
        report.touched_dates = _touched_dates(con, touch_models, state.get("range", ""), new_state["range"])
        _write_touched(con, report.touched_dates)
    for m in incremental_models:
        t0 = time.perf_counter()
        if report.mode == "incremental":
            if report.touched_dates:
                _update(con, m)
        else:
            _create(con, m)
        report.seconds[m.name] = time.perf_counter() - t0
        report.built.append(m.name)
        _drop(con, release(m.name))
    _write_state(con, {**new_state, "complete": "1"})
    log.info("built %d models (%s%s)", len(report.built), report.mode,
             f", {len(report.touched_dates)} touched date(s)" if report.mode == "incremental" else "")
    return report


def build_models(con: duckdb.DuckDBPyConnection, models: list[Model] | None = None, *,
                 config: Config | None = None, home: Home | None = None, full_refresh: bool = False) -> list[str]:
    """(Re)build every model as a table; returns the names in build order."""
    return build(con, models, config=config, home=home, full_refresh=full_refresh).built
