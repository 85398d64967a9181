"""Source dialects: real formats (Asterisk queue_log and CDR, Zendesk exports, column mappings)
translated into canonical parsed frames. After translation every row goes through the same
casting, pseudonymisation, validation, quarantine and chunked commit as a canonical file.

A dialect module exposes `read(data: bytes, ctx: DialectContext) -> list[tuple[str, ParsedFile]]`:
one (kind, ParsedFile) per canonical kind the file yields. The ParsedFile's header holds canonical
column names, its frame string (or typed) values plus `_line` (the source line a record comes
from), its problems the source lines it could not read (action `quarantine`, with their line), and
`deferred` the records held back for the next read (a log's unfinished last line).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipeline.core.config import Config
from pipeline.core.errors import UsageError

DIALECTS: dict[str, str] = {
    "asterisk-queue-log": "pipeline.ingest.dialects.asterisk_queue_log",
    "asterisk-cdr": "pipeline.ingest.dialects.asterisk_cdr",
    "zendesk": "pipeline.ingest.dialects.zendesk",
    "mapping": "pipeline.ingest.dialects.mapping",
}


@dataclass
class DialectContext:
    config: Config
    con: duckdb.DuckDBPyConnection   # the warehouse, for state a dialect keeps (e.g. tail offsets)
    path: Path
    label: str
    options: dict[str, Any] = field(default_factory=dict)
    pseudonymiser: Any = None
    archive: Any = None               # the home's encrypted archive (a dialect may archive derived bytes)


def available() -> list[str]:
    out = ["canonical"]
    for name, module in DIALECTS.items():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        out.append(name)
    return out


def read_dialect(name: str, data: bytes, ctx: DialectContext) -> list:
    module_name = DIALECTS.get(name)
    if module_name is None or name not in available():
        raise UsageError(f"Attempted to ingest {ctx.label} with --format {name}, but that dialect is not available",
                         "Use one of: " + ", ".join(available()))
    return importlib.import_module(module_name).read(data, ctx)
