"""`pipeline.metrics.report` over a published snapshot of the sample: ranges, periods and grains are
recomputed from facts with the marts' own definitions, so they equal the marts wherever both exist."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.core.config import Config
from pipeline.core.errors import UsageError
from pipeline.core.home import Home
from pipeline.jobs.run import run_pipeline
from pipeline.metrics import report
from pipeline.warehouse import SnapshotMissing, open_snapshot
from tests.transforms.conftest import sample_home, sample_template  # noqa: F401  (fixtures)


def query(home: Home, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of the published snapshot, where a run leaves its marts and facts."""
    con = open_snapshot(home)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture
def published(sample_home: Home) -> Home:  # noqa: F811
    run_pipeline(sample_home, Config(), min_age_s=0)
    return sample_home


def test_period_parsing_and_clipping() -> None:
    assert report.parse_period("2026-10") == (date(2026, 10, 1), date(2026, 10, 31))
    assert report.parse_period("2026-W43") == (date(2026, 10, 19), date(2026, 10, 25))
    assert report.parse_period("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    for bad in ("2026-13", "2026-W54", "October", "2026-10-01"):
        with pytest.raises(UsageError):
            report.parse_period(bad)
    weeks = report.periods(date(2026, 10, 14), date(2026, 10, 21), "week")
    assert [(p.period_start, p.date_from, p.date_to) for p in weeks] == [
        (date(2026, 10, 12), date(2026, 10, 14), date(2026, 10, 18)),
        (date(2026, 10, 19), date(2026, 10, 19), date(2026, 10, 21))]
    assert len(report.periods(date(2026, 10, 30), date(2026, 11, 2), "day")) == 4
    assert [p.period_start for p in report.periods(date(2026, 10, 30), date(2026, 11, 2), "month")] == [
        date(2026, 10, 1), date(2026, 11, 1)]
    with pytest.raises(UsageError):
        report.periods(date(2026, 10, 1), date(2026, 10, 2), "year")


def test_nothing_published_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(SnapshotMissing):
        report.scorecard(Home(tmp_path / "empty"))


def test_scorecard_range_equals_the_sum_of_days_for_counts_and_the_marts_for_periods(published: Home) -> None:
    home = published
    first, last = query(home, "SELECT date_from, date_to FROM data_range")[0]
    rows = report.scorecard(home)
    assert {r["grain"] for r in rows} == {"all"} and {r["period_start"] for r in rows} == {first.isoformat()}
    ops = {r[0] for r in query(home, "SELECT DISTINCT operator_id FROM dim_operators")}
    assert {r["operator_id"] for r in rows} == ops
    sums = {r[0]: r[1:] for r in query(home, """SELECT operator_id, sum(contacts_handled), sum(calls_answered),
        sum(fcr_num), sum(fcr_den), sum(csat_top2_num), sum(csat_top2_den) FROM operator_daily GROUP BY 1""")}
    for r in rows:
        assert (r["contacts_handled"], r["calls_answered"], r["fcr_num"], r["fcr_den"], r["csat_top2_num"],
                r["csat_top2_den"]) == tuple(sums[r["operator_id"]])
        for key in ("operator_id", "period_start", "grain", "provisional", "aht_phone_s", "aht_chat_s", "aht_email_s",
                    "talk_s", "hold_s", "wrap_s", "fcr_rate", "csat_top2_rate", "csat_mean", "csat_responses",
                    "frt_median_s", "resolution_median_s", "escalation_rate", "transfer_rate", "occupancy",
                    "qa_score", "bonus_eligible_contacts"):
            assert key in r
        assert not any(k.endswith("_ms") for k in r)
    # an ISO week of the report equals the operator_period mart row (recomputed, not averaged)
    week = report.scorecard(home, period="2026-W43", grain="week")
    mart = {r[0]: r[1:] for r in query(home, """SELECT operator_id, aht_phone_ms, fcr_rate, csat_top2_rate,
        frt_median_ms, provisional FROM operator_period WHERE grain = 'week' AND period_start = '2026-10-19'""")}
    assert {r["operator_id"] for r in week} == set(mart)
    for r in week:
        aht, fcr, csat, frt, prov = mart[r["operator_id"]]
        assert r["aht_phone_s"] == pytest.approx(None if aht is None else aht / 1000)
        assert (r["fcr_rate"], r["csat_top2_rate"], r["provisional"]) == (fcr, csat, prov)
        assert r["frt_median_s"] == pytest.approx(None if frt is None else frt / 1000)


def test_scorecard_days_equal_operator_daily_and_operator_filter(published: Home) -> None:
    rows = report.scorecard(published, date_from=date(2026, 10, 14), date_to=date(2026, 10, 15), grain="day",
                            operator="OP-005")
    assert [(r["operator_id"], r["period_start"]) for r in rows] == [("OP-005", "2026-10-14"), ("OP-005", "2026-10-15")]
    mart = query(published, """SELECT contacts_handled, aht_phone_ms, fcr_num, fcr_den, occupancy FROM operator_daily
        WHERE operator_id = 'OP-005' AND local_date IN ('2026-10-14', '2026-10-15') ORDER BY local_date""")
    for r, (n, aht, fn, fd, occ) in zip(rows, mart, strict=True):
        assert (r["contacts_handled"], r["fcr_num"], r["fcr_den"]) == (n, fn, fd)
        assert r["aht_phone_s"] == pytest.approx(aht / 1000) and r["occupancy"] == pytest.approx(occ)


def test_idle_operator_appears_with_zero_counts_and_null_rates(published: Home) -> None:
    # OP-012 is hired on 2026-10-19: in the week before, a version is not valid → absent; on the 19th → present
    hired = report.scorecard(published, date_from=date(2026, 10, 19), date_to=date(2026, 10, 19), operator="OP-012")
    assert len(hired) == 1
    before = report.scorecard(published, date_from=date(2026, 10, 12), date_to=date(2026, 10, 13), operator="OP-012")
    assert before == []
    # the leaver OP-008 (last day 2026-10-16) in a range after leaving but with a valid version: zeros
    idle = [r for r in report.scorecard(published, period="2026-W43") if r["contacts_handled"] == 0]
    assert idle, "some operator has no contacts in W43"
    for r in idle:
        assert r["calls_answered"] == 0 and r["fcr_den"] == 0 and r["fcr_rate"] is None and r["aht_phone_s"] is None


def test_queues_report_equals_queue_marts(published: Home) -> None:
    rows = report.queues(published, period="2026-10", grain="month")
    mart = {r[0]: r[1:] for r in query(published, """SELECT queue_id, offered, answered, short_abandoned,
        service_level, asa_ms, abandon_rate FROM queue_period WHERE grain = 'month' AND period_start = '2026-10-01'""")}
    assert {r["queue_id"] for r in rows} == set(mart)
    for r in rows:
        offered, answered, short, sl, asa, ab = mart[r["queue_id"]]
        assert (r["offered"], r["answered"], r["short_abandoned"]) == (offered, answered, short)
        assert r["service_level"] == pytest.approx(sl) and r["abandon_rate"] == pytest.approx(ab)
        assert r["asa_s"] == pytest.approx(None if asa is None else asa / 1000)
    one = report.queues(published, queue="q_phone_general")
    assert [r["queue_id"] for r in one] == ["q_phone_general"] and one[0]["offered"] > 0


@pytest.mark.parametrize("dimension", ["team", "tier", "channel"])
def test_teams_report_equals_team_period(published: Home, dimension: str) -> None:
    rows = report.teams(published, dimension=dimension, date_from=date(2026, 10, 14), date_to=date(2026, 10, 14),
                        grain="day")
    mart = {r[0]: r[1:] for r in query(published, """SELECT dimension_value, contacts_handled, fcr_num, fcr_den,
        csat_top2_den, offered, service_level FROM team_period WHERE dimension = ? AND grain = 'day'
        AND period_start = '2026-10-14'""", [dimension])}
    assert {r["dimension_value"] for r in rows} == set(mart)
    for r in rows:
        assert (r["contacts_handled"], r["fcr_num"], r["fcr_den"], r["csat_top2_den"], r["offered"]) == tuple(
            mart[r["dimension_value"]][:5])
        assert r["service_level"] == pytest.approx(mart[r["dimension_value"]][5])
    with pytest.raises(UsageError):
        report.teams(published, dimension="queue")


def _snapshot(home: Home, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of the published snapshot (the marts as reports read them)."""
    from pipeline.warehouse import open_snapshot

    con = open_snapshot(home)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


_CSAT_SUMS = "sum(csat_top2_num), sum(csat_top2_den), sum(csat_mean_num), sum(csat_mean_den)"


def test_csat_by_language_adds_up_to_the_overall_and_team_csat(published: Home) -> None:
    # the marts: for every grain and period, Σ over languages = Σ over channels of team_period (overall)
    by_language = _snapshot(published, f"""SELECT grain, period_start, {_CSAT_SUMS} FROM csat_language_period
        GROUP BY ALL ORDER BY ALL""")
    by_channel = _snapshot(published, f"""SELECT grain, period_start, {_CSAT_SUMS} FROM team_period
        WHERE dimension = 'channel' GROUP BY ALL ORDER BY ALL""")
    assert by_language == by_channel
    assert sum(r[3] for r in by_language if r[0] == "month") > 0
    languages = {r[0] for r in _snapshot(published, "SELECT DISTINCT language FROM csat_language_period")}
    assert len(languages) >= 2, languages

    # the range query equals the mart's days, and its languages add up to each team's row of the same range
    day = date(2026, 10, 14)
    rows = report.csat(published, date_from=day, date_to=day, grain="day")
    mart = {r[0]: r[1:] for r in _snapshot(published, """SELECT language, csat_top2_num, csat_top2_den, csat_mean_num,
        csat_mean_den, csat_wilson_low, provisional FROM csat_language_period WHERE grain = 'day' AND period_start = ?""",
                                           [day])}
    assert {r["language"] for r in rows} == set(mart) == languages
    for r in rows:
        assert (r["csat_top2_num"], r["csat_top2_den"], r["csat_mean_num"], r["csat_mean_den"]) == mart[r["language"]][:4]
        assert r["csat_wilson_low"] == pytest.approx(mart[r["language"]][4]) and r["provisional"] == mart[r["language"]][5]
        assert "team_id" not in r and "csat_response_rate" not in r
    teams = report.teams(published, dimension="team", period="2026-W43", grain="week")
    assert sum(t["csat_top2_den"] for t in teams) > 0
    for t in teams:
        per_language = report.csat(published, period="2026-W43", grain="week", team=t["dimension_value"])
        assert {r["team_id"] for r in per_language} == {t["dimension_value"]}
        for key in ("csat_top2_num", "csat_top2_den", "csat_mean_num", "csat_mean_den", "csat_responses"):
            assert sum(r[key] for r in per_language) == t[key], (t["dimension_value"], key)
    one = report.csat(published, period="2026-W43", grain="week", language=sorted(languages)[0].upper())
    assert [r["language"] for r in one] == [sorted(languages)[0]]
