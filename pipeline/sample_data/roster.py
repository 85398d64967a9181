"""Teams, queues, operators and their planned and worked shifts.

The roster comes first because everything else follows from it: contacts arrive roughly in
proportion to the operators on duty (a planned floor, not an overloaded one), and an operator
only handles a contact while logged in and not paused.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from pipeline.sample_data.clock import HOUR_S, KYIV, MINUTE_S, MOSCOW, local_ts
from pipeline.sample_data.people import operator_name


@dataclass(frozen=True)
class Team:
    team_id: str
    name: str
    timezone: str
    holiday_country: str
    business_hours: str
    tier: str


@dataclass(frozen=True)
class Queue:
    queue_id: str
    team_id: str
    channel: str
    sl_threshold_s: int
    pool: str
    overflow_to: str | None = None
    timeout_s: int | None = None


TEAMS: dict[str, Team] = {t.team_id: t for t in (
    Team("l1_day", "L1 phone & chat (day)", KYIV, "UA", "mon-sun 08:00-21:00", "L1"),
    Team("l1_night", "L1 phone & chat (night)", KYIV, "UA", "mon-sun 00:00-06:00; mon-sun 22:00-24:00", "L1"),
    Team("l1_digital", "L1 e-mail & social", MOSCOW, "RU", "mon-sun 09:00-21:00", "L1"),
    Team("l2_specialists", "L2 specialists", KYIV, "UA", "mon-fri 09:00-18:00; sat 10:00-16:00", "L2"),
    Team("l3_engineers", "L3 engineers", KYIV, "UA", "mon-fri 10:00-19:00", "L3"),
)}

QUEUES: dict[str, Queue] = {q.queue_id: q for q in (
    Queue("q_phone_general", "l1_day", "phone", 20, "phone_day"),
    Queue("q_phone_billing", "l1_day", "phone", 20, "phone_billing", "q_phone_general", 90),
    Queue("q_chat_web", "l1_day", "chat", 60, "chat_day"),
    Queue("q_phone_night", "l1_night", "phone", 20, "phone_night"),
    Queue("q_chat_night", "l1_night", "chat", 60, "chat_night"),
    Queue("q_messenger", "l1_digital", "social", 60, "messenger"),
    Queue("q_email", "l1_digital", "email", 14_400, "tickets_l1"),
    Queue("q_social", "l1_digital", "social", 7_200, "tickets_l1"),
    Queue("q_l2_phone", "l2_specialists", "phone", 30, "phone_l2"),
    Queue("q_l2_business", "l2_specialists", "phone", 20, "phone_l2"),
    Queue("q_l2_chat", "l2_specialists", "chat", 60, "chat_l2"),
    Queue("q_l2_tickets", "l2_specialists", "email", 28_800, "tickets_l2"),
    Queue("q_l3_phone", "l3_engineers", "phone", 60, "phone_l3"),
    Queue("q_l3_tickets", "l3_engineers", "email", 86_400, "tickets_l3"),
)}

# Which pools an operator serves in a (team, role) period.
ROLE_POOLS: dict[tuple[str, str], tuple[str, ...]] = {
    ("l1_day", "phone"): ("phone_day",),
    ("l1_day", "chat"): ("chat_day",),
    ("l1_night", "phone"): ("phone_night",),
    ("l1_night", "chat"): ("chat_night",),
    ("l1_digital", "chat"): ("messenger",),
    ("l1_digital", "tickets"): ("tickets_l1",),
    ("l2_specialists", "phone"): ("phone_l2",),
    ("l2_specialists", "chat"): ("chat_l2",),
    ("l2_specialists", "tickets"): ("tickets_l2",),
    ("l3_engineers", "engineer"): ("phone_l3", "tickets_l3"),
}

ASTERISK_TEAM = "l1_night"  # the night site runs its own Asterisk PBX: its calls name PJSIP extensions


@dataclass
class Period:
    team_id: str
    role: str
    start: date
    end: date | None  # exclusive
    k: int            # index within (team, role): staggers days off and shift starts


@dataclass
class Shift:
    operator_id: str
    team_id: str
    role: str
    day: date
    start: int
    end: int
    shift_type: str
    unpaid_break_min: int
    worked: bool
    login: int = 0
    logout: int = 0
    pauses: list[tuple[int, int, str]] = field(default_factory=list)
    windows: list[tuple[int, int]] = field(default_factory=list)
    agent_id: str = ""        # how telephony names this operator during the shift
    source_system: str = "canonical"
    shift_id: str = ""


@dataclass
class Operator:
    display_name: str
    tier: str
    languages: tuple[str, ...]
    employment_type: str
    fte: float
    hire_date: date
    probation_end: date
    pay_plan_id: str
    skill: float
    periods: list[Period]
    termination_date: date | None = None
    extension: str | None = None
    uses_local_channel: bool = False
    operator_id: str = ""
    shifts: list[Shift] = field(default_factory=list)

    def team_on(self, day: date) -> Period | None:
        for p in self.periods:
            if p.start <= day and (p.end is None or day < p.end):
                return p
        return None


@dataclass
class Roster:
    operators: list[Operator]
    start: date
    days: int
    leaver: Operator
    mover: Operator
    new_hire: Operator
    move_date: date
    reused_extension: str
    local_channel_operator: Operator | None


def _allocate(n: int) -> list[tuple[str, str]]:
    """(team, role) for n operators: L1 ~65%, L2 ~25%, L3 ~10%, every team staffed."""
    n_l3 = max(1, round(0.10 * n))
    n_l2 = max(1, round(0.25 * n))
    n_l1 = n - n_l2 - n_l3
    night = max(2, round(0.22 * n_l1))
    digital = max(2, round(0.30 * n_l1))
    day = n_l1 - night - digital
    night_chat = round(0.34 * night) if night >= 3 else 0
    day_chat = max(1, round(0.3 * day))
    dig_chat = max(1, round(0.375 * digital))
    l2_phone = max(1, round(0.4 * n_l2))
    l2_chat = round(0.25 * n_l2) if n_l2 >= 3 else 0
    groups = [
        ("l1_day", "phone", day - day_chat), ("l1_day", "chat", day_chat),
        ("l1_night", "phone", night - night_chat), ("l1_night", "chat", night_chat),
        ("l1_digital", "tickets", digital - dig_chat), ("l1_digital", "chat", dig_chat),
        ("l2_specialists", "phone", l2_phone), ("l2_specialists", "chat", l2_chat),
        ("l2_specialists", "tickets", n_l2 - l2_phone - l2_chat), ("l3_engineers", "engineer", n_l3),
    ]
    return [(team, role) for team, role, count in groups for _ in range(count)]


def _languages(rng: random.Random, origin: str, tz: str) -> tuple[str, ...]:
    if origin == "en":
        return ("en", "ru") if tz == MOSCOW or rng.random() < 0.5 else ("en", "uk")
    if tz == MOSCOW:
        return ("ru", "en") if rng.random() < 0.3 else ("ru",)
    base = ("uk", "ru") if origin == "uk" else ("ru", "uk")
    return (*base, "en") if rng.random() < (0.3 if origin == "uk" else 0.2) else base


def _origin(rng: random.Random, tz: str) -> str:
    r = rng.random()
    if tz == MOSCOW:
        return "ru" if r < 0.85 else "en"
    return "uk" if r < 0.55 else ("ru" if r < 0.85 else "en")


def _employment(rng: random.Random, tier: str) -> tuple[str, float]:
    r = rng.random()
    if tier == "L1" and r < 0.10:
        return "part_time", 0.5
    if tier == "L1" and r < 0.18:
        return "contractor", 1.0
    return "full_time", 1.0


def _new_operator(rng: random.Random, team_id: str, role: str, k: int, start: date, names: set[str]) -> Operator:
    team = TEAMS[team_id]
    origin = _origin(rng, team.timezone)
    name = operator_name(rng, origin)
    while name in names:
        name = operator_name(rng, origin)
    names.add(name)
    hire = date(2018, 3, 1) + timedelta(days=rng.randrange((start - date(2018, 3, 1)).days - 45))
    employment, fte = _employment(rng, team.tier)
    country = "ru" if team.timezone == MOSCOW else "ua"
    plan = f"pp_{team.tier.lower()}_{'hourly' if team.tier == 'L1' else 'monthly'}_{country}"
    return Operator(
        display_name=name, tier=team.tier, languages=_languages(rng, origin, team.timezone),
        employment_type=employment, fte=fte, hire_date=hire, probation_end=hire + timedelta(days=90),
        pay_plan_id=plan, skill=max(-2.0, min(2.0, rng.gauss(0.0, 0.8))),
        periods=[Period(team_id, role, hire, None, k)],
    )


def build_roster(rng: random.Random, n: int, start: date, days: int) -> Roster:
    names: set[str] = set()
    counters: dict[tuple[str, str], int] = {}
    ops: list[Operator] = []
    for team_id, role in _allocate(n):
        k = counters.get((team_id, role), 0)
        counters[(team_id, role)] = k + 1
        ops.append(_new_operator(rng, team_id, role, k, start, names))

    night_phone = [o for o in ops if o.periods[0].team_id == "l1_night" and o.periods[0].role == "phone"]
    day_phone = [o for o in ops if o.periods[0].team_id == "l1_day" and o.periods[0].role == "phone"]
    mover, new_hire = night_phone[0], night_phone[-1]
    leaver = day_phone[-1]
    move_date = start + timedelta(days=days // 2)
    hire_date = move_date + timedelta(days=2)

    # The mover leaves the night site for the day floor; their extension goes to the new hire.
    for o in (mover, new_hire, leaver):
        o.employment_type, o.fte = "full_time", 1.0
    mover.periods[0].end = move_date
    mover.periods.append(Period("l1_day", "phone", move_date, None, counters.get(("l1_day", "phone"), 0)))
    new_hire.hire_date = hire_date
    new_hire.probation_end = hire_date + timedelta(days=90)
    new_hire.periods[0].start = hire_date
    new_hire.skill = -1.0 + rng.uniform(-0.3, 0.3)  # still learning
    leaver.termination_date = start + timedelta(days=max(3, round(days * 0.4)))

    for i, o in enumerate(night_phone):
        o.extension = f"PJSIP/70{i + 1:02d}"
    new_hire.extension = mover.extension
    local_op = night_phone[1] if len(night_phone) > 2 else None
    if local_op is not None:
        local_op.uses_local_channel = True

    # Ids follow hire order, as an HR system hands them out.
    ops.sort(key=lambda o: (o.hire_date, o.display_name))
    for i, o in enumerate(ops):
        o.operator_id = f"OP-{i + 1:03d}"
    roster = Roster(ops, start, days, leaver, mover, new_hire, move_date, mover.extension or "", local_op)
    for o in ops:
        o.shifts = _plan_shifts(rng, roster, o)
    return roster


_DAYS_OFF_SHIFT = {"l1_day": 5, "l1_digital": 3, "l2_specialists": 1}


def _works(period: Period, team_id: str, day: date) -> bool:
    if team_id == "l1_night":
        return (day.toordinal() + 2 * period.k) % 4 in (0, 1)  # 2 nights on, 2 off
    if team_id == "l3_engineers":
        return day.weekday() < 5
    off0 = (period.k * 2 + _DAYS_OFF_SHIFT.get(team_id, 0)) % 7  # staggered days off cover weekends
    return (day.weekday() - off0) % 7 not in (0, 1)


def _shift_times(o: Operator, period: Period, day: date) -> tuple[tuple[int, int], tuple[int, int], int]:
    """(start hh:mm, end hh:mm, unpaid break minutes); a night shift ends the next morning."""
    team = period.team_id
    if team == "l1_night":
        return (22, 0), (6, 0), 30
    if o.employment_type == "part_time":
        return (17, 0), (21, 0), 0
    if team in ("l1_day", "l1_digital"):
        late = (day.isocalendar()[1] + period.k) % 2 == 1
        first = 8 if team == "l1_day" else 9
        return ((12, 0), (21, 0), 60) if late else ((first, 0), (first + 9, 0), 60)
    if team == "l2_specialists":
        return (9, 0), (18, 0), 60
    return (10, 0), (19, 0), 60


def _plan_shifts(rng: random.Random, roster: Roster, o: Operator) -> list[Shift]:
    shifts: list[Shift] = []
    for offset in range(roster.days):
        day = roster.start + timedelta(days=offset)
        period = o.team_on(day)
        if period is None or day < o.hire_date:
            continue
        if o.termination_date is not None and day > o.termination_date:
            continue
        if o is roster.mover and roster.move_date - timedelta(days=3) <= day < roster.move_date:
            continue  # days off between the last night and the first day shift
        if not _works(period, period.team_id, day):
            continue
        tz = TEAMS[period.team_id].timezone
        (sh, sm), (eh, em), unpaid = _shift_times(o, period, day)
        end_day = day + timedelta(days=1) if eh < sh else day
        shift = Shift(o.operator_id, period.team_id, period.role, day, local_ts(day, sh, sm, tz),
                      local_ts(end_day, eh, em, tz), "night" if period.team_id == "l1_night" else "day",
                      unpaid, worked=rng.random() >= 0.03 or day == o.hire_date)
        _agent_naming(roster, o, shift)
        if shift.worked:
            _work(rng, shift)
        shifts.append(shift)
    return shifts


def _agent_naming(roster: Roster, o: Operator, shift: Shift) -> None:
    if shift.team_id == ASTERISK_TEAM and o.extension is not None:
        shift.source_system = "asterisk"
        shift.agent_id = o.extension
        if o.uses_local_channel and 7 <= (shift.day - roster.start).days < 11:
            # A week working from home through a Local channel; it normalises to the extension.
            shift.agent_id = f"Local/{o.extension.split('/')[1]}@from-queue/n"
    else:
        shift.agent_id = o.operator_id


def _work(rng: random.Random, s: Shift) -> None:
    """Log-in, pauses and the windows in which the operator can take contacts."""
    s.login = s.start + rng.randint(-7 * MINUTE_S, 4 * MINUTE_S)
    s.logout = s.end + rng.randint(-2 * MINUTE_S, 7 * MINUTE_S)
    length_h = (s.end - s.start) / HOUR_S
    plan: list[tuple[float, int, str]]  # (hours after start, minutes, reason)
    if length_h <= 5:
        plan = [(2.0, 10, "break")]
    elif s.shift_type == "night":
        plan = [(2.0, 15, "break"), (4.0, 30, "lunch"), (6.0, 15, "break")]
        if rng.random() < 0.04:
            plan.insert(1, (3.0, 10, "technical"))
    else:
        plan = [(2.0, 15, "break"), (4.0, 60, "lunch"), (6.5, 15, "break")]
        if rng.random() < 0.07:
            plan.insert(1, (2.75, 30, "training"))
    jitter = {"break": 12, "lunch": 25, "technical": 5, "training": 0}
    for hours, minutes, reason in plan:
        a = s.start + int(hours * HOUR_S) + rng.randint(-jitter[reason], jitter[reason]) * MINUTE_S
        s.pauses.append((a, a + minutes * MINUTE_S, reason))
    cursor = s.login
    for a, b, _ in s.pauses:
        s.windows.append((cursor, a))
        cursor = b
    s.windows.append((cursor, s.logout))
