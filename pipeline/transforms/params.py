"""Configuration values the SQL models read, written as two small tables before a build.

`config_values(key, value)`: one row per scalar key, value as text (cast in SQL, e.g.
`(select cast(value as integer) from config_values where key = 'fcr.window_days')`).
`config_lists(key, value)`: one row per list element (`bots`, `fcr.policy_escalation_reasons`, ...).

`fcr.exclude_customers` is written as pseudonymous keys only (`fcr.excluded_customer_keys`): raw
phones and e-mails never reach DuckDB (DESIGN §6). `fcr.anonymous_values` act at ingest, where an
anonymous marker gets no customer key at all.
"""

from __future__ import annotations

import hashlib
import json

import duckdb

from pipeline.core.config import Config
from pipeline.core.home import Home

VALUES_TABLE = "config_values"
LISTS_TABLE = "config_lists"


def scalar_params(config: Config) -> dict[str, str]:
    return {
        "fcr.window_days": str(config.fcr.window_days),
        "fcr.reason_fallback": config.fcr.reason_fallback,
        "csat.cutoff_days": str(config.csat.cutoff_days),
        "csat.attribution": config.csat.attribution,
        "chat.short_abandon_s": str(config.chat.short_abandon_s),
        "queues.sl_threshold_s": str(config.queues.sl_threshold_s),
        "queues.short_abandon_s": str(config.queues.short_abandon_s),
        # The largest forward-looking window (FCR repeat and reopen window, CSAT cutoff): maturity.
        "maturity.window_days": str(max(config.fcr.window_days, config.csat.cutoff_days)),
    }


def list_params(config: Config, home: Home | None = None) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    rows += [("bots", v) for v in config.bots]
    rows += [("fcr.policy_escalation_reasons", v) for v in config.fcr.policy_escalation_reasons]
    rows += [("asterisk.wrap_pause_reasons", v) for v in config.asterisk.wrap_pause_reasons]
    rows += [("fcr.excluded_customer_keys", k) for k in _customer_keys(config, home)]
    return rows


def _customer_keys(config: Config, home: Home | None) -> list[str]:
    """Keys of the excluded customers, in every form ingest could have keyed them (phone, e-mail, id)."""
    values = [v for v in config.fcr.exclude_customers if v.strip()]
    if not values:
        return []
    keys: set[str] = set()
    # A value that already is a customer key (64 hex characters) is taken as it is.
    keys.update(v.strip().lower() for v in values if _is_key(v.strip()))
    if home is not None and home.pii_key.exists():
        from pipeline.ingest.pii import Pseudonymiser  # the key file exists: never create one here

        pseudo = Pseudonymiser.for_home(home, default_region=config.pii.default_region, anonymous_values=())
        for v in values:
            for key in (pseudo.key_phone(v), pseudo.key_email(v), pseudo.key_id(v)):
                if key is not None:
                    keys.add(key)
    return sorted(keys)


def _is_key(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def write_params(con: duckdb.DuckDBPyConnection, config: Config, *, home: Home | None = None) -> str:
    """(Re)write `config_values` and `config_lists`; returns a hash of their content (for the build state)."""
    scalars = scalar_params(config)
    lists = list_params(config, home)
    con.execute(f"CREATE OR REPLACE TABLE {VALUES_TABLE} (key VARCHAR, value VARCHAR)")
    con.execute(f"CREATE OR REPLACE TABLE {LISTS_TABLE} (key VARCHAR, value VARCHAR)")
    con.executemany(f"INSERT INTO {VALUES_TABLE} VALUES (?, ?)", list(scalars.items()))
    if lists:
        con.executemany(f"INSERT INTO {LISTS_TABLE} VALUES (?, ?)", lists)
    payload = json.dumps({"values": scalars, "lists": sorted(lists)}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
