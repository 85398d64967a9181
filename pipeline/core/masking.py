"""The masker for anything shown or logged (DESIGN §6): e-mails and phone-like digit runs.

It lives in core because every layer masks what it prints or logs; pseudonymisation proper is in
`pipeline.ingest.pii`.
"""

from __future__ import annotations

import re

# ISO dates are kept readable: without this, every `2026-10-14` (8 digits) in a quarantined row would
# be masked like a phone. Only a real calendar date starting 19xx/20xx is spared.
_DATE = r"(?<!\d)(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?!\d)"
# The lookbehind lets only the first character of a run start an attempt, and the possessive
# quantifiers never backtrack: together they keep the scan linear on megabyte-long fields.
_LOCAL = r"[\w.+%'-]"
_EMAIL = rf"(?<!{_LOCAL}){_LOCAL}++@[\w-]++(?:\.[\w-]++)++"
# 7+ digits; up to 3 separators between two digits, so `+7 (912) 345-67-89` is one run while a
# comma (a CSV field boundary) or a colon (a clock time) ends it.
_PHONE = r"\+?\(?\d(?:[ \t\u00a0().\-]{0,3}\d){6,}"
_TOKEN = re.compile(f"(?P<date>{_DATE})|(?P<email>{_EMAIL})|(?P<phone>{_PHONE})")
_DIGIT = re.compile(r"\d")


def _mask_match(m: re.Match[str]) -> str:
    text = m.group(0)
    if m.lastgroup == "date":
        return text
    if m.lastgroup == "email":
        domain = text.rsplit("@", 1)[1]
        return f"{text[0]}***@***.{domain.rsplit('.', 1)[1]}"
    digits = _DIGIT.findall(text)
    return ("+" if text.startswith("+") else "") + "*" * (len(digits) - 2) + "".join(digits[-2:])


def mask_text(text: str) -> str:
    """Mask e-mail addresses (`i***@***.ru`) and digit runs of 7+ digits (`+*********89`).

    Applied to masked raw rows, parser and library error texts, and log lines, so it must be cheap;
    it over-masks (ids, epochs, IP addresses with 7+ digits) rather than risk leaving a number.
    """
    if not text:
        return text
    return _TOKEN.sub(_mask_match, text)
