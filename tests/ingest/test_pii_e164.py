"""The E.164 shortcut in pseudonymisation must give exactly the key the phonenumbers route gives."""

from __future__ import annotations

import hashlib
import hmac
import random

import phonenumbers
import pytest

from pipeline.ingest import pii
from pipeline.ingest.pii import Pseudonymiser

KEY = bytes(range(32))


def _full_route(raw: str) -> str | None:
    """E.164 by phonenumbers alone, None where it refuses the value."""
    try:
        number = phonenumbers.parse(raw, "RU")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _samples() -> list[str]:
    """Every country code, every national length up to 18, leading digits that hit national
    prefixes and Italian zeros, plus shapes just outside the shortcut."""
    rng = random.Random(20260101)
    out = []
    for cc in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        for length in range(19):
            for first in "0123456789":
                rest = "".join(rng.choice("0123456789") for _ in range(max(length - 1, 0)))
                out.append(f"+{cc}{(first + rest)[:length]}")
    out += ["+0123456789", "+79123456789 ", "+7912345678９", "+٧٩١٢٣٤٥٦٧٨٩", "++79123456789", "+7",
            "+79", "+791", "+78123456789", "+88123456789", "+39061234567", "+80012345678", "+1" + "2" * 19]
    return out


def test_shortcut_matches_phonenumbers_everywhere_it_applies() -> None:
    taken = 0
    for raw in _samples():
        if pii._is_canonical_e164(raw):
            taken += 1
            assert _full_route(raw) == raw, raw
    assert taken > 1000  # the shortcut does cover ordinary numbers


@pytest.mark.parametrize("raw", ["+79123456789", "+380311234567", "+14155552671", "+442071234567"])
def test_shortcut_covers_canonical_numbers(raw: str) -> None:
    assert pii._is_canonical_e164(raw)


@pytest.mark.parametrize("raw", ["+78123456789", "+390612345678", "+7 912 345-67-89", "+0079123456789",
                                 "+7912", "+80012345678"])
def test_shortcut_leaves_rewritten_or_odd_numbers_to_phonenumbers(raw: str) -> None:
    assert not pii._is_canonical_e164(raw)


def test_keys_are_the_same_with_and_without_the_shortcut(monkeypatch: pytest.MonkeyPatch) -> None:
    pseudo = Pseudonymiser(KEY)
    samples = _samples()
    fast = [pseudo.key_phone(raw) for raw in samples]
    monkeypatch.setattr(pii, "_is_canonical_e164", lambda raw: False)
    assert [pseudo.key_phone(raw) for raw in samples] == fast


@pytest.mark.parametrize("size", [16, 31, 32, 64, 65, 100])
def test_hmac_equals_the_standard_library(size: int) -> None:
    key = bytes((7 * i + 3) % 256 for i in range(size))
    pseudo = Pseudonymiser(key)
    for value in ("tel:+79123456789", "mailto:ivan@example.com", "id:", "id:олег"):
        assert pseudo._hmac(value) == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
