"""The committed docs are exactly what the registry, the contract and the suites' plan render."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.ingest import docs
from pipeline.ingest.contract import KINDS
from pipeline.ingest.rules import RULES

HOW_TO_FIX = "docs/{name} is out of date: run `python -m pipeline.ingest.docs` and commit the result"


@pytest.mark.parametrize("name", [docs.VALIDATION_MD, docs.DATA_CONTRACT_MD])
def test_committed_docs_match_rendered(name: str) -> None:
    path = docs.DOCS_DIR / name
    assert path.exists(), HOW_TO_FIX.format(name=name)
    assert path.read_text(encoding="utf-8") == docs.rendered()[name], HOW_TO_FIX.format(name=name)


def test_validation_md_lists_every_rule_and_kind() -> None:
    text = docs.render_validation_md()
    assert all(f"| `{rule_id}` |" in text for rule_id in RULES)
    assert all(f"### {kind}\n" in text for kind in KINDS)


def test_rendering_does_not_import_great_expectations() -> None:
    # Docs and the drift test stay fast: the expectation table comes from the plan, not from GE.
    # A fresh interpreter, because another test in this process may have imported GE already.
    code = ("import sys; from pipeline.ingest import docs; docs.rendered(); "
            "assert 'great_expectations' not in sys.modules, 'docs imported GE'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(docs.__file__).parents[2])
