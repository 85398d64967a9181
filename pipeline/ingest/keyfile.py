"""Secret key files in the state directory (`state/pii.key`, `state/archive.key`, DESIGN §1).

A key is created once and never rotated silently: losing or replacing it makes every customer key
(pii) or every archived file (archive) unreadable, so creation must not race and must not clobber.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pipeline.core.errors import OpkpiError

KEY_BYTES = 32


class KeyFileError(OpkpiError):
    pass


def ensure_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def load_or_create_key(path: Path, *, what: str) -> bytes:
    """Read the key at `path`, creating 32 random bytes (mode 0600) when it does not exist yet."""
    if not path.exists():
        ensure_private_dir(path.parent)
        _create(path)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"Attempted to read the {what} key at {path}, but {exc.strerror or exc}",
                           "Check the file's owner and mode (0600, owned by the opkpi user)") from None
    if len(key) != KEY_BYTES:
        raise KeyFileError(
            f"Attempted to read the {what} key at {path}, but it holds {len(key)} bytes instead of {KEY_BYTES}",
            "Restore the key from the latest `opkpi backup`; never replace it with a new one, "
            "or data written with the old key becomes unreadable")
    return key


def _create(path: Path) -> None:
    # Written under a private name, then hard-linked: link() fails when another process won the race,
    # and then its key is the one everybody uses (os.replace would let two processes use two keys).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
