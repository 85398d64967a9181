"""Acceptance test for DESIGN §6: no raw customer phone or e-mail survives anywhere in the home.

DEPENDS ON THE CLI: it runs the real `opkpi ingest`, `opkpi run` and `opkpi quarantine list` as
subprocesses, and skips (with that reason) only while one of those commands does not exist yet. Once
they exist it must pass; a CLI that crashes on `--help` fails it rather than skipping.

Known phone numbers and e-mails are planted in canonical inputs, including in a row that is
quarantined by a row rule, a row with a wrong field count, and a column the contract does not know.
Then every file under the test's temp root (home: warehouse db and its WAL, DuckDB spill dir,
published snapshots, archive, state store and its WAL, logs, exports; the TMPDIR given to the CLI;
the CLI's HOME and working directory) is read as bytes and searched for each planted value in several
spellings and in UTF-8 and UTF-16-LE. Because DuckDB may compress strings on disk (so a byte scan of
a .duckdb file could pass vacuously), every table of every DuckDB file is also read back as text.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import phonenumbers
import pytest

from pipeline.core.home import Home
from pipeline.ingest.archive import Archive

OPKPI = Path(sys.executable).with_name("opkpi")
NEEDED_COMMANDS = (["ingest"], ["run"], ["quarantine", "list"])

CLEAN_PHONE = "+7 912 345-67-89"
SAME_PERSON_PHONE = "8 (912) 345 67 89"
UA_PHONE = "+380 67 123 4567"
QUARANTINED_PHONE = "+7 903 111-22-33"
FIELD_COUNT_PHONE = "+7 905 777-88-99"
BARE_PHONE = "89261234567"
PHONES = [CLEAN_PHONE, SAME_PERSON_PHONE, UA_PHONE, QUARANTINED_PHONE, FIELD_COUNT_PHONE, BARE_PHONE]

CLEAN_EMAIL = "Ivan.Petrov@Example.com"
EXTRA_COLUMN_EMAIL = "Olga.Sidorova@Mail.ru"
QUARANTINED_EMAIL = "Quarantined.Person@Example.org"
EMAILS = [CLEAN_EMAIL, EXTRA_COLUMN_EMAIL, QUARANTINED_EMAIL]

T = "2026-10-14T{}:00+03:00"
CALLS = "\n".join([
    "call_id,leg,direction,queue_id,agent_id,customer_phone,enqueued_at,answered_at,ended_at,outcome,end_reason,talk_s",
    f"c1,1,inbound,support,op1,{CLEAN_PHONE},{T.format('09:00')},{T.format('09:01')},{T.format('09:05')},answered,resolved,240",
    f'c2,1,inbound,support,op1,"{SAME_PERSON_PHONE}",{T.format("10:00")},{T.format("10:01")},{T.format("10:04")},answered,resolved,180',
    f"c3,1,inbound,support,op2,{UA_PHONE},{T.format('11:00')},{T.format('11:02')},{T.format('11:06')},answered,transfer,240",
    # talk_s = -5: quarantined by negative_duration, the masked row is kept for display.
    f"c4,1,inbound,support,op2,{QUARANTINED_PHONE},{T.format('12:00')},{T.format('12:01')},{T.format('12:03')},answered,resolved,-5",
    # One field too many: quarantined by field_count.
    f"c5,1,inbound,support,op1,{FIELD_COUNT_PHONE},{T.format('13:00')},{T.format('13:01')},{T.format('13:03')},answered,resolved,120,EXTRA",
    f"c6,1,inbound,support,op1,{BARE_PHONE},{T.format('14:00')},{T.format('14:01')},{T.format('14:02')},answered,resolved,60",
    f"c7,1,inbound,support,,anonymous,{T.format('15:00')},,{T.format('15:01')},abandoned,,",
]) + "\n"
TICKETS = "\n".join([
    "ticket_id,channel,direction,created_at,updated_at,status,customer_email,contact_note",
    f"t1,email,inbound,{T.format('09:00')},{T.format('12:00')},solved,{CLEAN_EMAIL},call back tomorrow",
    # The same customer lower-cased, plus an e-mail in a column the contract does not know.
    f'''t2,email,inbound,{T.format('10:00')},{T.format('11:00')},open,{CLEAN_EMAIL.lower()},"write to {EXTRA_COLUMN_EMAIL}"''',
    # updated_at before created_at: quarantined by end_before_start.
    f"t3,email,inbound,{T.format('16:00')},{T.format('08:00')},open,{QUARANTINED_EMAIL},",
]) + "\n"


def _phone_spellings(raw: str) -> set[str]:
    number = phonenumbers.parse(raw, "RU")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = str(phonenumbers.national_significant_number(number))
    return {raw, e164, e164.lstrip("+"), "".join(ch for ch in raw if ch.isdigit()), national}


def _needles() -> dict[str, str]:
    """Every spelling to look for → the planted value it comes from."""
    found: dict[str, str] = {}
    for phone in PHONES:
        for s in _phone_spellings(phone):
            found[s] = phone
    for email in EMAILS:
        for s in (email, email.lower(), email.upper()):
            found[s] = email
    return found


NEEDLES = _needles()
BYTE_NEEDLES = [(n.encode(enc), n, enc) for n in NEEDLES for enc in ("utf-8", "utf-16-le")]


def _byte_leaks(files: list[Path]) -> list[str]:
    leaks = []
    for f in files:
        data = f.read_bytes()
        leaks += [f"{f}: {text!r} ({enc})" for needle, text, enc in BYTE_NEEDLES if needle in data]
    return leaks


def _duckdb_leaks(db: Path) -> list[str]:
    leaks = []
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_type = 'BASE TABLE'").fetchall()
        for schema, table in tables:
            for row in con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                text = " | ".join("" if v is None else str(v) for v in row)
                leaks += [f"{db} {schema}.{table}: {n!r}" for n in NEEDLES if n in text]
    finally:
        con.close()
    return leaks


@pytest.fixture(scope="module")
def cli() -> Path:
    if not OPKPI.exists():
        pytest.skip(f"acceptance test: needs the opkpi CLI at {OPKPI}")
    top = subprocess.run([str(OPKPI), "--help"], capture_output=True, text=True, timeout=120)
    assert top.returncode == 0, f"`opkpi --help` failed:\n{top.stderr}"
    for command in NEEDED_COMMANDS:
        sub = subprocess.run([str(OPKPI), *command, "--help"], capture_output=True, text=True, timeout=120)
        if sub.returncode != 0:
            pytest.skip(f"acceptance test: needs `opkpi {' '.join(command)}` (not available yet)")
    return OPKPI


def _run(cli: Path, args: list[str], *, env: dict[str, str], cwd: Path, exports: Path, name: str,
         ok: tuple[int, ...] = (0,)) -> str:
    proc = subprocess.run([str(cli), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    # Everything the CLI says is an export too: it is scanned with the rest.
    (exports / f"{name}.stdout").write_text(proc.stdout, encoding="utf-8")
    (exports / f"{name}.stderr").write_text(proc.stderr, encoding="utf-8")
    assert proc.returncode in ok, f"opkpi {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
    return proc.stdout


def test_no_planted_personal_data_survives_outside_the_archive(cli: Path, tmp_path: Path) -> None:
    src, home_dir, tmp, user_home, cwd = (tmp_path / d for d in ("src", "home", "tmp", "userhome", "cwd"))
    for d in (src, tmp, user_home, cwd):
        d.mkdir()
    exports = home_dir / "exports"
    (src / "calls.csv").write_text(CALLS, encoding="utf-8")
    (src / "tickets.csv").write_text(TICKETS, encoding="utf-8")
    calls_sha = hashlib.sha256((src / "calls.csv").read_bytes()).hexdigest()

    env = {k: v for k, v in os.environ.items() if not k.startswith("OPKPI_")}
    env.update(TMPDIR=str(tmp), TMP=str(tmp), TEMP=str(tmp), HOME=str(user_home), GX_ANALYTICS_ENABLED="false")
    h = ["--home", str(home_dir)]
    home_dir.mkdir()
    exports.mkdir()
    _run(cli, [*h, "ingest", str(src / "calls.csv"), str(src / "tickets.csv")], env=env, cwd=cwd,
         exports=exports, name="ingest")
    _run(cli, [*h, "run", "--min-age", "0"], env=env, cwd=cwd, exports=exports, name="run")
    listing = _run(cli, [*h, "quarantine", "list", "--format", "json"], env=env, cwd=cwd, exports=exports,
                   name="quarantine-list")
    (exports / "quarantine.json").write_text(listing, encoding="utf-8")

    # The quarantine really holds the planted rows (else the scan would prove little about it).
    json.loads(listing)
    for rule_id in ("negative_duration", "field_count", "end_before_start"):
        assert rule_id in listing, f"quarantine list does not show a {rule_id} row"

    files = sorted(p for p in tmp_path.rglob("*") if p.is_file() and src not in p.parents)
    home = Home(home_dir)
    covered = {
        "warehouse db": home.warehouse_db in files,
        "published snapshot": any(p.parent == home.published_dir and p.suffix == ".duckdb" for p in files),
        "archive": any(home.archive_dir in p.parents and p.name.endswith(".enc") for p in files),
        "state store": home.state_db in files,
        "log file": any(home.logs_dir in p.parents for p in files),
        "quarantine export": exports / "quarantine.json" in files,
    }
    assert all(covered.values()), f"the scan did not cover: {[k for k, v in covered.items() if not v]}"

    leaks = _byte_leaks(files)
    for db in (p for p in files if p.suffix == ".duckdb"):
        leaks += _duckdb_leaks(db)
    assert not leaks, "personal data found outside the archive:\n" + "\n".join(leaks)

    # Positive controls: the scanner finds the values where they must be, so its silence means something.
    assert _byte_leaks([src / "calls.csv", src / "tickets.csv"])
    raw = Archive(home).read(calls_sha)
    assert CLEAN_PHONE.encode() in raw and QUARANTINED_PHONE.encode() in raw and FIELD_COUNT_PHONE.encode() in raw
