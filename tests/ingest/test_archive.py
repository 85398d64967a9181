"""The encrypted raw-file archive (DESIGN §1, §6)."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.core.errors import OpkpiError
from pipeline.core.home import Home
from pipeline.ingest.archive import Archive, ArchiveError

DATA = b"call_id,customer_phone\nc1,+7 912 345-67-89\n"
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


def _store(archive: Archive, data: bytes = DATA, name: str = "calls.csv", kind: str = "calls"):  # type: ignore[no-untyped-def]
    return archive.store(data, sha256=hashlib.sha256(data).hexdigest(), kind=kind, dialect="canonical",
                         name=name, options={"encoding": None, "timezone": "Europe/Moscow"})


def test_roundtrip_layout_and_metadata(home: Home) -> None:
    entry = _store(Archive(home))
    month = datetime.now(UTC).strftime("%Y/%m")
    assert entry.path == home.archive_dir / "calls" / month / f"{SHA}.csv.enc"
    assert (entry.path.parent / f"{SHA}.meta.enc").is_file()
    assert (entry.sha256, entry.kind, entry.dialect, entry.name, entry.ext) == (SHA, "calls", "canonical",
                                                                                "calls.csv", "csv")
    assert entry.options == {"encoding": None, "timezone": "Europe/Moscow"}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$", entry.ingested_at)

    fresh = Archive(home)  # no cache: everything comes from disk
    assert fresh.read(SHA) == DATA
    assert fresh.get(SHA) == entry
    assert fresh.entries() == [entry]


def test_stored_bytes_are_encrypted(home: Home) -> None:
    entry = _store(Archive(home))
    for f in entry.path.parent.iterdir():
        blob = f.read_bytes()
        assert b"+7 912" not in blob and b"calls.csv" not in blob and b"customer_phone" not in blob
    # A fresh nonce per file: the same plaintext in another home encrypts differently anyway.
    assert len(entry.path.read_bytes()) == 12 + len(DATA) + 16


def test_file_and_key_modes(home: Home) -> None:
    entry = _store(Archive(home))
    assert stat.S_IMODE(os.stat(home.archive_key).st_mode) == 0o600
    assert len(home.archive_key.read_bytes()) == 32
    for f in entry.path.parent.iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    for d in (home.archive_dir, entry.path.parent):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert not list(entry.path.parent.glob("*.tmp"))


def test_store_is_idempotent_across_names_and_kinds(home: Home) -> None:
    archive = Archive(home)
    first = _store(archive)
    before = {p: p.stat().st_mtime_ns for p in home.archive_dir.rglob("*") if p.is_file()}
    assert _store(archive, name="renamed.csv") == first
    assert _store(Archive(home), name="other.csv", kind="tickets") == first  # found on disk, not in cache
    after = {p: p.stat().st_mtime_ns for p in home.archive_dir.rglob("*") if p.is_file()}
    assert before == after
    assert not (home.archive_dir / "tickets").exists()


def test_entries_are_ordered(home: Home) -> None:
    archive = Archive(home)
    a = _store(archive, data=b"a\n1\n", name="b.csv")
    b = _store(archive, data=b"a\n2\n", name="a.txt", kind="tickets")
    assert [e.sha256 for e in Archive(home).entries()] == [a.sha256, b.sha256]
    assert b.ext == "txt"
    assert _store(archive, data=b"x\n", name="queue_log", kind="queue_log").ext == "raw"


def test_tampered_data_is_detected(home: Home) -> None:
    entry = _store(Archive(home))
    blob = bytearray(entry.path.read_bytes())
    blob[20] ^= 0x01
    entry.path.write_bytes(bytes(blob))
    with pytest.raises(ArchiveError, match="authentication tag does not match") as info:
        Archive(home).read(SHA)
    assert isinstance(info.value, OpkpiError)
    assert str(entry.path) in str(info.value)


def test_tampered_metadata_is_detected(home: Home) -> None:
    entry = _store(Archive(home))
    meta = entry.path.parent / f"{SHA}.meta.enc"
    meta.write_bytes(meta.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ArchiveError, match="archive metadata"):
        Archive(home).get(SHA)


def test_swapped_files_are_detected(home: Home) -> None:
    archive = Archive(home)
    a = _store(archive, data=b"a\n1\n")
    b = _store(archive, data=b"a\n2\n")
    a.path.write_bytes(b.path.read_bytes())
    with pytest.raises(ArchiveError):
        Archive(home).read(a.sha256)


def test_wrong_key_is_detected(home: Home) -> None:
    _store(Archive(home))
    home.archive_key.write_bytes(b"\x00" * 32)
    with pytest.raises(ArchiveError, match="archive.key"):
        Archive(home).read(SHA)


def test_missing_entry_and_missing_data(home: Home) -> None:
    archive = Archive(home)
    assert archive.get("0" * 64) is None
    with pytest.raises(ArchiveError, match="no such entry"):
        archive.read("0" * 64)
    entry = _store(archive)
    entry.path.unlink()
    with pytest.raises(ArchiveError, match="data file is missing"):
        Archive(home).read(SHA)


def test_wrong_sha_is_refused(home: Home) -> None:
    with pytest.raises(ArchiveError, match="not the sha256"):
        Archive(home).store(DATA, sha256="0" * 64, kind="calls", dialect="canonical", name="calls.csv")
    assert not list(home.archive_dir.rglob("*.enc"))


def test_an_archive_that_was_never_written_is_empty(home: Home) -> None:
    archive = Archive(home)
    assert archive.entries() == []
    assert not home.archive_key.exists()  # constructing an Archive writes nothing
