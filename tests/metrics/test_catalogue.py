"""The metric catalogue is the one place a KPI is defined: complete, labelled in en/ru/uk, and equal
to what the published marts carry and what docs/metrics.md says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.core.config import Config
from pipeline.core.home import Home
from pipeline.metrics import catalogue, docs
from pipeline.metrics.catalogue import CELLS, DIRECTIONS, KEYS, LANGS, MARTS_BY_CELL, METRICS, UNITS

HOW_TO_FIX = "docs/metrics.md is out of date: run `python -m pipeline.metrics.docs` and commit the result"
CYRILLIC = re.compile(r"[а-яА-ЯіїєґІЇЄҐёЁ]")
ABBREVIATIONS = ("AHT", "ACW", "FCR", "CSAT", "FRT", "SL", "ASA", "QA")

# The metric names of the shared interface (/work/plan/issue3.md), written out independently of the
# catalogue so a rename on either side fails here.
INTERFACE = {
    "operator": """contacts_handled calls_answered chats_handled emails_handled social_handled
        aht_phone_ms aht_phone_num_ms aht_phone_den aht_components aht_partial_n talk_ms hold_ms wrap_ms
        aht_chat_ms aht_chat_num_ms aht_chat_den chat_effective_handle_ms
        avg_chat_concurrency avg_chat_concurrency_num_ms avg_chat_concurrency_den_ms
        aht_email_ms aht_email_num_ms aht_email_den fcr_rate fcr_num fcr_den
        csat_top2_rate csat_top2_num csat_top2_den csat_mean csat_mean_num csat_mean_den csat_responses
        csat_surveys_sent csat_response_rate csat_response_rate_num csat_response_rate_den
        csat_wilson_low csat_wilson_high
        frt_median_ms frt_chat_median_ms frt_email_median_ms frt_social_median_ms resolution_median_ms
        escalation_rate escalation_num escalation_den escalation_l2_n escalation_l3_n
        transfer_rate transfer_num transfer_den reopen_rate reopen_num reopen_den
        occupancy occupancy_num_ms occupancy_den_ms qa_score qa_n bonus_eligible_contacts""",
    "queue": """offered answered abandoned short_abandoned timeout key_exit empty in_progress_n
        service_level service_level_num service_level_den asa_ms asa_num_ms asa_den
        abandon_rate abandon_num abandon_den""",
    "team": """contacts_handled fcr_rate fcr_num fcr_den csat_top2_rate csat_top2_num csat_top2_den
        csat_mean csat_responses aht_phone_ms aht_chat_ms aht_email_ms escalation_rate transfer_rate
        offered answered service_level""",
    "language": """csat_top2_rate csat_top2_num csat_top2_den csat_mean csat_mean_num csat_mean_den csat_responses
        csat_wilson_low csat_wilson_high""",
}
SCORECARD_KEYS = """contacts_handled calls_answered aht_phone_s aht_chat_s aht_email_s talk_s hold_s wrap_s
    fcr_rate fcr_num fcr_den csat_top2_rate csat_mean csat_responses frt_median_s resolution_median_s
    escalation_rate transfer_rate occupancy qa_score bonus_eligible_contacts""".split()
QUEUE_KEYS = """offered answered abandoned short_abandoned timeout service_level asa_s abandon_rate""".split()


# --- the generated document --------------------------------------------------------------------------

def test_committed_metrics_md_matches_rendered() -> None:
    path = docs.DOCS_DIR / docs.METRICS_MD
    assert path.exists(), HOW_TO_FIX
    assert path.read_text(encoding="utf-8") == docs.render_metrics_md(), HOW_TO_FIX


def test_metrics_md_shows_every_metric_once_with_its_labels() -> None:
    text = docs.render_metrics_md()
    for m in catalogue.metrics(companions=False):
        assert text.count(f"\n### {m.report_name} · ") == 1, m.name
        for lang in LANGS:
            assert m.label(lang) in text, (m.name, lang)
    for m in catalogue.metrics():
        assert f"`{m.report_name}`" in text, f"{m.name} is not in docs/metrics.md"


# --- completeness and labels -------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(METRICS))
def test_every_metric_is_fully_described(name: str) -> None:
    m = METRICS[name]
    for lang in LANGS:
        assert m.label(lang).strip(), f"{name} has no {lang} label"
    assert CYRILLIC.search(m.label_ru) and CYRILLIC.search(m.label_uk), f"{name}: ru/uk labels are not translated"
    for abbr in ABBREVIATIONS:  # the profession says "AHT" in every language (GLOSSARY.md)
        if re.search(rf"\b{abbr}\b", m.label_en):
            assert re.search(rf"\b{abbr}\b", m.label_ru) and re.search(rf"\b{abbr}\b", m.label_uk), (name, abbr)
    assert m.unit in UNITS, f"{name}: unit {m.unit!r} not in {UNITS}"
    assert m.better in DIRECTIONS
    assert m.grain and set(m.grain) <= set(CELLS)
    assert m.formula.strip() and m.description.strip() and m.source.strip()
    assert m.report_name == (name[:-3] + "_s" if name.endswith("_ms") else name)
    if m.stored_ms:
        assert m.unit == "seconds", f"{name} is stored in ms but its unit is {m.unit}"


def test_key_columns_are_labelled_in_three_languages() -> None:
    for k in KEYS.values():
        assert all(k.label(lang).strip() for lang in LANGS) and k.description.strip(), k.name


def test_report_names_are_unique_and_never_shadow_another_name() -> None:
    report_names = [m.report_name for m in METRICS.values()]
    assert len(report_names) == len(set(report_names))
    for m in METRICS.values():
        other = METRICS.get(m.report_name)
        assert other is None or other is m, f"report name {m.report_name} is the mart name of {other.name}"
    assert not set(KEYS) & (set(METRICS) | set(report_names))


def test_rates_and_means_name_their_companions() -> None:
    for m in catalogue.metrics(companions=False):
        for part in (m.numerator, m.denominator):  # a column name, or plain text saying what is counted
            if re.fullmatch(r"[a-z0-9_]+", part):
                assert part in METRICS, f"{m.name}: {part} is not a catalogued column"
        if m.unit == "rate" and not m.name.startswith("csat_wilson"):
            assert m.numerator in METRICS and m.denominator in METRICS, f"{m.name} has no _num/_den columns"
            assert METRICS[m.numerator].parent == m.name and METRICS[m.denominator].parent == m.name
            assert METRICS[m.denominator].unit in ("count", "seconds")


@pytest.mark.parametrize("cell", CELLS)
def test_every_interface_name_is_catalogued_for_its_cell(cell: str) -> None:
    missing = [n for n in INTERFACE[cell].split() if n not in METRICS]
    assert not missing, f"not in the catalogue: {missing}"
    wrong = [n for n in INTERFACE[cell].split() if cell not in METRICS[n].grain]
    assert not wrong, f"catalogued without the {cell} grain: {wrong}"


def test_report_columns_cover_the_required_report_keys() -> None:
    assert set(SCORECARD_KEYS) <= set(catalogue.report_columns("operator"))
    assert set(QUEUE_KEYS) <= set(catalogue.report_columns("queue"))
    assert "fcr_num" not in catalogue.report_columns("operator", companions=False)
    with pytest.raises(KeyError):
        catalogue.report_columns("galaxy")


# --- helpers -----------------------------------------------------------------------------------------

def test_report_values_convert_milliseconds_only() -> None:
    assert catalogue.to_report_value("aht_phone_ms", 123_456) == pytest.approx(123.456)  # 123456 ms ÷ 1000
    assert catalogue.to_report_value("occupancy_den_ms", 3_600_000) == pytest.approx(3600.0)
    assert catalogue.to_report_value("aht_phone_ms", None) is None
    assert catalogue.to_report_value("fcr_rate", 0.5) == 0.5
    assert catalogue.to_report_value("fcr_num", 3) == 3
    assert catalogue.to_report_value("aht_phone_s", 1.5) == 1.5  # already a report value
    assert catalogue.to_report_value("operator_id", "op-1") == "op-1"
    with pytest.raises(KeyError):
        catalogue.to_report_value("aht_phone_typo_ms", 1)


def test_report_rows_are_renamed_and_idempotent() -> None:
    row = {"operator_id": "op-1", "aht_phone_ms": 90_000.0, "aht_phone_num_ms": 180_000, "aht_phone_den": 2}
    once = catalogue.to_report_row(row)
    assert once == {"operator_id": "op-1", "aht_phone_s": 90.0, "aht_phone_num_s": 180.0, "aht_phone_den": 2}
    assert catalogue.to_report_row(once) == once


def test_lookups_by_mart_and_report_name() -> None:
    assert catalogue.get("aht_phone_ms").report_name == "aht_phone_s"
    assert catalogue.by_report_name("asa_s").name == "asa_ms"
    assert catalogue.by_report_name("fcr_rate") is catalogue.get("fcr_rate")
    with pytest.raises(KeyError, match="aht_phone_ms"):
        catalogue.get("aht_phone_s")
    with pytest.raises(KeyError):
        catalogue.by_report_name("aht_phone_ms")
    assert catalogue.label("aht_phone_s", "ru") == catalogue.label("aht_phone_ms", "ru")
    assert "AHT" in catalogue.label("aht_phone_ms", "uk")
    assert catalogue.label("fcr_rate", "uk") == "Вирішення з першого звернення (FCR)"
    assert catalogue.label("operator_id", "ru") == "Оператор"
    with pytest.raises(KeyError):
        catalogue.label("fcr_rate", "de")


# --- the published marts -----------------------------------------------------------------------------

TINY = {
    "teams.csv": """team_id,name,timezone
