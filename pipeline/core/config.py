"""`opkpi.toml`, validated by pydantic. Precedence: flag > env > opkpi.toml > defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.core.errors import ConfigError

DEFAULT_CONFIG_NAME = "opkpi.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestConfig(_Section):
    # Timezone for timestamps written without an offset; None means such values are quarantined.
    timezone: str | None = None
    # Fallback text encoding when a file is not UTF-8 (e.g. "cp1251"); None means reject with a hint.
    encoding: str | None = None
    # 250k rows per commit: 1.6–1.7× faster than 50k at ~0.1 GB more RSS (measured, bench 1M)
    chunk_rows: int = Field(250_000, ge=1)
    strict: bool = False
    max_field_bytes: int = 1 << 20

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str | None) -> str | None:
        if v is not None:
            import zoneinfo

            try:
                zoneinfo.ZoneInfo(v)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA timezone {v!r}") from None
        return v


class InboxConfig(_Section):
    dir: str = "inbox"
    min_age_s: int = Field(120, ge=0)


class PiiConfig(_Section):
    default_region: str = "RU"


class FcrConfig(_Section):
    window_days: int = 7
    reason_fallback: Literal["queue", "any"] = "queue"
    anonymous_values: list[str] = ["anonymous", "unknown", "restricted", "withheld", ""]
    exclude_customers: list[str] = []
    policy_escalation_reasons: list[str] = []


class TransformsConfig(_Section):
    # Staging, intermediate and fact models are rebuilt by every run, so by default they live in
    # the build's connection only (TEMP); true keeps them in the warehouse for inspection.
    keep_intermediate: bool = False


class CsatConfig(_Section):
    cutoff_days: int = 14
    attribution: Literal["first_match", "all_repliers"] = "first_match"


class ChatConfig(_Section):
    short_abandon_s: int = 30


class QueueConfig(_Section):
    sl_threshold_s: int = 20
    short_abandon_s: int = 5


class AsteriskConfig(_Section):
    auto_register_operators: bool = True
    agent_normalize: list[list[str]] = [[r"^Local/(\d+)@.*$", r"PJSIP/\1"]]
    wrap_pause_reasons: list[str] = []
    timezone: str = "UTC"
    # CDR (`--format asterisk-cdr`, docs/formats/asterisk-cdr.md). "auto": a cdr_csv Master.csv, its
    # 16-21 column layout detected per line; "custom": the columns below, in order (cdr_custom).
    cdr_layout: Literal["auto", "custom"] = "auto"
    cdr_custom_columns: list[str] = []
    cdr_custom_delimiter: str = Field(",", min_length=1, max_length=1)
    # Call direction from the CDR's dcontext, matched as shell-style globs (fnmatch, case-sensitive).
    # Only inbound rows are loaded; others are skipped and counted per context.
    inbound_contexts: list[str] = ["from-pstn", "from-trunk", "from-trunk-*", "from-did-direct", "ext-did",
                                   "ext-did-*", "from-external", "inbound", "incoming"]
    outbound_contexts: list[str] = ["outbound-allroutes", "outrt-*", "macro-dialout-trunk", "outbound"]
    internal_contexts: list[str] = ["from-internal", "from-internal-*", "internal"]


class ZendeskConfig(_Section):
    operator_map: dict[str, str] = {}
    agent_ids: list[str] = []
    group_tiers: dict[str, Literal["L1", "L2", "L3"]] = {}
    auto_register_operators: bool = True
    timezone: str = "UTC"
    customer_key: Literal["id", "email"] = "id"
    auto_reply_tags: list[str] = []
    reason_field_id: str | None = None


class RetentionConfig(_Section):
    contacts_months: int = 25
    quarantine_days: int = 90
    comments_months: int = 12


class SnapshotConfig(_Section):
    keep: int = Field(3, ge=1)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ingest: IngestConfig = IngestConfig()
    inbox: InboxConfig = InboxConfig()
    pii: PiiConfig = PiiConfig()
    fcr: FcrConfig = FcrConfig()
    csat: CsatConfig = CsatConfig()
    chat: ChatConfig = ChatConfig()
    queues: QueueConfig = QueueConfig()
    asterisk: AsteriskConfig = AsteriskConfig()
    zendesk: ZendeskConfig = ZendeskConfig()
    retention: RetentionConfig = RetentionConfig()
    snapshots: SnapshotConfig = SnapshotConfig()
    transforms: TransformsConfig = TransformsConfig()
    # Author ids of bots, API users and system accounts: they never own segments.
    bots: list[str] = []


def load_config(path: Path | None, *, home_root: Path | None = None) -> Config:
    """Read `path`, else `<home>/opkpi.toml` when it exists, else defaults."""
    candidate = path
    if candidate is None and home_root is not None and (home_root / DEFAULT_CONFIG_NAME).exists():
        candidate = home_root / DEFAULT_CONFIG_NAME
    if candidate is None:
        return Config()
    if not candidate.exists():
        raise ConfigError(f"Attempted to read the configuration at {candidate}, but the file does not exist",
                          "Pass an existing file with --config, or drop the option to use defaults")
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Attempted to read the configuration at {candidate}, but it is not valid TOML ({exc})",
                          "Fix the syntax; `python -m tomllib` style errors give the line") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"Attempted to read the configuration at {candidate}, but `{where}`: {first['msg']}",
                          "See docs/configuration in README.md for the accepted keys") from None
