"""A live, growing queue_log (DESIGN §5 `tail`): what was consumed of each source, and the event
machine's state between reads, kept in the warehouse.

Per source (the file's name, or `options["source"]`) the table `asterisk_queue_log_tail` holds the
byte offset of the consumed prefix (always at a line end), its sha256, and the machine's state
(open stints, leg counters, login and pause intervals): encrypted, because it holds customer
numbers of calls still open (DESIGN §6: no raw personal data in DuckDB).

A read's state is saved `pending`, tagged with the sha256 of the bytes read; the loader commits
the rows afterwards, in its own transactions. The next read of the source first settles it: when
the load manifest shows every kind of that read loaded, the state becomes `committed`, otherwise
(the process died, the file was rejected) it is dropped and the read starts again from the last
committed state, so no row is lost and none counted twice (a re-emitted row is a duplicate).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import secrets
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

log = logging.getLogger("opkpi.ingest.asterisk")

TABLE = "asterisk_queue_log_tail"
DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    source VARCHAR, version BIGINT, status VARCHAR, data_sha256 VARCHAR, kinds VARCHAR,
    byte_offset BIGINT, prefix_sha256 VARCHAR, state BLOB, saved_at TIMESTAMPTZ)"""
GZIP_MAGIC = b"\x1f\x8b"
# `byte_offset` after the rest of a rotated generation was consumed on its own (a rebuild replaying
# an archived continuation): the next read starts the new generation at byte 0, searching nothing.
GENERATION_DONE = -1
_NONCE = 12
_PLAIN, _SEALED = b"P", b"E"


@dataclass
class Committed:
    version: int
    offset: int
    prefix_sha256: str
    state: dict


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def maybe_gunzip(data: bytes) -> bytes:
    return gzip.decompress(data) if data.startswith(GZIP_MAGIC) else data


# --- the state blob --------------------------------------------------------------------------

class Sealer:
    """AES-GCM over the state JSON with a key derived from the personal-data key, bound to the source."""

    def __init__(self, pseudonymiser: Any) -> None:
        self._aead = None
        if pseudonymiser is not None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._aead = AESGCM(pseudonymiser.derive_key("opkpi:asterisk-queue-log:state:v1"))

    def seal(self, state: dict, source: str) -> bytes:
        if self._aead is None:  # no key to seal with: keep no customer numbers
            for call in state.get("calls", {}).values():
                call[1] = None
            return _PLAIN + zlib.compress(json.dumps(state).encode())
        nonce = secrets.token_bytes(_NONCE)
        body = zlib.compress(json.dumps(state).encode())
        return _SEALED + nonce + self._aead.encrypt(nonce, body, source.encode())

    def open(self, blob: bytes, source: str) -> dict:
        kind, rest = blob[:1], blob[1:]
        if kind == _PLAIN:
            return json.loads(zlib.decompress(rest))
        if self._aead is None:
            raise RuntimeError("the tail state is encrypted but no personal-data key is available")
        return json.loads(zlib.decompress(self._aead.decrypt(rest[:_NONCE], rest[_NONCE:], source.encode())))


# --- the table -------------------------------------------------------------------------------

def settle(con: duckdb.DuckDBPyConnection, source: str, sealer: Sealer) -> Committed | None:
    """Commit or drop the pending read of `source`, then return its last committed state."""
    con.execute(DDL)
    pending = con.execute(f"SELECT version, data_sha256, kinds FROM {TABLE} WHERE source = ? AND status = 'pending'",
                          [source]).fetchall()
    for version, data_sha, kinds_text in pending:
        kinds = [k for k in kinds_text.split(",") if k]
        done = con.execute("""SELECT count(DISTINCT kind) FROM load_manifest WHERE sha256 = ? AND kind IN
            (SELECT unnest(?::VARCHAR[])) AND status IN ('loaded', 'partial')""", [data_sha, kinds]).fetchone()[0]
        if kinds and done == len(kinds):
            con.execute(f"UPDATE {TABLE} SET status = 'committed' WHERE source = ? AND version = ?", [source, version])
        else:
            con.execute(f"DELETE FROM {TABLE} WHERE source = ? AND version = ?", [source, version])
    row = con.execute(f"""SELECT version, byte_offset, prefix_sha256, state FROM {TABLE}
        WHERE source = ? AND status = 'committed' ORDER BY version DESC LIMIT 1""", [source]).fetchone()
    if row is None:
        return None
    con.execute(f"DELETE FROM {TABLE} WHERE source = ? AND version < ?", [source, row[0]])
    return Committed(int(row[0]), int(row[1]), row[2], sealer.open(bytes(row[3]), source))


def save_pending(con: duckdb.DuckDBPyConnection, source: str, sealer: Sealer, *, base: Committed | None,
                 data_sha256: str, kinds: list[str], offset: int, prefix_sha256: str, state: dict) -> None:
    version = (base.version if base else 0) + 1
    con.execute(f"INSERT INTO {TABLE} VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, now())",
                [source, version, data_sha256, ",".join(kinds), offset, prefix_sha256, sealer.seal(state, source)])


# --- rotation --------------------------------------------------------------------------------

def rotated_candidates(path: Path) -> list[Path]:
    """Where logrotate leaves the previous file: `queue_log.1`, `.0`, compressed `.gz`, or a
    `dateext` copy (`queue_log-20240603`), newest first."""
    names = [f"{path.name}.1", f"{path.name}.0", f"{path.name}.1.gz", f"{path.name}.0.gz", f"{path.name}.gz"]
    out = [path.with_name(n) for n in names]
    try:
        dated = sorted(path.parent.glob(f"{path.name}-*"), key=lambda p: p.stat().st_mtime, reverse=True)[:4]
    except OSError:
        dated = []
    return [p for p in [*out, *dated] if p != path and p.is_file()]


def find_rotated(path: Path, offset: int, prefix_sha256: str) -> tuple[Path, bytes] | None:
    """The previous generation of the file: the candidate whose first `offset` bytes hash to the
    consumed prefix. Returns its name and content."""
    for cand in rotated_candidates(path):
        try:
            data = maybe_gunzip(cand.read_bytes())
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error):
            continue
        if len(data) >= offset and sha256(data[:offset]) == prefix_sha256:
            return cand, data
    return None


def archive_continuation(ctx: Any, *, source: str, name: str, remainder: bytes, first_line: int,
                         dialect: str) -> None:
    """Keep the consumed rest of a rotated generation in the encrypted archive, as its own entry
    before the new file's, so a rebuild replays it (`options["continues"]`) in the original order:
    those bytes are in no archived version of the live file."""
    if not remainder.strip():
        return
    archive = getattr(ctx, "archive", None) or _archive_of(ctx.con)
    if archive is None:
        log.warning("%s: no archive found for the rest of the rotated %s; a rebuild will miss its lines",
                    ctx.label, name)
        return
    archive.store(remainder, sha256=sha256(remainder), kind="calls", dialect=dialect, name=name,
                  options={"source": source, "continues": True, "first_line": first_line})


def _archive_of(con: duckdb.DuckDBPyConnection) -> Any:
    """The home's archive, found from the warehouse file the connection has open."""
    from pipeline.core.home import Home
    from pipeline.ingest.archive import Archive

    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if not row or not row[0]:
        return None
    db = Path(row[0]).resolve()
    if db.parent.name != "warehouse":
        return None
    home = Home(db.parent.parent)
    return Archive(home) if home.warehouse_db.resolve() == db else None
