"""The sample-data generator: deterministic, conforming to the contract, with its planted cases.

Most tests use a small run (12 operators, 10 days around the 2026-10-25 DST change); one module
fixture builds the default size once. Validity is checked here against the contract directly, so
these tests do not depend on the ingest (test_realism.py goes through the real ingest).
"""

from __future__ import annotations

import csv
import tomllib
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
import polars as pl
import pytest

from pipeline.core.errors import UsageError
from pipeline.ingest.contract import KINDS, infer_kind
from pipeline.sample_data import generate

SMALL = {"operators": 12, "days": 10, "start": date(2026, 10, 20)}
FILES = sorted(f"{k}.csv" for k in KINDS)
README = Path(__file__).resolve().parents[2] / "sample_data" / "README.md"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("small")
    return out, generate(out, **SMALL)


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("default")
    return out, generate(out)


def _read(out: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(out / name, infer_schema=False)


def _rows(out: Path, name: str) -> Iterator[tuple[int, dict[str, str]]]:
    with (out / name).open(encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            yield i + 2, row


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _listed(out: Path) -> list[dict[str, Any]]:
    return tomllib.loads((out / "EXPECTED_QUARANTINE.toml").read_text(encoding="utf-8"))["row"]


# --- determinism --------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes(small: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    first, _ = small
    generate(tmp_path, **SMALL)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_another_seed_differs(small: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    generate(tmp_path, seed=43, **SMALL)
    assert (small[0] / "calls.csv").read_bytes() != (tmp_path / "calls.csv").read_bytes()


def test_rejects_too_small_a_floor(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="operators"):
        generate(tmp_path, operators=5)
    with pytest.raises(UsageError, match="days"):
        generate(tmp_path, days=3)


# --- contract conformance -----------------------------------------------------------------------
def test_one_file_per_kind_and_the_quarantine_list(small: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small
    assert sorted(p.name for p in out.glob("*.csv")) == FILES
    assert (out / "EXPECTED_QUARANTINE.toml").exists()
    assert sorted(summary["files"]) == FILES


@pytest.mark.parametrize("name", FILES)
def test_header_conforms_to_the_contract(small: tuple[Path, dict[str, Any]], name: str) -> None:
    spec = KINDS[name.removesuffix(".csv")]
    header = (small[0] / name).read_text(encoding="utf-8").splitlines()[0].split(",")
    assert set(header) <= set(spec.names)
    assert set(spec.required) <= set(header)
    assert len(header) == len(set(header))
    found = infer_kind(header)
    assert found is not None and found.name == spec.name  # ingest can infer the kind from the header


def _problems(spec_name: str, row: dict[str, str]) -> list[str]:
    """Every contract rule a row breaks (types, required, allowed, non-negative, order checks)."""
    spec = KINDS[spec_name]
    found: list[str] = []
    parsed: dict[str, Any] = {}
    for col in spec.columns:
        if col.name not in row:
            continue
        value = row[col.name]
        if value == "":
            if col.required:
                found.append(f"required_value:{col.name}")
            continue
        try:
            parsed[col.name] = _parse(col.dtype, value)
        except ValueError as exc:
            found.append(f"{exc}:{col.name}")
            continue
        if col.allowed and value not in col.allowed:
            found.append(f"allowed_value:{col.name}")
        if col.non_negative and parsed[col.name] < 0:
            found.append(f"negative_duration:{col.name}")
    for check in spec.checks:
        a, b = check.columns
        if a in parsed and b in parsed and parsed[a] < parsed[b]:
            found.append(f"end_before_start:{a}")
    return found


def _parse(dtype: str, value: str) -> Any:
    if dtype == "int":
        if not value.lstrip("-").isdigit():
            raise ValueError("type_mismatch")
        return int(value)
    if dtype == "float":
        try:
            return float(value)
        except ValueError:
            raise ValueError("type_mismatch") from None
    if dtype == "bool":
        if value not in ("true", "false"):
            raise ValueError("type_mismatch")
        return value == "true"
    if dtype == "date":
        return date.fromisoformat(value)
    if dtype == "timestamp":
        ts = datetime.fromisoformat(value)
        if ts.tzinfo is None:
            raise ValueError("naive_timestamp")
        return ts
    return value


def test_only_the_listed_rows_are_invalid(small: tuple[Path, dict[str, Any]]) -> None:
    out, _ = small
    listed = {(r["file"], r["line"]): r for r in _listed(out)}
    assert len(listed) >= 8
    for name in FILES:
        kind = name.removesuffix(".csv")
        spec = KINDS[kind]
        header = (out / name).read_text(encoding="utf-8").splitlines()[0].split(",")
        keys: Counter[tuple[str, ...]] = Counter()
        contents: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
        for line, row in _rows(out, name):
            key = tuple(row[k] for k in spec.key)
            keys[key] += 1
            contents.setdefault(key, set()).add(tuple(row.values()))
            problems = _problems(kind, row)
            expected = listed.get((name, line))
            if expected is None:
                assert problems == [], f"{name}:{line} {problems}"
            elif expected["rule_id"] != "conflicting_key":
                assert problems == [f"{expected['rule_id']}:{expected['column_name']}"], f"{name}:{line}"
                assert header.index(expected["column_name"]) + 1 == expected["column"]
        conflicting = sorted(k for k, n in keys.items() if n > 1)
        listed_conflicts = sorted({next(iter(_row_at(out, name, ln).values())) for (f, ln), r in listed.items()
                                   if f == name and r["rule_id"] == "conflicting_key"})
        assert [k[0] for k in conflicting] == listed_conflicts, name
        for k in conflicting:
            assert len(contents[k]) == keys[k]  # different contents, never plain duplicates


def _row_at(out: Path, name: str, line: int) -> dict[str, str]:
    return next(row for ln, row in _rows(out, name) if ln == line)


def test_listed_rows_carry_the_planted_defect(small: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small
    rules = Counter(r["rule_id"] for r in _listed(out))
    assert rules == Counter({"negative_duration": 2, "end_before_start": 1, "allowed_value": 1, "type_mismatch": 1,
                             "naive_timestamp": 1, "required_value": 1, "conflicting_key": 2})
    assert sorted((q["file"], q["line"]) for q in summary["quarantine"]) == sorted(
        (r["file"], r["line"]) for r in _listed(out))
    row = _row_at(out, "calls.csv", next(r["line"] for r in _listed(out) if r["rule_id"] == "type_mismatch"))
    assert row["leg"] == "two"


def test_customer_phones_parse_to_valid_numbers(small: tuple[Path, dict[str, Any]]) -> None:
    out, _ = small
    phones = pl.concat([_read(out, "calls.csv").select("customer_phone"),
                        _read(out, "chats.csv").select("customer_phone")])["customer_phone"].drop_nulls()
    anonymous = {"anonymous", "restricted", "withheld"}
    formats = set()
    for value in phones.unique().to_list():
        if value in anonymous:
            continue
        number = phonenumbers.parse(value, "RU")
        assert phonenumbers.is_valid_number(number), value
        formats.add(value[:2])
    assert {"+7", "+3", "8 ", "89"} & formats  # written in several formats
    assert phones.is_in(list(anonymous)).any()


def test_timestamps_are_local_with_offsets(small: tuple[Path, dict[str, Any]]) -> None:
    out, _ = small
    shifts = _read(out, "shifts.csv")
    assert shifts["start_at"].str.contains(r"\+0[23]:00$").all()
    tickets = _read(out, "tickets.csv")
    assert tickets["created_at"].str.ends_with("+03:00").all()  # the Moscow team never changes clocks


# --- realism invariants -------------------------------------------------------------------------
def test_an_operator_takes_one_call_at_a_time(small: tuple[Path, dict[str, Any]]) -> None:
    out, _ = small
    bad = {r["call_id"] for r in _listed_rows(out, "calls.csv")}
    legs: dict[str, list[tuple[datetime, datetime]]] = {}
    for _, row in _rows(out, "calls.csv"):
        if row["outcome"] == "answered" and row["call_id"] not in bad:
            end = _ts(row["ended_at"]) + timedelta(seconds=float(row["wrap_s"] or 0))
            legs.setdefault(row["agent_id"], []).append((_ts(row["answered_at"]), end))
    for agent, spans in legs.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end, agent


def _listed_rows(out: Path, name: str) -> list[dict[str, str]]:
    return [_row_at(out, name, r["line"]) for r in _listed(out) if r["file"] == name]


def _max_concurrency(spans: list[tuple[datetime, datetime]]) -> int:
    points = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    level = peak = 0
    for _, delta in points:
        level += delta
        peak = max(peak, level)
    return peak


def test_chats_at_most_three_at_once_and_the_planted_three(small: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small
    chats = _read(out, "chats.csv").filter(pl.col("outcome") == "answered")
    by_agent: dict[str, list[tuple[datetime, datetime]]] = {}
    for row in chats.iter_rows(named=True):
        if "T" in row["queued_at"] and "+" in row["queued_at"][19:]:
            by_agent.setdefault(row["agent_id"], []).append((_ts(row["accepted_at"]), _ts(row["ended_at"])))
    assert max(_max_concurrency(s) for s in by_agent.values()) == 3
    planted = summary["planted"]["three_concurrent_chats"]
    spans = [(_ts(r["accepted_at"]), _ts(r["ended_at"]))
             for r in chats.filter(pl.col("chat_id").is_in(planted["chat_ids"])).iter_rows(named=True)]
    assert len(spans) == 3 and max(a for a, _ in spans) < min(b for _, b in spans)
    assert set(chats.filter(pl.col("chat_id").is_in(planted["chat_ids"]))["agent_id"]) == {planted["operator_id"]}


def test_ids_referenced_exist(small: tuple[Path, dict[str, Any]]) -> None:
    out, _ = small
    tickets = set(_read(out, "tickets.csv")["ticket_id"])
    events = _read(out, "ticket_events.csv").filter(pl.col("ticket_id").is_not_null())
    assert set(events["ticket_id"]) <= tickets
    surveys = _read(out, "surveys_sent.csv")
    responses = _read(out, "csat_responses.csv")
    assert set(responses["survey_id"]) <= set(surveys["survey_id"])
    contacts = tickets | set(_read(out, "calls.csv")["call_id"]) | set(_read(out, "chats.csv")["chat_id"])
    assert set(surveys["contact_id"]) <= contacts
    assert set(_read(out, "qa_evaluations.csv")["contact_id"]) <= contacts
    operators = set(_read(out, "operators.csv")["operator_id"])
    assert set(_read(out, "shifts.csv")["operator_id"]) <= operators
    assert set(_read(out, "agent_states.csv")["operator_id"]) <= operators
    assert set(_read(out, "queues.csv")["team_id"]) <= set(_read(out, "teams.csv")["team_id"])


# --- planted cases ------------------------------------------------------------------------------
def test_team_move_has_two_versions(small: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small
    move = summary["planted"]["team_move"]
    versions = _read(out, "operators.csv").filter(pl.col("operator_id") == move["operator_id"]).sort("valid_from")
    assert versions["team_id"].to_list() == [move["from_team"], move["to_team"]]
    assert versions["valid_to"][0] == versions["valid_from"][1] == move["on"]
    assert versions["valid_to"][1] is None


def test_new_hire_starts_mid_window(small: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small
    hire = summary["planted"]["new_hire"]
    row = _read(out, "operators.csv").filter(pl.col("operator_id") == hire["operator_id"])
    assert row["hire_date"].to_list() == row["valid_from"].to_list() == [hire["hire_date"]]
    assert SMALL["start"] < date.fromisoformat(hire["hire_date"]) < SMALL["start"] + timedelta(days=SMALL["days"])
    shifts = _read(out, "shifts.csv").filter(pl.col("operator_id") == hire["operator_id"])
    assert shifts.height > 0 and (shifts["start_at"].str.slice(0, 10) >= hire["hire_date"]).all()


def test_leaver_has_nothing_after_termination(small: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small
    leaver = summary["planted"]["leaver"]
    op, last = leaver["operator_id"], leaver["termination_date"]
    assert _read(out, "operators.csv").filter(pl.col("operator_id") == op)["termination_date"].to_list() == [last]
    after = lambda df, col: df.filter(pl.col(col).str.slice(0, 10) > last)  # noqa: E731
    assert after(_read(out, "shifts.csv").filter(pl.col("operator_id") == op), "start_at").height == 0
    assert after(_read(out, "calls.csv").filter(pl.col("agent_id") == op), "ended_at").height == 0
    assert after(_read(out, "chats.csv").filter(pl.col("agent_id") == op), "ended_at").height == 0
    assert _read(out, "calls.csv").filter(pl.col("agent_id") == op).height > 0


def test_unknown_agent_is_in_no_roster(small: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small
    planted = summary["planted"]["unknown_agent_call"]
    calls = _read(out, "calls.csv").filter(pl.col("call_id") == planted["call_id"])
    assert calls["agent_id"].to_list() == [planted["agent_id"]]
    assert calls["source_system"].to_list() == ["canonical"]  # Asterisk would auto-register it
    assert planted["agent_id"] not in set(_read(out, "operators.csv")["operator_id"])
    assert planted["agent_id"] not in set(_read(out, "operator_identities.csv")["source_id"])


def test_asterisk_identities_and_extension_reuse(small: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small
    ids = _read(out, "operator_identities.csv")
    assert set(ids["source_system"]) == {"asterisk"}
    reuse = summary["planted"]["reused_extension"]
    mapped = ids.filter(pl.col("source_id") == reuse["source_id"]).sort("valid_from")
    assert mapped["operator_id"].to_list() == [reuse["before"], reuse["after"]]
    assert mapped["valid_to"][0] <= mapped["valid_from"][1]
    calls = _read(out, "calls.csv").filter(pl.col("source_system") == "asterisk")
    assert calls.height > 0 and calls["agent_id"].drop_nulls().str.contains(r"^(PJSIP/7\d{3}|Local/7\d{3}@)").all()
    assert calls["hold_s"].is_null().all()  # Asterisk talk includes hold
    acw = _read(out, "agent_states.csv").filter(pl.col("reason") == "acw")
    assert acw.height > 0 and (acw["state"] == "paused").all()


def test_unassign_on_resolve_ticket_got_csat(small: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small
    tid = summary["planted"]["unassign_on_resolve_ticket"]
    ticket = _read(out, "tickets.csv").filter(pl.col("ticket_id") == tid)
    assert ticket["assignee_id"].to_list() == [None]
    events = _read(out, "ticket_events.csv").filter(pl.col("ticket_id") == tid)["event_type"].to_list()
    assert events[events.index("solve") + 1] == "unassign"
    survey = _read(out, "surveys_sent.csv").filter(pl.col("contact_id") == tid)
    assert survey["assignee_id"].to_list() == [None]
    assert _read(out, "csat_responses.csv").filter(pl.col("contact_id") == tid).height >= 1


def test_bot_handoff_ticket_and_chat(small: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small
    events = _read(out, "ticket_events.csv").filter(pl.col("ticket_id") == summary["planted"]["bot_handoff_ticket"])
    replies = events.filter(pl.col("event_type") == "reply")
    assert replies["author_type"][0] == "bot"
    assert "operator" in replies["author_type"].to_list()
    chat = _read(out, "chats.csv").filter(pl.col("chat_id") == summary["planted"]["bot_handoff_chat"])
    assert chat["is_bot_handoff"].to_list()[0] == "true"


def test_ticket_life_cycle_cases(small: tuple[Path, dict[str, Any]]) -> None:
    out, summary = small
    planted = summary["planted"]
    tickets = _read(out, "tickets.csv")
    events = _read(out, "ticket_events.csv")
    assert tickets.filter(pl.col("ticket_id") == planted["auto_reply_ticket"])["is_auto_reply"][0] == "true"
    follow = tickets.filter(pl.col("ticket_id") == planted["follow_up_ticket"])
    assert follow["follow_up_of"][0] in set(tickets["ticket_id"])
    assert "reopen" in events.filter(pl.col("ticket_id") == planted["reopened_ticket"])["event_type"].to_list()
    tiers = events.filter(pl.col("ticket_id") == planted["escalated_to_l3_ticket"])["target_tier"].drop_nulls()
    assert tiers.to_list() == ["L2", "L3"]
    assert events.filter(pl.col("event_type") == "note")["is_public"].unique().to_list() == ["false"]


# --- default size -------------------------------------------------------------------------------
def test_default_window_spans_the_dst_change(default: tuple[Path, dict[str, Any]]) -> None:
    out, summary = default
    assert summary["window"] == {"first_day": "2026-10-12", "last_day": "2026-11-10", "timezone": "Europe/Kyiv"}
    night = _read(out, "calls.csv").filter(pl.col("answered_at").str.starts_with("2026-10-25T03:"))
    offsets = set(night["answered_at"].str.slice(19))
    assert offsets == {"+03:00", "+02:00"}  # the hour 03:00-04:00 happened twice
    shifts = _read(out, "shifts.csv").filter(pl.col("start_at") == "2026-10-24T22:00:00+03:00")
    assert shifts.height > 0 and set(shifts["end_at"]) == {"2026-10-25T06:00:00+02:00"}  # a 9-hour night


def test_default_size_and_mix(default: tuple[Path, dict[str, Any]]) -> None:
    out, summary = default
    files, contacts = summary["files"], summary["contacts"]
    assert 30_000 <= sum(contacts.values()) <= 60_000
    assert contacts["calls"] > contacts["tickets"] and contacts["chats"] > contacts["tickets"]
    assert files["operators.csv"] == 41  # 40 people, one of them in two versions
    ops = _read(out, "operators.csv").unique("operator_id")
    tiers = ops["tier"].value_counts().sort("tier")["count"].to_list()
    assert tiers == [26, 10, 4]
    assert ops["team_id"].n_unique() >= 4
    assert ops["timezone"].unique().sort().to_list() == ["Europe/Kyiv", "Europe/Moscow"]
    names = ops["display_name"].to_list()
    assert any("Ї" in n or "і" in n or "є" in n for n in names)  # Ukrainian
    assert any("ы" in n or "ё" in n or "Дмитрий" in n or n.endswith("ов") or n.endswith("ова") for n in names)
    assert any(n.isascii() for n in names)  # English
    channels = set(_read(out, "chats.csv")["channel"]) | set(_read(out, "tickets.csv")["channel"]) | {"phone"}
    assert channels == {"phone", "chat", "email", "social"}
    assert set(_read(out, "csat_responses.csv")["scale"]) == {"1-5", "good_bad", "0-10"}
    qa = _read(out, "qa_evaluations.csv")
    assert (qa["is_auto_fail"] == "true").any() and (qa["is_calibration"] == "true").any()
    assert (qa["version"] == "2").any()
    assert summary["seconds"] < 30


def test_readme_documents_the_default_planted_ids(default: tuple[Path, dict[str, Any]]) -> None:
    text = README.read_text(encoding="utf-8")
    planted = default[1]["planted"]
    ids: list[str] = []
    for value in planted.values():
        if isinstance(value, str):
            ids.append(value)
        elif isinstance(value, dict):
            ids += [v for v in value.values() if isinstance(v, str) and v[:2] in ("OP", "CA", "CH", "TK", "PJ")]
            ids += [v for vs in value.values() if isinstance(vs, list) for v in vs]
    missing = [i for i in ids if i not in text]
    assert not missing, f"sample_data/README.md does not mention {missing}"
    for row in _listed(default[0]):
        assert f"{row['file']}:{row['line']}" in text
