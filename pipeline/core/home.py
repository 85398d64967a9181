"""The home directory layout (DESIGN §1) and the warehouse writer lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import LockHeld

ENV_HOME = "OPKPI_HOME"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, root: str | os.PathLike[str] | None = None) -> Home:
        chosen = root if root is not None else os.environ.get(ENV_HOME, ".")
        return cls(Path(chosen).expanduser().resolve())

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    @property
    def warehouse_db(self) -> Path:
        return self.warehouse_dir / "opkpi.duckdb"

    @property
    def lock_file(self) -> Path:
        return self.warehouse_dir / ".lock"

    @property
    def published_dir(self) -> Path:
        return self.warehouse_dir / "published"

    @property
    def current_file(self) -> Path:
        return self.published_dir / "CURRENT"

    @property
    def tmp_dir(self) -> Path:
        # DuckDB spill files stay inside the home so the PII scan covers them.
        return self.warehouse_dir / "tmp"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def state_db(self) -> Path:
        return self.state_dir / "opkpi.sqlite"

    @property
    def pii_key(self) -> Path:
        return self.state_dir / "pii.key"

    @property
    def archive_key(self) -> Path:
        return self.state_dir / "archive.key"

    @property
    def archive_dir(self) -> Path:
        return self.root / "archive"

    @property
    def inbox_dir(self) -> Path:
        return self.root / "inbox"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def backups_dir(self) -> Path:
        return self.root / "backups"

    def ensure(self) -> None:
        for d in (self.warehouse_dir, self.published_dir, self.tmp_dir, self.state_dir,
                  self.archive_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)


@contextlib.contextmanager
def warehouse_lock(home: Home, *, what: str = "a warehouse write") -> Iterator[None]:
    """Hold `warehouse/.lock` (flock, non-blocking): one writer at a time, never a wait in cron."""
    home.warehouse_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(home.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(
                f"Attempted {what} at {home.warehouse_dir}, but another opkpi process holds {home.lock_file}",
                "Wait for it to finish; cron runs exit with code 75 and retry next time",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
