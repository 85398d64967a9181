"""Pseudonymisation and masking of customer personal data (DESIGN §6)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import polars as pl
import pytest

from pipeline.core.home import Home
from pipeline.ingest.pii import Pseudonymiser, mask_text

SAME_PERSON = ["+7 912 345-67-89", "8 (912) 345 67 89", "89123456789", "+79123456789", " +7(912)3456789 "]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


@pytest.fixture
def pseudo(home: Home) -> Pseudonymiser:
    return Pseudonymiser.for_home(home)


def test_key_file_is_created_private_and_reused(home: Home) -> None:
    first = Pseudonymiser.for_home(home)
    assert stat.S_IMODE(os.stat(home.pii_key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home.state_dir).st_mode) == 0o700
    assert len(home.pii_key.read_bytes()) == 32
    again = Pseudonymiser.for_home(home)
    assert first.key_phone("+79123456789") == again.key_phone("+79123456789")


def test_same_person_written_differently_gets_one_key(pseudo: Pseudonymiser) -> None:
    keys = {pseudo.key_phone(v) for v in SAME_PERSON}
    assert len(keys) == 1
    (key,) = keys
    assert key is not None and len(key) == 64 and int(key, 16) >= 0
    assert pseudo.key_email("Ivan.Petrov@Example.COM ") == pseudo.key_email("ivan.petrov@example.com")


def test_different_people_and_namespaces_get_different_keys(pseudo: Pseudonymiser) -> None:
    assert pseudo.key_phone("+7 912 345-67-89") != pseudo.key_phone("+7 912 345-67-88")
    # The same text as a phone, an e-mail-less id and an id never collide.
    assert pseudo.key_id("79123456789") != pseudo.key_phone("79123456789")


def test_a_different_key_file_gives_different_keys(tmp_path: Path) -> None:
    a = Pseudonymiser.for_home(Home(tmp_path / "a"))
    b = Pseudonymiser.for_home(Home(tmp_path / "b"))
    assert (tmp_path / "a/state/pii.key").read_bytes() != (tmp_path / "b/state/pii.key").read_bytes()
    assert a.key_phone("+79123456789") != b.key_phone("+79123456789")
    assert a.key_email("x@y.ru") != b.key_email("x@y.ru")


def test_anonymous_and_unparseable_give_no_key(pseudo: Pseudonymiser) -> None:
    for marker in ("anonymous", "Anonymous", "UNKNOWN", "restricted", "withheld", "", "  "):
        assert pseudo.key_phone(marker) is None
        assert pseudo.key_id(marker) is None
    assert pseudo.key_phone(None) is None
    assert pseudo.key_phone("12") is None
    assert pseudo.key_phone("+7 912") is None
    assert pseudo.key_phone("not a number") is None
    assert pseudo.key_email("n/a") is None


def test_apply_keys_drops_pii_and_flags_unparseable(pseudo: Pseudonymiser) -> None:
    header = ["call_id", "customer_phone", "customer_email", "customer_id"]
    frame = pl.DataFrame({
        "_line": [2, 3, 4, 5, 6, 7, 8],
        "call_id": ["c1", "c2", "c3", "c4", "c5", "c6", "c7"],
        "customer_phone": ["+7 912 345-67-89", "8 (912) 345 67 89", "12", "Anonymous", None, "1234", None],
        "customer_email": [None, "other@example.com", "Ivan@Example.com", None, "ivan@example.com", None, None],
        "customer_id": [None, None, None, "C9", None, None, None],
    })
    out, problems = pseudo.apply(frame, file="calls.csv", header=header)

    assert "customer_phone" not in out.columns and "customer_email" not in out.columns
    assert "customer_id" in out.columns
    assert out.schema["customer_key"] == pl.Utf8
    rows = out.select("call_id", "customer_key", "customer_key_source").rows()
    keys = {r[0]: r[1] for r in rows}
    sources = {r[0]: r[2] for r in rows}
    phone_key = pseudo.key_phone("+79123456789")
    assert keys["c1"] == keys["c2"] == phone_key  # phone wins over e-mail
    assert keys["c3"] == keys["c5"] == pseudo.key_email("ivan@example.com")  # bad phone falls back
    assert keys["c4"] == pseudo.key_id("C9")  # an anonymous phone falls back to the id
    assert sources == {"c1": "phone", "c2": "phone", "c3": "email", "c4": "id", "c5": "email",
                       "c6": None, "c7": None}

    assert [(p.rule_id, p.line, p.column, p.column_name) for p in problems] == [
        ("unparseable_phone", 4, 2, "customer_phone"), ("unparseable_phone", 7, 2, "customer_phone")]
    assert all(p.location.startswith("calls.csv:") for p in problems)


def test_apply_anonymous_only_is_marked(pseudo: Pseudonymiser) -> None:
    frame = pl.DataFrame({"_line": [2, 3], "customer_phone": ["withheld", None]})
    out, problems = pseudo.apply(frame, file="calls.csv", header=["customer_phone"])
    assert out.get_column("customer_key_source").to_list() == ["anonymous", None]
    assert out.get_column("customer_key").to_list() == [None, None]
    assert problems == []


def test_apply_without_customer_columns_is_a_no_op(pseudo: Pseudonymiser) -> None:
    frame = pl.DataFrame({"call_id": ["c1"]})
    out, problems = pseudo.apply(frame, file="calls.csv", header=["call_id"])
    assert out.equals(frame) and problems == []


def test_apply_computes_each_distinct_value_once(pseudo: Pseudonymiser, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    original = pseudo._phone_outcome

    def counting(raw: str):  # type: ignore[no-untyped-def]
        seen.append(raw)
        return original(raw)

    monkeypatch.setattr(pseudo, "_phone_outcome", counting)
    frame = pl.DataFrame({"customer_phone": ["+79123456789", "+79123456780"] * 5000})
    out, _ = pseudo.apply(frame, file="f.csv", header=["customer_phone"])
    assert sorted(seen) == ["+79123456780", "+79123456789"]
    assert out.get_column("customer_key").n_unique() == 2


def test_unparseable_message_does_not_hold_the_value(pseudo: Pseudonymiser) -> None:
    raw = "+7 912 345 67 89 12 34 56"  # too long to be possible
    frame = pl.DataFrame({"_line": [2], "customer_phone": [raw]})
    _, problems = pseudo.apply(frame, file="f.csv", header=["customer_phone"])
    assert len(problems) == 1
    digits = "".join(ch for ch in raw if ch.isdigit())
    assert raw not in problems[0].render() and digits not in problems[0].render()


# --- masking -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("+7 (912) 345-67-89", "+*********89"),
    ("call 8 (912) 345 67 89 now", "call *********89 now"),
    ("345-67-89", "*****89"),
    ("Ivan.Petrov@Example.com", "I***@***.com"),
    ("олег@почта.рф", "о***@***.рф"),
    ("c1,2,inbound,2026-10-14T09:00:00+03:00,answered,-5", "c1,2,inbound,2026-10-14T09:00:00+03:00,answered,-5"),
    ("Local/7009@from-queue", "Local/7009@from-queue"),
    ("", ""),
])
def test_mask_text(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_mask_leaves_no_full_value() -> None:
    phones = ["+7 912 345-67-89", "8 (912) 345 67 89", "+380 67 123 4567", "89123456789", "345-67-89",
              "+7.912.345.67.89"]
    emails = ["Ivan.Petrov@Example.com", "a.b+tag@mail.ru"]
    text = "row: " + ", ".join(phones + emails) + "; phone=+79123456789@x"
    masked = mask_text(text)
    for p in phones:
        digits = "".join(ch for ch in p if ch.isdigit())
        assert p not in masked and digits not in masked and digits[:-2] not in masked
        assert digits[-7:] not in masked
    for e in emails:
        assert e.lower() not in masked.lower()
        assert e.split("@")[0].lower() not in masked.lower()
        assert e.split("@")[1].lower() not in masked.lower()


@pytest.mark.parametrize("text", [
    "a" * 1_000_000, "1 " * 500_000, "a@" * 300_000, "x." * 300_000 + "@", "1" * 1_000_000,
    "1-" * 500_000, "x@" + "a." * 300_000 + "1", "(" * 1_000_000,
])
def test_mask_is_linear_on_hostile_megabyte_strings(text: str) -> None:
    start = time.perf_counter()
    mask_text(text)
    assert time.perf_counter() - start < 2.0
