"""One error base class; every message says what was attempted, where, why, and what to do."""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
EXIT_STALE = 4
EXIT_LOCKED = 75


class OpkpiError(Exception):
    """`title` is the short line (`Attempted <what> at <where>, but <why>`), `hint` what to do."""

    exit_code = EXIT_UNEXPECTED

    def __init__(self, title: str, hint: str = "") -> None:
        super().__init__(title)
        self.title = title
        self.hint = hint

    def __str__(self) -> str:
        text = self.title.rstrip(".") + "."
        if self.hint:
            text += " " + self.hint.rstrip(".") + "."
        return text


class ConfigError(OpkpiError):
    exit_code = EXIT_USAGE


class UsageError(OpkpiError):
    exit_code = EXIT_USAGE


class FileRejected(OpkpiError):
    """A whole input file is refused (table-level rule); nothing of it is loaded."""

    exit_code = EXIT_REJECTED

    def __init__(self, title: str, hint: str = "", *, rule_id: str, location: str) -> None:
        super().__init__(title, hint)
        self.rule_id = rule_id
        self.location = location


class LockHeld(OpkpiError):
    exit_code = EXIT_LOCKED


class GateRefused(OpkpiError):
    exit_code = EXIT_REJECTED


class StaleInput(OpkpiError):
    exit_code = EXIT_STALE
