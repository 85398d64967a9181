"""The encrypted archive of every ingested raw file (DESIGN §1, §6): the only place raw personal data
exists, and the source the warehouse is rebuilt from and quarantined rows are replayed from.

Layout: `archive/<kind>/YYYY/MM/<sha256>.<ext>.enc` (UTC month of first ingestion, sha256 of the
plaintext) and `<sha256>.meta.enc` beside it. Each file is nonce (12 bytes) ‖ AES-256-GCM ciphertext.
The associated data binds a file to its sha256 and role, so swapping two files is detected too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipeline.core.errors import OpkpiError
from pipeline.core.home import Home
from pipeline.ingest.keyfile import ensure_private_dir, fsync_dir, load_or_create_key

NONCE_BYTES = 12
# AESGCM takes at most 2**31 - 1 bytes in one call; larger files would need a chunked format.
MAX_FILE_BYTES = 2**31 - 1
_SHA = re.compile(r"^[0-9a-f]{64}$")
_EXT = re.compile(r"^[a-z0-9]{1,12}$")
_KIND = re.compile(r"^[a-z0-9_-]{1,64}$")


class ArchiveError(OpkpiError):
    pass


@dataclass(frozen=True)
class ArchiveEntry:
    sha256: str
    kind: str
    dialect: str
    name: str
    ext: str
    ingested_at: str
    options: dict[str, Any] = field(hash=False)
    path: Path


def _ext_of(name: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    # A queue_log has no suffix; any other odd suffix must not escape into the path either.
    return suffix if _EXT.match(suffix) else "raw"


def _aad(sha256: str, role: str) -> bytes:
    return f"opkpi-archive:v1:{sha256}:{role}".encode()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write beside the target and rename: a killed process leaves a `.tmp`, never a half file."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


class Archive:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.root = home.archive_dir
        self._aead: AESGCM | None = None
        # sha256 → entry; entries are immutable once written, so the cache never goes stale.
        self._cache: dict[str, ArchiveEntry] = {}

    @property
    def aead(self) -> AESGCM:
        # The key is created lazily so that merely constructing an Archive (e.g. in `status`) writes nothing.
        if self._aead is None:
            self._aead = AESGCM(load_or_create_key(self.home.archive_key, what="archive"))
        return self._aead

    def _encrypt(self, data: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self.aead.encrypt(nonce, data, aad)

    def _decrypt(self, blob: bytes, aad: bytes, *, what: str, path: Path) -> bytes:
        try:
            return self.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise ArchiveError(
                f"Attempted to decrypt the {what} at {path}, but its authentication tag does not match: "
                "the file was modified, truncated or moved, or state/archive.key is not the key it was written with",
                "Restore the file from a backup of the archive, or state/archive.key from `opkpi backup`") from None

    def store(self, data: bytes, *, sha256: str, kind: str, dialect: str, name: str,
              options: dict[str, Any] | None = None) -> ArchiveEntry:
        """Encrypt and keep `data`; the same sha256 again (under any kind or name) writes nothing."""
        sha256 = sha256.lower()
        existing = self.get(sha256)
        if existing is not None:
            return existing
        if not _SHA.match(sha256) or hashlib.sha256(data).hexdigest() != sha256:
            raise ArchiveError(f"Attempted to archive {name}, but the sha256 given ({sha256[:16]}…) is not "
                               "the sha256 of its content", "This is a bug in the caller; report it")
        if not _KIND.match(kind):
            raise ArchiveError(f"Attempted to archive {name}, but the kind {kind!r} is not a valid directory name",
                               "Use a canonical kind name")
        if len(data) > MAX_FILE_BYTES:
            raise ArchiveError(f"Attempted to archive {name}, but it holds {len(data)} bytes, more than the "
                               f"{MAX_FILE_BYTES} one encrypted file can take", "Split the export by date range")
        now = datetime.now(UTC)
        ext = _ext_of(name)
        month_dir = self.root / kind / f"{now:%Y}" / f"{now:%m}"
        for d in (self.root, self.root / kind, month_dir.parent, month_dir):
            ensure_private_dir(d)
        entry = ArchiveEntry(sha256=sha256, kind=kind, dialect=dialect, name=name, ext=ext,
                             ingested_at=now.isoformat(timespec="microseconds"), options=dict(options or {}),
                             path=month_dir / f"{sha256}.{ext}.enc")
        meta = {"name": name, "kind": kind, "dialect": dialect, "ext": ext, "sha256": sha256,
                "ingested_at": entry.ingested_at, "options": entry.options}
        meta_bytes = json.dumps(meta, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
        # Data first, metadata last: an entry exists only once its metadata does, so a kill in between
        # leaves an orphan data file that the next store of the same content simply overwrites.
        _atomic_write(entry.path, self._encrypt(data, _aad(sha256, "data")))
        _atomic_write(self._meta_path(month_dir, sha256), self._encrypt(meta_bytes, _aad(sha256, "meta")))
        self._cache[sha256] = entry
        return entry

    @staticmethod
    def _meta_path(month_dir: Path, sha256: str) -> Path:
        return month_dir / f"{sha256}.meta.enc"

    def _load_meta(self, meta_path: Path) -> ArchiveEntry:
        sha256 = meta_path.name.split(".", 1)[0]
        cached = self._cache.get(sha256)
        if cached is not None:
            return cached
        try:
            blob = meta_path.read_bytes()
        except OSError as exc:
            raise ArchiveError(f"Attempted to read the archive metadata {meta_path}, but {exc.strerror or exc}",
                               "Check the archive's permissions") from None
        raw = self._decrypt(blob, _aad(sha256, "meta"), what="archive metadata", path=meta_path)
        meta = json.loads(raw)
        entry = ArchiveEntry(sha256=sha256, kind=meta["kind"], dialect=meta["dialect"], name=meta["name"],
                             ext=meta["ext"], ingested_at=meta["ingested_at"], options=meta.get("options") or {},
                             path=meta_path.with_name(f"{sha256}.{meta['ext']}.enc"))
        self._cache[sha256] = entry
        return entry

    def get(self, sha256: str) -> ArchiveEntry | None:
        sha256 = sha256.lower()
        if sha256 in self._cache:
            return self._cache[sha256]
        if not _SHA.match(sha256) or not self.root.is_dir():
            return None
        # Another process may have archived it since this one started, so a miss looks on disk.
        for meta_path in self.root.glob(f"*/*/*/{sha256}.meta.enc"):
            return self._load_meta(meta_path)
        return None

    def read(self, sha256: str) -> bytes:
        """The decrypted file; raises ArchiveError when it is missing, tampered with or the key is wrong."""
        entry = self.get(sha256)
        if entry is None:
            raise ArchiveError(f"Attempted to read the archived file {sha256} from {self.root}, but no such "
                               "entry exists", "Ingest the file again, or restore the archive from its backup")
        try:
            blob = entry.path.read_bytes()
        except FileNotFoundError:
            raise ArchiveError(f"Attempted to read the archived file {entry.name} at {entry.path}, but the data "
                               "file is missing (its metadata is there)",
                               "Restore the file from a backup of the archive, or ingest the original again "
                               "after removing the metadata file") from None
        data = self._decrypt(blob, _aad(entry.sha256, "data"), what=f"archived file {entry.name}", path=entry.path)
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise ArchiveError(f"Attempted to read the archived file {entry.name} at {entry.path}, but its content "
                               "does not match its sha256", "Restore the file from a backup of the archive")
        return data

    def entries(self) -> list[ArchiveEntry]:
        """Every entry, ordered by (ingested_at, name)."""
        if not self.root.is_dir():
            return []
        found = [self._load_meta(p) for p in self.root.glob("*/*/*/*.meta.enc")]
        return sorted(found, key=lambda e: (e.ingested_at, e.name))
