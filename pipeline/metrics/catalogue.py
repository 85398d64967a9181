"""The one metric catalogue (DESIGN §4): every KPI column of the published marts, once, with its
en/ru/uk label (GLOSSARY.md), formula, numerator and denominator, unit, direction, the cells that
carry it and the source of the definition. `docs/metrics.md`, the CLI's table headers and the
dashboard's tooltips all come from here; `tests/metrics/test_catalogue.py` fails when a mart column
has no entry.

Names are the mart names (`aht_phone_ms`); reports show `_ms` durations as `_s` seconds
(`report_name`, `to_report_value`). Rate and mean companions (`fcr_num`, `aht_phone_num_ms`, ...)
are entries of their own with `parent` set, so every column has a description and a label.
Units describe the report value: `seconds` columns are stored as milliseconds in the marts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Unit = Literal["count", "seconds", "rate", "score", "ratio", "text"]
Better = Literal["higher", "lower", "neutral"]
Cell = Literal["operator", "queue", "team", "language"]
Lang = Literal["en", "ru", "uk"]

UNITS: tuple[str, ...] = ("count", "seconds", "rate", "score", "ratio", "text")
DIRECTIONS: tuple[str, ...] = ("higher", "lower", "neutral")
CELLS: tuple[str, ...] = ("operator", "queue", "team", "language")
LANGS: tuple[str, ...] = ("en", "ru", "uk")

# Which published marts carry which cell (the drift test DESCRIBEs them).
MARTS_BY_CELL: dict[str, tuple[str, ...]] = {
    "operator": ("operator_daily", "operator_period"),
    "queue": ("queue_daily", "queue_period"),
    "team": ("team_period",),
    "language": ("csat_language_period",),
}

_MS_SUFFIX = re.compile(r"_ms$")


def report_name_of(name: str) -> str:
    """`aht_phone_ms` -> `aht_phone_s`; other names are unchanged."""
    return _MS_SUFFIX.sub("_s", name)


@dataclass(frozen=True)
class Metric:
    """One mart column. `grain` lists the cells that carry it; `grain_notes` says how a cell's
    definition differs from `formula` (team FCR, distinct contacts for teams)."""

    name: str
    label_en: str
    label_ru: str
    label_uk: str
    formula: str
    numerator: str
    denominator: str
    unit: Unit
    better: Better
    grain: tuple[Cell, ...]
    source: str
    description: str
    family: str
    parent: str | None = None
    grain_notes: tuple[tuple[Cell, str], ...] = ()
    report_name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "report_name", report_name_of(self.name))

    @property
    def is_companion(self) -> bool:
        return self.parent is not None

    @property
    def stored_ms(self) -> bool:
        """Stored as milliseconds in the marts, shown as seconds in reports."""
        return self.name.endswith("_ms")

    def label(self, lang: str = "en") -> str:
        return {"en": self.label_en, "ru": self.label_ru, "uk": self.label_uk}[_check_lang(lang)]

    def note(self, cell: str) -> str:
        return dict(self.grain_notes).get(cell, "")


@dataclass(frozen=True)
class KeyColumn:
    """A key or attribute column of the marts (not a metric): documented, labelled, never converted."""

    name: str
    label_en: str
    label_ru: str
    label_uk: str
    description: str

    @property
    def report_name(self) -> str:
        return self.name

    def label(self, lang: str = "en") -> str:
        return {"en": self.label_en, "ru": self.label_ru, "uk": self.label_uk}[_check_lang(lang)]


def _check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise KeyError(f"unknown language {lang!r}; the catalogue has {', '.join(LANGS)}")
    return lang


# --- families, in the order docs/metrics.md shows them ---------------------------------------------

FAMILIES: dict[str, str] = {
    "volume": "Volume",
    "handle_time": "Handle time (AHT), never blended across channels",
    "fcr": "First-contact resolution (FCR)",
    "csat": "Customer satisfaction (CSAT)",
    "response": "First response and resolution",
    "flow": "Escalations, transfers and reopens",
    "occupancy": "Occupancy and chat concurrency",
    "qa_pay": "QA and pay",
    "queues": "Queues: service level, ASA, abandonment",
}

# --- sources ----------------------------------------------------------------------------------------

_SRC_VOLUME = "DESIGN §3 Handled"
_SRC_AHT = "DESIGN §4 AHT; ICMI/COPC AHT = (talk + hold + after-call work) / handled"
_SRC_CHAT = "DESIGN §4 AHT (chat); ICMI chat concurrency"
_SRC_FCR = "DESIGN §4 FCR; SQM Group/ICMI FCR definition (repeat-contact window)"
_SRC_CSAT = "DESIGN §4 CSAT; ACSI/industry top-box CSAT"
_SRC_WILSON = "DESIGN §4 CSAT; Wilson (1927) score interval, z = 1.96"
_SRC_FRT = "DESIGN §4 First response and resolution; ICMI FRT"
_SRC_RATES = "DESIGN §4 Rates; COPC transfer/escalation rate"
_SRC_OCC = "DESIGN §4 Occupancy; ICMI/COPC occupancy = handle time / staffed time"
_SRC_QA = "DESIGN §7 QA scoring; COPC transaction monitoring"
_SRC_PAY = "DESIGN §8 Pay (bonus-eligible segment)"
_SRC_QUEUE = "DESIGN §4 Queues; ICMI service level (X% in T s), ASA, abandonment excluding short abandons"

# --- registry ---------------------------------------------------------------------------------------

METRICS: dict[str, Metric] = {}
_COMPANION_LABELS = {
    "num": ("numerator", "числитель", "чисельник"),
    "den": ("denominator", "знаменатель", "знаменник"),
}


def _add(m: Metric) -> Metric:
    if m.name in METRICS:
        raise ValueError(f"metric {m.name} is registered twice")
    METRICS[m.name] = m
    return m


def _metric(name: str, en: str, ru: str, uk: str, *, formula: str, unit: Unit, better: Better,
            grain: tuple[Cell, ...], source: str, description: str, family: str,
            numerator: str = "", denominator: str = "", notes: tuple[tuple[Cell, str], ...] = ()) -> Metric:
    return _add(Metric(name, en, ru, uk, formula, numerator, denominator, unit, better, grain, source,
                       description, family, None, notes))


def _part(parent: Metric, name: str, role: str, description: str, *, unit: Unit | None = None,
          labels: tuple[str, str, str] | None = None) -> Metric:
    """A companion column of `parent` (its numerator, denominator or a detail column)."""
    if labels is None:
        en, ru, uk = _COMPANION_LABELS[role]
        labels = (f"{parent.label_en}: {en}", f"{parent.label_ru}: {ru}", f"{parent.label_uk}: {uk}")
    return _add(Metric(name, *labels, formula=description, numerator="", denominator="",
                       unit=unit or ("seconds" if name.endswith("_ms") else "count"), better="neutral",
                       grain=parent.grain, source=parent.source, description=description,
                       family=parent.family, parent=parent.name))


def _ratio(name: str, en: str, ru: str, uk: str, *, num: str, den: str, num_desc: str, den_desc: str,
           formula: str, unit: Unit, better: Better, grain: tuple[Cell, ...], source: str, description: str,
           family: str, notes: tuple[tuple[Cell, str], ...] = ()) -> Metric:
    """A rate or mean with its `_num`/`_den` companions."""
    m = _metric(name, en, ru, uk, formula=formula, unit=unit, better=better, grain=grain, source=source,
                description=description, family=family, numerator=num, denominator=den, notes=notes)
    _part(m, num, "num", num_desc)
    _part(m, den, "den", den_desc)
    return m


OP: tuple[Cell, ...] = ("operator",)
OP_TEAM: tuple[Cell, ...] = ("operator", "team")
QUEUE: tuple[Cell, ...] = ("queue",)
QUEUE_TEAM: tuple[Cell, ...] = ("queue", "team")

# --- volume -----------------------------------------------------------------------------------------

_metric("contacts_handled", "Contacts handled", "Обработанные обращения", "Оброблені звернення",
        formula="operator: count(segments dated in the period); team: count(distinct contacts)",
        unit="count", better="neutral", grain=OP_TEAM, source=_SRC_VOLUME, family="volume",
        description="Operator: segments (one operator's stint on a contact) dated in the period. "
                    "Team, tier, channel: distinct contacts, so the sum over operators is at least the team's.",
        notes=(("team", "distinct contacts with a segment in the cell, dated in the team's timezone"),))
_metric("calls_answered", "Calls answered", "Принятые звонки", "Прийняті дзвінки",
        formula="count(phone segments)", unit="count", better="neutral", grain=OP, source=_SRC_VOLUME,
        family="volume", description="Answered phone legs (phone segments) of the operator dated in the period.")
_metric("chats_handled", "Chats handled", "Обработанные чаты", "Оброблені чати",
        formula="count(chat segments)", unit="count", better="neutral", grain=OP, source=_SRC_VOLUME,
        family="volume", description="Accepted chat legs (chat segments) of the operator dated in the period.")
_metric("emails_handled", "E-mails handled", "Обработанные обращения по e-mail",
        "Оброблені звернення електронною поштою",
        formula="count(e-mail ticket segments)", unit="count", better="neutral", grain=OP, source=_SRC_VOLUME,
        family="volume", description="E-mail ticket segments (an assignment interval with a public reply "
                                     "or a solve by the operator) dated in the period.")
_metric("social_handled", "Social contacts handled", "Обработанные обращения из соцсетей",
        "Оброблені звернення із соцмереж",
        formula="count(social segments)", unit="count", better="neutral", grain=OP, source=_SRC_VOLUME,
        family="volume", description="Segments on contacts created in a social channel, dated in the period.")

# --- handle time ------------------------------------------------------------------------------------

_aht_phone = _ratio(
    "aht_phone_ms", "AHT, phone", "Среднее время обработки (AHT), звонки",
    "Середній час обробки (AHT), дзвінки",
    num="aht_phone_num_ms", den="aht_phone_den",
    num_desc="Sum over phone segments of the components listed in aht_components.",
    den_desc="Phone segments in the cell.",
    formula="Σ(reported components among talk, hold, wrap) / phone segments",
    unit="seconds", better="neutral", grain=OP_TEAM, source=_SRC_AHT, family="handle_time",
    description="Average handle time of phone segments: the components reported for every phone segment "
                "of the cell summed, divided by phone segments. Null only when no component is reported.")
_part(_aht_phone, "aht_components", "detail", unit="text",
      labels=("AHT, phone: components", "AHT, звонки: учтённые составляющие", "AHT, дзвінки: враховані складові"),
      description="The components aht_phone sums, those reported for every phone segment of the cell: "
                  "`talk`, `talk+hold+wrap`, ...; null when none is reported.")
_part(_aht_phone, "aht_partial_n", "detail", unit="count",
      labels=("AHT, phone: segments missing a component", "AHT, звонки: сегменты без части составляющих",
              "AHT, дзвінки: сегменти без частини складових"),
      description="Phone segments missing a component (talk, hold, wrap) that other phone segments of the "
                  "cell report; that component is then left out of the cell's AHT.")
_metric("talk_ms", "Talk time", "Время разговора", "Час розмови",
        formula="Σ talk over phone segments", unit="seconds", better="neutral", grain=OP, source=_SRC_AHT,
        family="handle_time", description="Total talk time of phone segments; null when never reported. "
                                          "Asterisk's talk includes hold.")
_metric("hold_ms", "Hold time", "Время удержания", "Час утримання",
        formula="Σ hold over phone segments", unit="seconds", better="neutral", grain=OP, source=_SRC_AHT,
        family="handle_time", description="Total hold time of phone segments; null when never reported "
                                          "(always null for Asterisk, whose talk includes hold).")
_metric("wrap_ms", "Wrap-up time (ACW)", "Постобработка (ACW)", "Післяобробка (ACW)",
        formula="Σ wrap over phone segments", unit="seconds", better="neutral", grain=OP, source=_SRC_AHT,
        family="handle_time", description="Total after-call work of phone segments; null when never reported.")
_ratio("aht_chat_ms", "AHT, chat", "Среднее время обработки (AHT), чаты", "Середній час обробки (AHT), чати",
       num="aht_chat_num_ms", den="aht_chat_den",
       num_desc="Sum over chat segments of accept → end, plus wrap where reported.",
       den_desc="Chat segments in the cell.",
       formula="Σ(accept → end + wrap when reported) / chat segments",
       unit="seconds", better="neutral", grain=OP_TEAM, source=_SRC_CHAT, family="handle_time",
       description="Average handle time of chat segments, accept to end (plus wrap-up when the source "
                   "reports it); concurrent chats each count their full time.")
_metric("chat_effective_handle_ms", "Chat effective handle time", "Эффективное время обработки чатов",
        "Ефективний час обробки чатів",
        formula="Σ over chat segments of ∫ 1/n(t) dt from accept to end / chat segments, n(t) = the "
                "operator's open chats at t",
        unit="seconds", better="neutral", grain=OP, source=_SRC_CHAT, family="handle_time",
        description="Average time a chat costs the operator when concurrent chats share it evenly: each "
                    "moment of an open chat counts 1/n(t) with n(t) chats open then; wrap excluded.")
_ratio("aht_email_ms", "AHT, e-mail", "Среднее время обработки (AHT), e-mail",
       "Середній час обробки (AHT), e-mail",
       num="aht_email_num_ms", den="aht_email_den",
       num_desc="Tracked work time of e-mail segments whose source reports it.",
       den_desc="E-mail segments with tracked work time.",
       formula="Σ tracked work time / e-mail segments with tracked time",
       unit="seconds", better="neutral", grain=OP_TEAM, source=_SRC_AHT, family="handle_time",
       description="Average tracked work time of e-mail segments; null when the source tracks no time. "
                   "Never estimated from reply timestamps.")

# --- FCR --------------------------------------------------------------------------------------------

_ratio("fcr_rate", "First-contact resolution (FCR)", "Решение с первого обращения (FCR)",
       "Вирішення з першого звернення (FCR)",
       num="fcr_num", den="fcr_den",
       num_desc="Of fcr_den: resolved by the operator, with no repeat within 7 days of resolution.",
       den_desc="Inbound segments ending resolved, transfer or escalation (policy escalations left out "
                "when configured), on contacts with a known, non-anonymous, non-excluded customer key.",
       formula="fcr_num / fcr_den", unit="rate", better="higher", grain=OP_TEAM, source=_SRC_FCR,
       family="fcr",
       description="Share of eligible inbound segments the operator resolved with no repeat contact: same "
                   "customer and reason, any channel, from the contact's start to 7 days after resolution.",
       notes=(("team", "den = eligible inbound contacts dated in the period that ended resolved or "
                       "escalated out of the team; num = resolved, no repeat"),))

# --- CSAT -------------------------------------------------------------------------------------------

_csat = _ratio(
    "csat_top2_rate", "CSAT, top-box share", "Удовлетворённость клиентов (CSAT), доля высших оценок",
    "Задоволеність клієнтів (CSAT), частка найвищих оцінок",
    num="csat_top2_num", den="csat_top2_den",
    num_desc="Attributed responses in the top box: 4–5 on 1–5, good on good/bad, 9–10 on 0–10.",
    den_desc="Attributed scored responses (one per contact and survey: the latest received by "
             "resolved_at + 14 days).",
    formula="top-box responses / scored responses", unit="rate", better="higher", grain=OP_TEAM,
    source=_SRC_CSAT, family="csat",
    description="Share of scored CSAT responses in the top box (4–5, good, 9–10 by scale). The name keeps "
                "'top2' on every scale. Unanswered and offered surveys are not responses.",
    notes=(("team", "includes responses attributed to no operator"),))
_ratio("csat_mean", "CSAT mean (1–5)", "Средняя оценка CSAT (1–5)", "Середня оцінка CSAT (1–5)",
       num="csat_mean_num", den="csat_mean_den",
       num_desc="Sum of the scores of attributed 1–5 responses.",
       den_desc="Attributed responses on the 1–5 scale.",
       formula="Σ score / responses, 1–5 scale only", unit="score", better="higher", grain=OP_TEAM,
       source=_SRC_CSAT, family="csat",
       description="Mean score of attributed CSAT responses on the 1–5 scale; other scales are left out.")
_metric("csat_responses", "CSAT responses", "Ответы на опрос CSAT", "Відповіді на опитування CSAT",
        formula="count(attributed scored responses)", unit="count", better="neutral", grain=OP_TEAM,
        source=_SRC_CSAT, family="csat",
        description="Scored CSAT responses attributed to the cell, dated on their attributed segment's date.")
_metric("csat_surveys_sent", "CSAT surveys sent", "Отправленные опросы CSAT", "Надіслані опитування CSAT",
        formula="count(surveys sent)", unit="count", better="neutral", grain=OP_TEAM, source=_SRC_CSAT,
        family="csat", description="CSAT surveys sent, attributed at sending by the same first-match rules "
                                   "as responses.")
_ratio("csat_response_rate", "CSAT response rate", "Доля ответов на опрос CSAT",
       "Частка відповідей на опитування CSAT",
       num="csat_response_rate_num", den="csat_response_rate_den",
       num_desc="Responses to the surveys counted in csat_response_rate_den.",
       den_desc="Surveys sent (from the source's sent events).",
       formula="responses / surveys sent", unit="rate", better="higher", grain=OP_TEAM, source=_SRC_CSAT,
       family="csat",
       description="Responses per survey sent; null when the source has no sent events. Never per contact.")
_metric("csat_wilson_low", "CSAT top-box, Wilson 95% lower bound", "CSAT, нижняя граница 95% (Уилсон)",
        "CSAT, нижня межа 95% (Вілсон)",
        formula="Wilson score interval lower bound of csat_top2_num / csat_top2_den, z = 1.96",
        numerator="csat_top2_num", denominator="csat_top2_den",
        unit="rate", better="higher", grain=OP_TEAM, source=_SRC_WILSON, family="csat",
        description="Lower end of the 95% Wilson interval of the CSAT top-box share: with few responses it "
                    "stays low, so small samples do not look perfect.")
_metric("csat_wilson_high", "CSAT top-box, Wilson 95% upper bound", "CSAT, верхняя граница 95% (Уилсон)",
        "CSAT, верхня межа 95% (Вілсон)",
        formula="Wilson score interval upper bound of csat_top2_num / csat_top2_den, z = 1.96",
        numerator="csat_top2_num", denominator="csat_top2_den",
        unit="rate", better="higher", grain=OP_TEAM, source=_SRC_WILSON, family="csat",
        description="Upper end of the 95% Wilson interval of the CSAT top-box share.")

# --- first response and resolution -----------------------------------------------------------------

_metric("frt_median_ms", "First reply time (FRT), median", "Время первого ответа (FRT), медиана",
        "Час першої відповіді (FRT), медіана",
        formula="quantile_cont(operator_first_reply, 0.5) over chat, e-mail and social segments",
        unit="seconds", better="lower", grain=OP, source=_SRC_FRT, family="response",
        description="Median time from the operator's assignment to their first public reply after it, over "
                    "chat, e-mail and social segments.")
for _ch, _en, _ru, _uk in (("chat", "chat", "чаты", "чати"), ("email", "e-mail", "e-mail", "e-mail"),
                           ("social", "social", "соцсети", "соцмережі")):
    _metric(f"frt_{_ch}_median_ms", f"First reply time (FRT), median, {_en}",
            f"Время первого ответа (FRT), медиана, {_ru}", f"Час першої відповіді (FRT), медіана, {_uk}",
            formula=f"quantile_cont(operator_first_reply, 0.5) over {_en} segments",
            unit="seconds", better="lower", grain=OP, source=_SRC_FRT, family="response",
            description=f"Median time from the operator's assignment to their first public reply, {_en} "
                        "segments only.")
_metric("resolution_median_ms", "Resolution time, median", "Время решения, медиана", "Час вирішення, медіана",
        formula="quantile_cont(resolved_at − created_at, 0.5) over contacts resolved by the operator",
        unit="seconds", better="lower", grain=OP, source=_SRC_FRT, family="response",
        description="Median calendar time from creation to first resolution of the contacts the operator "
                    "resolved. Full-resolution and business-hours variants live in contact_facts.")

# --- escalations, transfers, reopens ----------------------------------------------------------------

_SEGMENTS_OF_CELL = (("team", "over the segments of the cell's operators"),)
_ratio("escalation_rate", "Escalation rate", "Доля эскалаций", "Частка ескалацій",
       num="escalation_num", den="escalation_den",
       num_desc="Segments ending in escalation (handed to a higher tier).",
       den_desc="Handled segments.",
       formula="segments ending escalation / handled segments", unit="rate", better="lower", grain=OP_TEAM,
       source=_SRC_RATES, family="flow", notes=_SEGMENTS_OF_CELL,
       description="Share of handled segments handed to a higher tier (L1 → L2/L3, L2 → L3).")
_metric("escalation_l2_n", "Escalations to L2", "Эскалации на вторую линию", "Ескалації на другу лінію",
        formula="count(segments ending escalation, target tier L2)", unit="count", better="neutral", grain=OP,
        source=_SRC_RATES, family="flow", description="Segments escalated to the second line (L2).")
_metric("escalation_l3_n", "Escalations to L3", "Эскалации на третью линию", "Ескалації на третю лінію",
        formula="count(segments ending escalation, target tier L3)", unit="count", better="neutral", grain=OP,
        source=_SRC_RATES, family="flow", description="Segments escalated to the third line (L3).")
_ratio("transfer_rate", "Transfer rate", "Доля переводов", "Частка переведень",
       num="transfer_num", den="transfer_den",
       num_desc="Segments ending in transfer (handed to the same or a lower tier).",
       den_desc="Handled segments.",
       formula="segments ending transfer / handled segments", unit="rate", better="lower", grain=OP_TEAM,
       source=_SRC_RATES, family="flow", notes=_SEGMENTS_OF_CELL,
       description="Share of handled segments handed to the same or a lower tier.")
_ratio("reopen_rate", "Reopen rate", "Доля повторных открытий", "Частка повторних відкриттів",
       num="reopen_num", den="reopen_den",
       num_desc="Of reopen_den: reopened within the FCR window (7 days) after the solve.",
       den_desc="Ticket segments ending in a solve by the operator.",
       formula="solved tickets reopened within 7 days / solved tickets", unit="rate", better="lower",
       grain=OP, source=_SRC_RATES, family="flow",
       description="Share of the operator's solved tickets reopened within the FCR window (7 days).")

# --- occupancy --------------------------------------------------------------------------------------

_ratio("occupancy", "Occupancy", "Загруженность (occupancy)", "Завантаженість (occupancy)",
       num="occupancy_num_ms", den="occupancy_den_ms",
       num_desc="Phone handle time + chat effective handle time + e-mail tracked time.",
       den_desc="Logged-in time (union of login and queue-membership intervals) minus pauses; pauses "
                "with a wrap reason count as wrap, not pause.",
       formula="(phone handle + chat effective handle + e-mail tracked) / (logged-in − paused)",
       unit="rate", better="neutral", grain=OP, source=_SRC_OCC, family="occupancy",
       description="Share of available logged-in time spent handling contacts; null for static queue "
                   "members (no login events). Planned shifts are never the denominator.")
_ratio("avg_chat_concurrency", "Average chat concurrency", "Среднее число одновременных чатов",
       "Середня кількість одночасних чатів",
       num="avg_chat_concurrency_num_ms", den="avg_chat_concurrency_den_ms",
       num_desc="Σ accept → end over the operator's chat segments.",
       den_desc="Time with at least one chat open, |{t : n(t) ≥ 1}|.",
       formula="Σ(accept → end) / |{t : n(t) ≥ 1}|", unit="ratio", better="neutral", grain=OP,
       source=_SRC_CHAT, family="occupancy",
       description="Average number of chats open at once while the operator has at least one chat open.")

# --- QA and pay -------------------------------------------------------------------------------------

_metric("qa_score", "QA score", "Оценка качества (QA)", "Оцінка якості (QA)",
        formula="mean of the latest versions of non-calibration evaluations (auto-fail = 0)",
        numerator="Σ evaluation scores", denominator="qa_n", unit="score", better="higher", grain=OP,
        source=_SRC_QA, family="qa_pay",
        description="Mean QA evaluation score (0–110) of the operator's segments dated in the period; "
                    "auto-fails count as 0. Null until QA evaluations exist.")
_metric("qa_n", "QA evaluations", "Оценки качества (QA), количество", "Оцінки якості (QA), кількість",
        formula="count(latest non-calibration evaluations)", unit="count", better="neutral", grain=OP,
        source=_SRC_QA, family="qa_pay",
        description="Evaluations counted in qa_score (latest version, calibration left out).")
_metric("bonus_eligible_contacts", "Bonus-eligible contacts", "Обращения, учитываемые в премии",
        "Звернення, що враховуються в премії",
        formula="count(segments handled, resolved by the operator, no repeat, no QA auto-fail)",
        unit="count", better="higher", grain=OP, source=_SRC_PAY, family="qa_pay",
        description="Segments that earn piece rates under the default pay rules. Null until pay is computed.")

# --- queues -----------------------------------------------------------------------------------------

_metric("offered", "Offered", "Поступило в очередь", "Надійшло в чергу",
        formula="count(queue stints with a final outcome)", unit="count", better="neutral", grain=QUEUE_TEAM,
        source=_SRC_QUEUE, family="queues",
        description="Queue stints (ENTERQUEUE → exit) with a final outcome; in-progress stints are left out.",
        notes=(("team", "a call timing out of one queue into another counts once"),))
_metric("answered", "Answered", "Принято", "Прийнято",
        formula="count(stints with outcome answered)", unit="count", better="neutral", grain=QUEUE_TEAM,
        source=_SRC_QUEUE, family="queues", description="Offered stints answered by an operator.")
_metric("abandoned", "Abandoned", "Потерянные вызовы", "Втрачені дзвінки",
        formula="count(stints with outcome abandoned)", unit="count", better="lower", grain=QUEUE,
        source=_SRC_QUEUE, family="queues",
        description="Stints the customer left while waiting, short abandons included.")
_metric("short_abandoned", "Short abandons", "Короткие сбросы", "Короткі скидання",
        formula="count(abandoned with wait < 5 s; chat queues < 30 s)", unit="count", better="neutral",
        grain=QUEUE, source=_SRC_QUEUE, family="queues",
        description="Abandoned within 5 s of entering the queue (chat queues: 30 s); left out of SL and "
                    "abandonment.")
_metric("timeout", "Queue timeouts", "Выход из очереди по тайм-ауту", "Вихід із черги за тайм-аутом",
        formula="count(stints with outcome timeout)", unit="count", better="lower", grain=QUEUE,
        source=_SRC_QUEUE, family="queues", description="Stints that left the queue on its maximum wait time.")
_metric("key_exit", "Exits by key press", "Выход из очереди по нажатию клавиши",
        "Вихід із черги натисканням клавіші",
        formula="count(stints with outcome key_exit)", unit="count", better="neutral", grain=QUEUE,
        source=_SRC_QUEUE, family="queues", description="Stints the caller left by pressing a key.")
_metric("empty", "Exits on empty queue", "Выход: нет операторов в очереди", "Вихід: немає операторів у черзі",
        formula="count(stints with outcome empty)", unit="count", better="lower", grain=QUEUE,
        source=_SRC_QUEUE, family="queues", description="Stints that left because no operator was in the queue.")
_metric("in_progress_n", "Still in queue", "Ещё в очереди", "Ще в черзі",
        formula="count(stints with no final outcome yet)", unit="count", better="neutral", grain=QUEUE,
        source=_SRC_QUEUE, family="queues",
        description="Stints with no final outcome at the latest loaded event; not offered yet.")
_ratio("service_level", "Service level (SL)", "Уровень сервиса (SL)", "Рівень сервісу (SL)",
       num="service_level_num", den="service_level_den",
       num_desc="Answered stints with wait ≤ T (the queue's threshold, default 20 s).",
       den_desc="Offered stints minus short abandons.",
       formula="answered with wait ≤ T / (offered − short_abandoned)", unit="rate", better="higher",
       grain=QUEUE_TEAM, source=_SRC_QUEUE, family="queues",
       description="Share of offered contacts (short abandons left out) answered within the queue's "
                   "threshold T (default 20 s). Volume-weighted over days.",
       notes=(("team", "the wait runs from the first ENTERQUEUE to the answer"),))
_ratio("asa_ms", "Average speed of answer (ASA)", "Среднее время ответа (ASA)", "Середній час відповіді (ASA)",
       num="asa_num_ms", den="asa_den",
       num_desc="Σ wait of answered stints.", den_desc="Answered stints.",
       formula="Σ wait of answered / answered", unit="seconds", better="lower", grain=QUEUE,
       source=_SRC_QUEUE, family="queues",
       description="Mean wait in queue of answered stints. Volume-weighted over days.")
_ratio("abandon_rate", "Abandonment rate", "Доля потерянных вызовов", "Частка втрачених дзвінків",
       num="abandon_num", den="abandon_den",
       num_desc="Abandoned minus short abandons.", den_desc="Offered minus short abandons.",
       formula="(abandoned − short_abandoned) / (offered − short_abandoned)", unit="rate", better="lower",
       grain=QUEUE, source=_SRC_QUEUE, family="queues",
       description="Share of offered contacts the customer abandoned, short abandons left out of both sides.")

# --- team cells carry the operator formulas too ----------------------------------------------------
# team_period rows carry these with the same formulas over the cell's segments (and queue outcomes
# over the team's queues); the team-specific definitions above (handled, FCR) keep their own notes.
_TEAM_ALSO = (
    "calls_answered", "chats_handled", "emails_handled", "social_handled", "talk_ms", "hold_ms", "wrap_ms",
    "chat_effective_handle_ms", "avg_chat_concurrency", "avg_chat_concurrency_num_ms",
    "avg_chat_concurrency_den_ms", "frt_median_ms", "frt_chat_median_ms", "frt_email_median_ms",
    "frt_social_median_ms", "resolution_median_ms", "escalation_l2_n", "escalation_l3_n", "reopen_rate",
    "reopen_num", "reopen_den", "abandoned", "short_abandoned", "timeout", "key_exit", "empty",
    "in_progress_n", "asa_ms", "asa_num_ms", "asa_den", "abandon_rate", "abandon_num", "abandon_den",
)
for _name in _TEAM_ALSO:
    if "team" not in METRICS[_name].grain:
        METRICS[_name] = replace(METRICS[_name], grain=(*METRICS[_name].grain, "team"))

# --- language cells: CSAT by survey language -------------------------------------------------------
# csat_language_period rows (and `opkpi report csat`) carry the CSAT figures per survey language, same
# formulas, over every response the team figures count; surveys sent have no language, so no response rate.
_LANGUAGE_NOTE = ("responses in that survey language (`unknown` when the source gives none), credited to an "
                  "operator or not, each on the date team CSAT counts it; the languages add up to the overall figure")
_LANGUAGE_ALSO = ("csat_top2_rate", "csat_top2_num", "csat_top2_den", "csat_mean", "csat_mean_num", "csat_mean_den",
                  "csat_responses", "csat_wilson_low", "csat_wilson_high")
for _name in _LANGUAGE_ALSO:
    _m = METRICS[_name]
    _notes = (*_m.grain_notes, ("language", _LANGUAGE_NOTE)) if _name in ("csat_top2_rate", "csat_mean",
                                                                          "csat_responses") else _m.grain_notes
    METRICS[_name] = replace(_m, grain=(*_m.grain, "language"), grain_notes=_notes)


# --- key and attribute columns ----------------------------------------------------------------------

KEYS: dict[str, KeyColumn] = {k.name: k for k in (
    KeyColumn("operator_id", "Operator", "Оператор", "Оператор", "Operator id (the stable person id)."),
    KeyColumn("display_name", "Name", "Имя", "Ім'я", "Operator's display name in the version in force."),
    KeyColumn("team_id", "Team", "Группа", "Група", "Team id."),
    KeyColumn("tier", "Line", "Линия поддержки", "Лінія підтримки", "Support line: L1, L2 or L3."),
    KeyColumn("queue_id", "Queue", "Очередь", "Черга", "Queue id."),
    KeyColumn("channel", "Channel", "Канал", "Канал", "phone, chat, email or social."),
    KeyColumn("language", "Survey language", "Язык опроса", "Мова опитування",
              "Language of a CSAT response as the source gives it, trimmed and lower-cased (ru, uk, en); "
              "`unknown` when it gives none."),
    KeyColumn("local_date", "Date", "Дата", "Дата",
              "Local date (operator's timezone for operator cells, team's or queue's for theirs)."),
    KeyColumn("period_start", "Period start", "Начало периода", "Початок періоду",
              "First day of the week (Monday), month or range."),
    KeyColumn("grain", "Grain", "Шаг периода", "Крок періоду", "day, week, month or all (a range)."),
    KeyColumn("dimension", "Breakdown", "Разрез", "Розріз", "What dimension_value holds: team, tier or channel."),
    KeyColumn("dimension_value", "Breakdown value", "Значение разреза", "Значення розрізу",
              "The team id, tier or channel of the row."),
    KeyColumn("provisional", "Provisional", "Предварительные данные", "Попередні дані",
              "True while a contact of the row is unresolved or its longest window (FCR, CSAT cutoff, "
              "reopen) ends after the latest loaded event."),
    KeyColumn("run_id", "Run", "Запуск", "Запуск", "Pipeline run that published the snapshot."),
)}

_BY_REPORT: dict[str, Metric] = {}
for _m in METRICS.values():
    if _m.report_name in _BY_REPORT:
        raise ValueError(f"report name {_m.report_name} is used twice")
    _BY_REPORT[_m.report_name] = _m


# --- helpers ----------------------------------------------------------------------------------------

def get(name: str) -> Metric:
    """The metric with this mart name (`aht_phone_ms`)."""
    try:
        return METRICS[name]
    except KeyError:
        hint = f" (the mart name of report column {name!r} is {_BY_REPORT[name].name!r})" if name in _BY_REPORT else ""
        raise KeyError(f"no metric named {name!r} in the catalogue{hint}") from None


def by_report_name(name: str) -> Metric:
    """The metric with this report name (`aht_phone_s`)."""
    try:
        return _BY_REPORT[name]
    except KeyError:
        raise KeyError(f"no metric with report name {name!r} in the catalogue") from None


def lookup(name: str) -> Metric | KeyColumn:
    """A metric by mart or report name, or a key column (names never collide: the test checks)."""
    if name in METRICS:
        return METRICS[name]
    if name in _BY_REPORT:
        return _BY_REPORT[name]
    if name in KEYS:
        return KEYS[name]
    raise KeyError(f"no metric or key column named {name!r} in the catalogue")


def metrics(*, companions: bool = True) -> Iterator[Metric]:
    """Every metric in catalogue order (parents before their companions)."""
    return (m for m in METRICS.values() if companions or not m.is_companion)


def companions_of(name: str) -> list[Metric]:
    return [m for m in METRICS.values() if m.parent == name]


def report_columns(cell: str, *, companions: bool = True) -> list[str]:
    """Report names of the metrics a cell (operator, queue, team) carries, in catalogue order."""
    if cell not in CELLS:
        raise KeyError(f"unknown cell {cell!r}; cells are {', '.join(CELLS)}")
    return [m.report_name for m in metrics(companions=companions) if cell in m.grain]


def to_report_value(name: str, value: Any) -> Any:
    """A mart value as reports show it: `_ms` milliseconds → seconds (÷ 1000, float); others unchanged.
    Report names and key columns pass through unchanged (they already are report values)."""
    metric = lookup(name)
    if value is None or not isinstance(metric, Metric) or name != metric.name or not metric.stored_ms:
        return value
    if isinstance(value, float) and math.isnan(value):
        return None
    return value / 1000.0


def to_report_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A mart row keyed by report names with report values; unknown columns pass through unchanged.
    Idempotent: a row already keyed by report names comes back equal."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in METRICS:
            out[METRICS[k].report_name] = to_report_value(k, v)
        else:
            out[k] = v
    return out


def label(name: str, lang: str = "en") -> str:
    """The label of a metric (mart or report name) or key column in en, ru or uk."""
    return lookup(name).label(lang)


def description(name: str) -> str:
    """The tooltip text of a metric (mart or report name) or key column."""
    return lookup(name).description
