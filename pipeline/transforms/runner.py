"""Build the SQL models of `sql/` (staging → intermediate → marts) in dependency order.

A model is one file; its name is the table name; its first line is a comment naming the grain.
Dependencies are the other models' names the SQL mentions, so no templating is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.core.errors import OpkpiError

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
LAYERS = ("staging", "intermediate", "marts")


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    path: Path
    sql: str
    grain: str


def discover_models(sql_dir: Path = SQL_DIR) -> list[Model]:
    models = []
    for layer in LAYERS:
        for path in sorted((sql_dir / layer).rglob("*.sql")):
            text = path.read_text(encoding="utf-8")
            first = text.lstrip().splitlines()[0] if text.strip() else ""
            if not first.startswith("--"):
                raise OpkpiError(f"Attempted to read the model {path}, but its first line is not a grain comment",
                                 "Start the file with `-- One row per ...`")
            models.append(Model(path.stem, layer, path, text, first.lstrip("- ").strip()))
    return _ordered(models)


def _ordered(models: list[Model]) -> list[Model]:
    by_name = {m.name: m for m in models}
    deps = {m.name: {n for n in by_name if n != m.name and re.search(rf"\b{re.escape(n)}\b", m.sql)}
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
    return done


def build_models(con: duckdb.DuckDBPyConnection, models: list[Model] | None = None) -> list[str]:
    """(Re)build every model as a table; returns the names in build order."""
    built = []
    for m in models or discover_models():
        body = m.sql.strip().rstrip(";")
        try:
            con.execute(f'CREATE OR REPLACE TABLE "{m.name}" AS {body}')
        except duckdb.Error as exc:
            raise OpkpiError(f"Attempted to build the model {m.name} from {m.path}, but DuckDB said: {exc}",
                             "Fix the SQL; run `opkpi run --full-refresh` after") from None
        built.append(m.name)
    return built
