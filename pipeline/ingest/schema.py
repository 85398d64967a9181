"""Warehouse tables that ingest owns: one `raw_<kind>` table (and its `_history`) per canonical
kind, the load manifest, committed chunks, quarantine and load warnings."""

from __future__ import annotations

import duckdb

from pipeline.ingest.contract import KINDS, PII_COLUMNS, KindSpec

DUCK_TYPES = {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN",
              "timestamp": "TIMESTAMPTZ", "date": "DATE"}

# Bookkeeping columns on every raw row: where it came from and its content hash.
META_COLUMNS = {"_sha256": "VARCHAR", "_file": "VARCHAR", "_line": "BIGINT", "_load_id": "VARCHAR",
                "_row_hash": "VARCHAR", "_loaded_at": "TIMESTAMPTZ"}

BOOKKEEPING_DDL = """
CREATE TABLE IF NOT EXISTS load_manifest (
    load_id VARCHAR, attempt_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, file VARCHAR, path VARCHAR,
    sha256 VARCHAR, size_bytes BIGINT, kind VARCHAR, dialect VARCHAR, status VARCHAR,
    rows_read BIGINT, inserted BIGINT, updated BIGINT, duplicate BIGINT, quarantined BIGINT,
    deferred BIGINT, flagged BIGINT, warnings BIGINT, chunk_rows BIGINT, chunks_total INTEGER,
    chunks_done INTEGER, resumed_from VARCHAR, message VARCHAR
);
CREATE TABLE IF NOT EXISTS load_chunks (
    load_id VARCHAR, sha256 VARCHAR, chunk_no INTEGER, first_line BIGINT, last_line BIGINT,
    rows_read BIGINT, inserted BIGINT, updated BIGINT, duplicate BIGINT, quarantined BIGINT,
    flagged BIGINT, committed_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS quarantine (
    load_id VARCHAR, sha256 VARCHAR, file VARCHAR, kind VARCHAR, line BIGINT, "column" INTEGER,
    column_name VARCHAR, rule_id VARCHAR, location VARCHAR, message VARCHAR, raw_masked VARCHAR,
    quarantined_at TIMESTAMPTZ, status VARCHAR, decided_reason VARCHAR
);
CREATE TABLE IF NOT EXISTS load_warnings (
    load_id VARCHAR, sha256 VARCHAR, file VARCHAR, kind VARCHAR, line BIGINT, "column" INTEGER,
    column_name VARCHAR, rule_id VARCHAR, action VARCHAR, location VARCHAR, message VARCHAR,
    value_masked VARCHAR
);
"""


def stored_columns(spec: KindSpec) -> dict[str, str]:
    """Contract columns as stored: personal-data columns replaced by the pseudonymous key."""
    cols: dict[str, str] = {}
    for c in spec.columns:
        if c.name in PII_COLUMNS:
            continue
        cols[c.name] = DUCK_TYPES[c.dtype]
    if any(c.name in PII_COLUMNS or c.name == "customer_id" for c in spec.columns):
        cols["customer_key"] = "VARCHAR"
        cols["customer_key_source"] = "VARCHAR"
    return cols


def raw_table_ddl(spec: KindSpec) -> str:
    cols = {**stored_columns(spec), **META_COLUMNS}
    body = ", ".join(f'"{n}" {t}' for n, t in cols.items())
    hist = body + ', "_superseded_at" TIMESTAMPTZ, "_superseded_by" VARCHAR'
    return (f"CREATE TABLE IF NOT EXISTS {spec.table} ({body});\n"
            f"CREATE TABLE IF NOT EXISTS {spec.table}_history ({hist});")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    from pipeline.ingest.dialects.zendesk import ensure_tables as ensure_zendesk_tables

    con.execute(BOOKKEEPING_DDL)
    for spec in KINDS.values():
        con.execute(raw_table_ddl(spec))
    # Source-specific extras exist from the start so their marts build before any such file arrives.
    ensure_zendesk_tables(con)


def data_tables() -> list[str]:
    return [t for spec in KINDS.values() for t in (spec.table, f"{spec.table}_history")]
