"""Every model (includes expanded) and every shared metric fragment transpiles to Spark SQL, so the
models can later run on Spark (issue 3)."""

from __future__ import annotations

import pytest
import sqlglot

from pipeline.transforms import SQL_DIR, discover_models

MODELS = discover_models()


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_model_transpiles_to_spark(model) -> None:
    out = sqlglot.transpile(model.sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    assert len(out) == 1 and out[0].strip()


def test_every_model_names_its_grain_and_is_one_file_per_table() -> None:
    names = [m.name for m in MODELS]
    assert len(names) == len(set(names))
    for m in MODELS:
        assert m.grain.startswith("One row"), f"{m.path}: first line must say the grain"
        assert m.path.stem == m.name


def test_every_metric_fragment_is_used() -> None:
    used = "\n".join(m.path.read_text(encoding="utf-8") for m in MODELS)
    used += (SQL_DIR.parent / "pipeline" / "metrics" / "report.py").read_text(encoding="utf-8")
    for fragment in sorted((SQL_DIR / "metrics").glob("*.sql")):
        text_users = used + "\n".join(f.read_text(encoding="utf-8") for f in (SQL_DIR / "metrics").glob("*.sql"))
        assert f"include: metrics/{fragment.name}" in text_users, f"{fragment.name} is included nowhere"