t1,Support Kyiv,Europe/Kyiv
""",
    "queues.csv": """queue_id,team_id,timezone,channel,sl_threshold_s
q1,t1,Europe/Kyiv,phone,20
""",
    "operators.csv": """operator_id,display_name,team_id,tier,timezone,valid_from
op-1,Ганна Коваленко,t1,L1,Europe/Kyiv,2026-01-01
op-2,Olivia Brown,t1,L2,Europe/Kyiv,2026-01-01
""",
    # Two answered calls and one short abandon (3 s) in q1 on 2026-10-14, Kyiv time.
    "calls.csv": """call_id,leg,direction,queue_id,agent_id,customer_phone,reason_code,enqueued_at,answered_at,\
ended_at,outcome,end_reason,talk_s,hold_s,wrap_s
c1,1,inbound,q1,op-1,+7 912 000-00-01,billing,2026-10-14T09:00:00+03:00,2026-10-14T09:00:10+03:00,\
2026-10-14T09:05:00+03:00,answered,resolved,250,20,30
c2,1,inbound,q1,op-2,+7 912 000-00-02,billing,2026-10-14T10:00:00+03:00,2026-10-14T10:00:30+03:00,\
2026-10-14T10:03:00+03:00,answered,resolved,140,10,20
c3,1,inbound,q1,,+7 912 000-00-03,,2026-10-14T11:00:00+03:00,,2026-10-14T11:00:03+03:00,abandoned,,,,
""",
}
PUBLISHED_MARTS = ("operator_daily", "operator_period", "queue_daily", "queue_period", "team_period",
                   "csat_language_period")


@pytest.fixture(scope="module")
def mart_columns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Columns of each published mart, from a real ingest and run on a tiny home."""
    from pipeline.ingest import ingest_paths
    from pipeline.jobs.run import run_pipeline
    from pipeline.warehouse import open_snapshot

    root = tmp_path_factory.mktemp("catalogue_home")
    files = []
    for name, text in TINY.items():
        path = root / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        files.append(Path(path))
    home = Home(root / "home")
    results = ingest_paths(home, Config(), files)
    assert all(r.status not in ("rejected",) for r in results), [r.summary_line() for r in results]
    run_pipeline(home, Config(), min_age_s=0)
    con = open_snapshot(home)
    try:
        published = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        return {t: [r[0] for r in con.execute(f'DESCRIBE "{t}"').fetchall()] for t in PUBLISHED_MARTS
                if t in published}
    finally:
        con.close()


@pytest.mark.parametrize("mart", PUBLISHED_MARTS)
def test_every_mart_column_is_in_the_catalogue(mart: str, mart_columns: dict[str, list[str]]) -> None:
    assert mart in mart_columns, f"the mart {mart} is not in the published snapshot"
    cell = next(c for c, marts in MARTS_BY_CELL.items() if mart in marts)
    cols = [c for c in mart_columns[mart] if c not in KEYS]
    undocumented = [c for c in cols if c not in METRICS]
    assert not undocumented, (f"{mart} has columns the catalogue does not describe: {undocumented}; add them to "
                              "pipeline/metrics/catalogue.py and run `python -m pipeline.metrics.docs`")
    wrong_grain = [c for c in cols if cell not in METRICS[c].grain]
    assert not wrong_grain, f"{mart} carries {wrong_grain}, but the catalogue's grain for them lacks {cell!r}"
    absent = [m.name for m in METRICS.values() if cell in m.grain and m.name not in mart_columns[mart]]
    assert not absent, f"the catalogue says {cell} cells carry {absent}, but {mart} has no such columns"
