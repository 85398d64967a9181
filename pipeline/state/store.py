"""The SQLite state store (DESIGN §1): the system of record, never rebuilt, only backed up.

Connections run in WAL mode with a 5 s busy timeout so the CLI and the dashboard can write short
transactions side by side. The schema moves forward by `PRAGMA user_version`: `MIGRATIONS[i]` takes
the store from version i to i + 1, each in one IMMEDIATE transaction, so two processes opening a
fresh store at once cannot both apply it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pipeline.core.errors import ConfigError, UsageError
from pipeline.core.home import Home

BUSY_TIMEOUT_MS = 5000

MIGRATIONS: list[str] = [
    # 1: audit log, quarantine decisions, identity edits, runs.
    """
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at_utc TEXT NOT NULL,
        actor TEXT NOT NULL,
        actor_role TEXT NOT NULL,
        action TEXT NOT NULL,
        entity TEXT NOT NULL,
        entity_id TEXT,
        before_json TEXT,
        after_json TEXT,
        reason TEXT,
        run_id TEXT
    );
    CREATE INDEX audit_log_entity ON audit_log (entity, entity_id);
    CREATE TABLE quarantine_decisions (
        id INTEGER PRIMARY KEY,
        file_sha256 TEXT NOT NULL,
        line INTEGER,
        rule_id TEXT,
        decision TEXT NOT NULL CHECK (decision IN ('discard', 'replay')),
        reason TEXT,
        actor TEXT NOT NULL,
        at_utc TEXT NOT NULL
    );
    CREATE INDEX quarantine_decisions_file ON quarantine_decisions (file_sha256, line);
    -- An overlay on the ingested operator_identities, applied in staging (state wins per key).
    -- operator_id NULL ends a mapping for the interval.
    CREATE TABLE identity_edits (
        id INTEGER PRIMARY KEY,
        source_system TEXT NOT NULL,
        source_id TEXT NOT NULL,
        operator_id TEXT,
        valid_from TEXT NOT NULL,
        valid_to TEXT,
        actor TEXT NOT NULL,
        at_utc TEXT NOT NULL,
        reason TEXT
    );
    CREATE INDEX identity_edits_key ON identity_edits (source_system, source_id, valid_from);
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        started_at TEXT,
        finished_at TEXT,
        status TEXT,
        exit_code INTEGER,
        message TEXT
    );
    """,
]

Decision = Literal["discard", "replay"]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _statements(script: str) -> Iterator[str]:
    # executescript() would COMMIT the migration's IMMEDIATE transaction first, so statements run one
    # by one; complete_statement keeps a `;` inside a string or trigger body from splitting it.
    buf = ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip().strip(";").strip():
                yield buf
            buf = ""
    if buf.strip().strip(";").strip():
        raise ValueError(f"incomplete SQL statement in a migration: {buf.strip()[:80]}")


def _user_version(con: sqlite3.Connection) -> int:
    return int(con.execute("PRAGMA user_version").fetchone()[0])


def _migrate(con: sqlite3.Connection, path: Path) -> None:
    current = _user_version(con)
    if current > len(MIGRATIONS):
        raise ConfigError(
            f"Attempted to open the state store at {path}, but its schema version {current} is newer than "
            f"this opkpi knows ({len(MIGRATIONS)})", "Upgrade opkpi; never downgrade against a live state store")
    for version, script in enumerate(MIGRATIONS, start=1):
        if current >= version:
            continue
        con.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = _user_version(con)
            if current < version:
                for statement in _statements(script):
                    con.execute(statement)
                con.execute(f"PRAGMA user_version = {version}")
                current = version
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def open_state(home: Home) -> sqlite3.Connection:
    """Open (creating and migrating when needed) `state/opkpi.sqlite`.

    The connection's implicit transactions begin IMMEDIATE: a writer takes the write lock at its
    first statement that changes data and waits up to 5 s for it, instead of failing later on upgrade.
    Use `with write_transaction(con):` to group changes with their audit rows.
    """
    state_dir = home.state_dir
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    path = home.state_db
    # SQLite gives its -wal and -shm files the database file's mode, so creating it 0600 covers all three.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ConfigError(f"Attempted to open the state store at {path} in WAL mode, but SQLite kept "
                              f"journal mode {mode!r}", "Put the home on a local file system (WAL needs shared memory)")
        con.execute("PRAGMA foreign_keys = ON")
        _migrate(con, path)
    except BaseException:
        con.close()
        raise
    con.isolation_level = "IMMEDIATE"
    return con


@contextlib.contextmanager
def write_transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One IMMEDIATE transaction, committed on success, rolled back on error. Inside a transaction the
    caller already holds, it joins that one and leaves the commit to the caller."""
    if con.in_transaction:
        yield con
        return
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    con.commit()


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def audit(con: sqlite3.Connection, *, actor: str, actor_role: str, action: str, entity: str,
          entity_id: str | None = None, before: Any = None, after: Any = None, reason: str | None = None,
          run_id: str | None = None) -> int:
    """Append an audit row and return its id. It does NOT commit: call it inside the transaction
    that makes the change, so the change and its audit row commit (or roll back) together.
    `before`/`after` are JSON-encoded (dates, Decimals and other objects through str())."""
    cur = con.execute(
        "INSERT INTO audit_log (at_utc, actor, actor_role, action, entity, entity_id, before_json, after_json,"
        " reason, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (utc_now(), actor, actor_role, action, entity, entity_id, _json(before), _json(after), reason, run_id))
    return int(cur.lastrowid or 0)


@dataclass(frozen=True)
class QuarantineDecision:
    id: int
    file_sha256: str
    line: int | None
    rule_id: str | None
    decision: Decision
    reason: str | None
    actor: str
    at_utc: str


def record_quarantine_decision(con: sqlite3.Connection, *, file_sha256: str, decision: Decision, actor: str,
                               actor_role: str = "operator", line: int | None = None, rule_id: str | None = None,
                               reason: str | None = None, run_id: str | None = None) -> QuarantineDecision:
    """Store a discard/replay decision for quarantined rows of one archived file — one row (`line`),
    one rule, or the whole file when both are None — with its audit row, in one transaction."""
    if decision not in ("discard", "replay"):
        raise UsageError(f"Attempted to record the quarantine decision {decision!r}, but only discard and "
                         "replay exist", "Use `opkpi quarantine discard` or `opkpi quarantine replay`")
    if decision == "discard" and not (reason and reason.strip()):
        raise UsageError("Attempted to discard quarantined rows, but no reason was given",
                         "Pass --reason TEXT: a discard is audited")
    at = utc_now()
    with write_transaction(con):
        cur = con.execute(
            "INSERT INTO quarantine_decisions (file_sha256, line, rule_id, decision, reason, actor, at_utc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", (file_sha256, line, rule_id, decision, reason, actor, at))
        row = QuarantineDecision(id=int(cur.lastrowid or 0), file_sha256=file_sha256, line=line, rule_id=rule_id,
                                 decision=decision, reason=reason, actor=actor, at_utc=at)
        audit(con, actor=actor, actor_role=actor_role, action=f"quarantine.{decision}", entity="quarantine",
              entity_id=f"{file_sha256}:{'*' if line is None else line}:{rule_id or '*'}",
              after={"decision": decision, "file_sha256": file_sha256, "line": line, "rule_id": rule_id},
              reason=reason, run_id=run_id)
    return row


def quarantine_decisions(con: sqlite3.Connection, *, file_sha256: str | None = None) -> list[QuarantineDecision]:
    """Decisions in the order they were taken (a later one for the same rows wins)."""
    sql = "SELECT id, file_sha256, line, rule_id, decision, reason, actor, at_utc FROM quarantine_decisions"
    params: tuple[Any, ...] = ()
    if file_sha256 is not None:
        sql += " WHERE file_sha256 = ?"
        params = (file_sha256,)
    return [QuarantineDecision(*row) for row in con.execute(sql + " ORDER BY id", params).fetchall()]


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode = 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def backup(home: Home, out_dir: Path | None = None) -> Path:
    """A consistent online copy of the state store plus `pii.key` and `archive.key`, as
    `opkpi-state-<UTC timestamp>.tar.gz` (mode 0600). The archive itself is not included: its files
    are immutable and encrypted, so copy that directory with ordinary file backups."""
    out = out_dir if out_dir is not None else home.backups_dir
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    if out_dir is None:
        os.chmod(out, 0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = out / f"opkpi-state-{stamp}.tar.gz"
    n = 1
    while target.exists():
        n += 1
        target = out / f"opkpi-state-{stamp}-{n}.tar.gz"
    # The plain copy goes through a private directory beside the target, never the system temp dir.
    with tempfile.TemporaryDirectory(dir=out, prefix=".opkpi-backup-") as work:
        copy = Path(work) / "opkpi.sqlite"
        src = open_state(home)
        try:
            dst = sqlite3.connect(copy)
            try:
                src.backup(dst)
                # One self-contained file: no -wal needed beside it after extraction.
                dst.execute("PRAGMA journal_mode = DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        tmp = target.with_name(target.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                with tarfile.open(fileobj=fh, mode="w:gz") as tar:
                    tar.add(copy, arcname="opkpi.sqlite", filter=_private)
                    for key in (home.pii_key, home.archive_key):
                        if key.exists():
                            tar.add(key, arcname=key.name, filter=_private)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return target
