"""(c) What users write today: the same KPI subset as `kpi_duckdb.py`, in straightforward pandas.

Read the Parquet files into DataFrames, add columns, `sort_values` + `groupby().shift()` for the
next contact of the same customer and reason, `merge`, `drop_duplicates` for the latest CSAT
response, one `groupby().agg()` per operator and local day. Same definitions as (a); no attempt
at cleverness beyond what a careful analyst would do (vectorised, no row-wise `apply`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

WINDOW = pd.Timedelta(days=7)
CSAT_CUTOFF = pd.Timedelta(days=14)


def _read(paths: list[Path]) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)


def run(data: Path) -> pd.DataFrame:
    operators = pd.read_parquet(data / "operators.parquet")
    calls = _read(sorted((data / "calls").glob("*.parquet")))
    responses = _read(sorted((data / "csat_responses").glob("*.parquet")))

    # Contacts: creation, resolution anchor, repeat candidates.
    answered = calls["answered_at"].notna()
    calls["created_at"] = calls["enqueued_at"].fillna(calls["answered_at"]).fillna(calls["ended_at"])
    calls["anchor_at"] = calls["ended_at"].where(answered, calls["created_at"])
    short_abandon = (~answered & (calls["outcome"] == "abandoned")
                     & ((calls["ended_at"] - calls["created_at"]) < pd.Timedelta(seconds=5)))
    calls["has_customer"] = calls["customer_phone"].notna() & (calls["customer_phone"] != "anonymous")
    candidate = (calls["direction"] == "inbound") & ~short_abandon & calls["has_customer"]

    # FCR: the next candidate contact of the same customer and reason, created strictly later
    # (shift over the distinct creation instants, so a contact at the same instant is no repeat).
    key = ["customer_phone", "reason_code"]
    times = calls.loc[candidate, [*key, "created_at"]].drop_duplicates().sort_values([*key, "created_at"])
    times["next_at"] = times.groupby(key)["created_at"].shift(-1)
    calls = calls.merge(times, on=[*key, "created_at"], how="left")
    calls["has_repeat"] = ((calls["next_at"] > calls["created_at"])
                           & (calls["next_at"] <= calls["anchor_at"] + WINDOW))

    # CSAT: the latest scored response per (call, survey) by the cutoff, after the leg started.
    r = responses[(responses["contact_type"] == "call") & (responses["scale"] == "1-5")
                  & responses["score"].isin(["1", "2", "3", "4", "5"])]
    r = r.merge(calls[["call_id", "anchor_at", "answered_at"]], left_on="contact_id", right_on="call_id")
    r = r[(r["received_at"] <= r["anchor_at"] + CSAT_CUTOFF) & (r["answered_at"] <= r["received_at"])]
    r = r.assign(survey_key=r["survey_id"].fillna(""))
    r = r.sort_values(["received_at", "response_id"]).drop_duplicates(["contact_id", "survey_key"], keep="last")
    r["top_box"] = r["score"].isin(["4", "5"]).astype("int64")
    per_call = r.groupby("call_id").agg(csat_top2_num=("top_box", "sum"), csat_top2_den=("top_box", "size"))

    # Segments: answered legs, dated in the operator's timezone.
    seg = calls[answered & calls["agent_id"].notna()].copy()
    seg = seg.merge(per_call, left_on="call_id", right_index=True, how="left")
    seg[["csat_top2_num", "csat_top2_den"]] = seg[["csat_top2_num", "csat_top2_den"]].fillna(0).astype("int64")
    seg = seg.merge(operators[["operator_id", "timezone", "valid_from", "valid_to"]],
                    left_on="agent_id", right_on="operator_id")
    day_utc = seg["answered_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    valid_from = pd.to_datetime(seg["valid_from"])
    valid_to = pd.to_datetime(seg["valid_to"])
    seg = seg[(day_utc >= valid_from) & (valid_to.isna() | (day_utc < valid_to))]
    seg["local_date"] = pd.NaT
    local = []
    for tz, part in seg.groupby("timezone"):
        local.append(part["answered_at"].dt.tz_convert(tz).dt.date.rename("local_date"))
    seg["local_date"] = pd.concat(local)
    ms = [(seg[c] * 1000).round().astype("int64") for c in ("talk_s", "hold_s", "wrap_s")]
    seg["handle_ms"] = ms[0] + ms[1] + ms[2]
    eligible = ((seg["direction"] == "inbound") & seg["has_customer"]
                & seg["end_reason"].isin(["resolved", "transfer", "escalation"]))
    seg["fcr_den"] = eligible.astype("int64")
    seg["fcr_num"] = (eligible & (seg["end_reason"] == "resolved") & ~seg["has_repeat"]).astype("int64")

    out = seg.groupby(["operator_id", "local_date"], as_index=False).agg(
        segments_n=("call_id", "size"),
        aht_phone_num_ms=("handle_ms", "sum"),
        aht_phone_den=("handle_ms", "count"),
        fcr_num=("fcr_num", "sum"),
        fcr_den=("fcr_den", "sum"),
        csat_top2_num=("csat_top2_num", "sum"),
        csat_top2_den=("csat_top2_den", "sum"),
    )
    out["aht_phone_ms"] = out["aht_phone_num_ms"] / out["aht_phone_den"]
    return out.sort_values(["operator_id", "local_date"], ignore_index=True)
