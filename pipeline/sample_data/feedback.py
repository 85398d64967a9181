"""QA evaluations: a few per operator and week, some re-scored after a dispute, a weekly
calibration session where every QA specialist scores the same contact."""

from __future__ import annotations

import random
from datetime import timedelta

from pipeline.sample_data.clock import DAY_S, KYIV, local_date, local_ts
from pipeline.sample_data.world import Row, Segment, World

EVALUATORS = ("QA-01", "QA-02", "QA-03")
_FORMS = {"call": "form_phone_v3", "chat": "form_chat_v2", "ticket": "form_email_v2"}


def _score(rng: random.Random, skill: float) -> tuple[float, bool]:
    if rng.random() < max(0.005, 0.03 - 0.01 * skill):
        return 0.0, True  # a critical item failed: the evaluation is 0 whatever else
    score = min(100.0, max(35.0, rng.gauss(84 + 6 * skill, 7)))
    if rng.random() < 0.1:
        score += rng.uniform(1, 10)  # bonus items
    return round(min(110.0, score), 1), False


def _when(rng: random.Random, seg: Segment) -> int:
    """A working-hours moment one to four days after the contact."""
    day = local_date(seg.end, KYIV) + timedelta(days=rng.randint(1, 4))
    return local_ts(day, rng.randint(10, 17), rng.randrange(0, 60, 5), KYIV) + rng.randint(0, 59)


def qa_evaluations(w: World, rng: random.Random) -> list[Row]:
    by_week: dict[tuple[str, int, int], list[Segment]] = {}
    for seg in w.segments:
        year, week, _ = local_date(seg.start, KYIV).isocalendar()
        by_week.setdefault((seg.op.operator_id, year, week), []).append(seg)
    drafts: list[tuple[int, int, Segment, str, bool, float, bool]] = []
    seq = 0
    for key in sorted(by_week):
        segs = by_week[key]
        for seg in rng.sample(segs, min(len(segs), rng.choice((2, 3, 3, 4)))):
            seq += 1
            score, fail = _score(rng, seg.op.skill)
            drafts.append((_when(rng, seg), seq, seg, rng.choice(EVALUATORS), False, score, fail))
    weeks = sorted({(y, wk) for _, y, wk in by_week})
    for year, week in weeks:
        pool = [s for (_, y, wk), segs in by_week.items() if (y, wk) == (year, week) for s in segs]
        seg = rng.choice(pool)
        at = _when(rng, seg)
        for i, evaluator in enumerate(EVALUATORS):
            seq += 1
            score, fail = _score(rng, seg.op.skill)
            drafts.append((at + i * 600, seq, seg, evaluator, True, score, fail))
    rows: list[Row] = []
    number = 0
    for at, _, seg, evaluator, calibration, score, fail in sorted(drafts, key=lambda d: (d[0], d[1])):
        if at > w.cutoff:
            continue
        number += 1
        base = {"evaluation_id": f"QAE-{number:05d}", "contact_type": seg.contact_type,
                "contact_id": seg.contact_id, "operator_id": seg.op.operator_id, "evaluator_id": evaluator,
                "form_id": _FORMS[seg.contact_type], "is_calibration": "true" if calibration else "false"}
        rows.append({**base, "version": "1", "evaluated_at": w.ts(at, KYIV), "score": f"{score:g}",
                     "is_auto_fail": "true" if fail else "false"})
        disputed = at + 2 * DAY_S
        if not calibration and rng.random() < 0.06 and disputed < w.cutoff:
            # Dispute accepted: re-scored upwards; a wrongly applied critical error is lifted.
            new_score = min(110.0, (score if not fail else 70.0) + rng.uniform(3, 10))
            rows.append({**base, "version": "2", "evaluated_at": w.ts(disputed, KYIV),
                         "score": f"{round(new_score, 1):g}", "is_auto_fail": "false"})
    rows.sort(key=lambda r: (r["evaluation_id"], r["version"]))
    return rows
