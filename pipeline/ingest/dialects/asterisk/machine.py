"""The queue_log event machine: events in file order → canonical rows (DESIGN §3–§4, queues).

Calls. A *stint* is one call waiting in one queue, keyed by (call, queue): ENTERQUEUE opens it; an
exit closes it (ABANDON → abandoned, EXITWITHTIMEOUT → timeout, EXITWITHKEY → key_exit,
EXITEMPTY → empty, SYSCOMPAT → abandoned); CONNECT makes it a *segment* of the answering agent,
which COMPLETEAGENT/COMPLETECALLER (end_reason resolved) or TRANSFER/BLINDTRANSFER/
ATTENDEDTRANSFER (end_reason transfer) close. One canonical `calls` row per stint, key
(call_id, leg), legs numbered 1, 2, … in the order the call's stints open. Rules:
- wait = Asterisk's holdtime (CONNECT, COMPLETE*, transfers) or waittime (exits): `enqueued_at` is
  the answer (exit) time minus it, which is the ENTERQUEUE time up to clock-second rounding; the
  ENTERQUEUE time is used only when the closing event carries no wait field (Asterisk 1.2/1.4).
- A CONNECT with no open stint for (call, queue) opens one at CONNECT − holdtime; an exit or
  COMPLETE* with no open stint (the log began mid-call) is rebuilt from its own wait and talk fields.
- A transfer event closes the open segment of the same agent and queue, whatever its callid: an
  ATTENDEDTRANSFER is often logged under the consultation call's id. That id then becomes an
  *alias* of the customer's call: its open stints move into the customer's call (or are dropped
  when the customer's call already has a stint in that queue: the same wait seen twice), and its
  later events are the customer's call's.
- QUEUESTART (Asterisk restarted) and a second ENTERQUEUE or CONNECT for an open stint close the
  stint at its last logged event: unanswered → abandoned, answered → resolved with talk unknown.
- Stints still open at the end of a read are emitted `in_progress` (answered ones with end_reason
  `open`) and kept in the state; the next read completes them and the upsert replaces the row.

Agents. Logged-in time is the union of AGENTLOGIN/AGENTCALLBACKLOGIN → *LOGOFF and per-queue
ADDMEMBER → REMOVEMEMBER intervals; paused time the union of per-queue PAUSE → UNPAUSE and
PAUSEALL → UNPAUSEALL. One `agent_states` row per union interval (key operator_id, state,
started_at), `queue_id` set when the interval involved a single queue. A pause whose reason is in
`asterisk.wrap_pause_reasons` is state `wrap`; a new reason while paused starts a new interval.
Logging off ends an open pause. An AGENTLOGOFF without a seen login uses its `logintime`.

Rows emitted `in_progress` (or open) by an earlier read whose key disappears (a stint moved into
another call, a zero-length interval, a pause whose state changed with its reason) are listed in
`retract_*` so the caller removes them: a whole-log load never emits them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.ingest.dialects.asterisk.events import Event

SOURCE_SYSTEM = "asterisk"
# A call's leg counter, customer number and aliases are kept this long after its last event, so a
# call moving on to another queue later still gets the next leg number; pruned every hour of log.
HORIZON_S = 86_400
PRUNE_EVERY_S = 3_600
NO_AGENT = {"", "NONE"}
NO_QUEUE = {"", "NONE"}
NO_CALL = {"", "NONE", "REALTIME", "MANAGER"}
AGENT_SCOPE = "@agent"   # AGENTLOGIN-style login (all queues)
ALL_SCOPE = "@all"       # PAUSEALL

EXIT_OUTCOMES = {"ABANDON": "abandoned", "EXITWITHTIMEOUT": "timeout", "EXITWITHKEY": "key_exit",
                 "EXITEMPTY": "empty", "SYSCOMPAT": "abandoned"}
TRANSFERS = {"TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"}
COMPLETES = {"COMPLETEAGENT", "COMPLETECALLER"}
LOGINS = {"AGENTLOGIN", "AGENTCALLBACKLOGIN"}
LOGOFFS = {"AGENTLOGOFF", "AGENTCALLBACKLOGOFF"}


def iso(epoch: int | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


@dataclass
class Stint:
    call_id: str
    queue: str
    leg: int
    raw_callid: str
    enq: int | None
    agent: str | None = None
    answered: int | None = None
    hold: int | None = None
    last: int = 0
    persisted: bool = False                               # an in_progress row was emitted by an earlier read
    lines: list[int] = field(default_factory=list)        # lines of this read (not kept)
    moved: bool = False                                   # re-keyed in this read (not kept)

    def to_json(self) -> list[Any]:
        return [self.call_id, self.queue, self.leg, self.raw_callid, self.enq, self.agent, self.answered,
                self.hold, self.last, self.persisted]

    @classmethod
    def from_json(cls, v: list[Any]) -> Stint:
        return cls(*v)


@dataclass
class Island:
    """A union interval of one agent: logged in, or paused (state paused or wrap)."""

    state: str
    start: int
    scopes: list[str]
    reason: str | None = None
    queue: str | None = None
    multi: bool = False
    persisted: bool = False
    lines: list[int] = field(default_factory=list)

    def add_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            self.scopes.append(scope)
        if not scope.startswith("@"):
            if self.queue is None and not self.multi:
                self.queue = scope
            elif self.queue != scope:
                self.multi, self.queue = True, None

    def to_json(self) -> list[Any]:
        return [self.state, self.start, self.scopes, self.reason, self.queue, self.multi, self.persisted]

    @classmethod
    def from_json(cls, v: list[Any]) -> Island:
        return cls(*v)


@dataclass
class Record:
    """An output row (canonical column → string) and the source lines it may be located at, best first."""

    values: dict[str, str | None]
    lines: list[int]


@dataclass
class Sighting:
    epoch: int
    line: int
    queue: str | None


class Machine:
    def __init__(self, state: dict | None, *, normalize: list[tuple[re.Pattern[str], str]],
                 wrap_reasons: set[str]) -> None:
        self.normalize_rules = normalize
        self.wrap_reasons = wrap_reasons
        s = state or {}
        self.calls: dict[str, list[Any]] = s.get("calls", {})          # call → [legs, phone, last]
        self.aliases: dict[str, list[Any]] = s.get("aliases", {})      # consultation id → [call, last]
        self.stints: dict[tuple[str, str], Stint] = {}
        for v in s.get("stints", []):
            st = Stint.from_json(v)
            self.stints[(st.call_id, st.queue)] = st
        self.logins = {a: Island.from_json(v) for a, v in s.get("logins", {}).items()}
        self.pauses = {a: Island.from_json(v) for a, v in s.get("pauses", {}).items()}
        self.known_agents: set[str] = set(s.get("known_agents", []))
        # agents registered before any of their events named a queue: agent → valid_from of that row
        self.teamless: dict[str, str] = s.get("teamless", {})
        self.queue_seen: dict[str, Sighting] = {}  # first queue of a teamless agent in this read
        self.next_prune: int = s.get("next_prune", 0)
        self.calls_out: list[Record] = []
        self.states_out: list[Record] = []
        self.retract_calls: list[tuple[str, int]] = []
        self.retract_states: list[tuple[str, str, int]] = []
        self.sightings: dict[str, Sighting] = {}
        self.stats: Counter[str] = Counter()
        self._agents: dict[str, str | None] = {}

    # --- state ---------------------------------------------------------------------------------

    def state(self) -> dict:
        return {"v": 1, "calls": self.calls, "aliases": self.aliases,
                "stints": [s.to_json() for s in self.stints.values()],
                "logins": {a: i.to_json() for a, i in self.logins.items()},
                "pauses": {a: i.to_json() for a, i in self.pauses.items()},
                "known_agents": sorted(self.known_agents), "teamless": self.teamless,
                "next_prune": self.next_prune}

    def _prune(self, now: int) -> None:
        if now < self.next_prune:
            return
        self.next_prune = now + PRUNE_EVERY_S
        cutoff = now - HORIZON_S
        open_calls = {s.call_id for s in self.stints.values()}
        for cid in [c for c, v in self.calls.items() if v[2] < cutoff and c not in open_calls]:
            del self.calls[cid]
        for x in [x for x, v in self.aliases.items() if v[1] < cutoff]:
            del self.aliases[x]

    # --- helpers -------------------------------------------------------------------------------

    def agent_of(self, raw: str) -> str | None:
        """`asterisk.agent_normalize` (first matching rule), before any lookup (DESIGN §2)."""
        if raw in NO_AGENT:
            return None
        cached = self._agents.get(raw, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        agent = raw
        for pattern, repl in self.normalize_rules:
            agent, n = pattern.subn(repl, agent)
            if n:
                break
        self._agents[raw] = agent or None
        return agent or None

    def _resolve(self, callid: str) -> str:
        alias = self.aliases.get(callid)
        return alias[0] if alias else callid

    def _call(self, cid: str, epoch: int) -> list[Any]:
        call = self.calls.get(cid)
        if call is None:
            call = self.calls[cid] = [0, None, epoch]
        call[2] = max(call[2], epoch)
        return call

    def _new_stint(self, cid: str, queue: str, raw_callid: str, enq: int | None, ev: Event) -> Stint:
        call = self._call(cid, ev.epoch)
        call[0] += 1
        st = Stint(cid, queue, call[0], raw_callid, enq, last=ev.epoch)
        self.stints[(cid, queue)] = st
        return st

    def _sight(self, agent: str | None, ev: Event) -> None:
        if agent is None:
            return
        queue = None if ev.queue in NO_QUEUE else ev.queue
        if agent in self.known_agents:
            if queue is not None and agent in self.teamless and agent not in self.queue_seen:
                self.queue_seen[agent] = Sighting(ev.epoch, ev.line, queue)
            return
        seen = self.sightings.get(agent)
        if seen is None:
            self.sightings[agent] = Sighting(ev.epoch, ev.line, queue)
        elif seen.queue is None and queue is not None:
            seen.queue = queue

    # --- calls ---------------------------------------------------------------------------------

    def _emit_call(self, st: Stint, *, outcome: str, ended: int, enq: int | None, end_reason: str | None = None,
                   transfer_to: str | None = None, talk: int | None = None, lines: list[int]) -> None:
        call = self.calls.get(st.call_id)
        self.calls_out.append(Record({
            "call_id": st.call_id, "leg": str(st.leg), "direction": "inbound", "queue_id": st.queue,
            "agent_id": st.agent if st.answered is not None else None, "source_system": SOURCE_SYSTEM,
            "customer_phone": call[1] if call else None,
            "enqueued_at": iso(enq), "answered_at": iso(st.answered), "ended_at": iso(ended),
            "outcome": outcome, "end_reason": end_reason, "transfer_to": transfer_to,
            "talk_s": None if talk is None else str(talk),
        }, lines))

    def _close(self, st: Stint, ev: Event | None, **kw: Any) -> None:
        self.stints.pop((st.call_id, st.queue), None)
        lines = ([ev.line] if ev is not None else []) + st.lines[::-1]
        self._emit_call(st, lines=lines, **kw)

    def _close_unlogged(self, st: Stint, ev: Event) -> None:
        """The stint ended without its exit being logged (restart, or reopened): at its last event."""
        self.stats["closed_without_exit"] += 1
        if st.answered is None:
            self._close(st, ev, outcome="abandoned", ended=st.last, enq=st.enq if st.enq is not None else st.last)
        else:
            self._close(st, ev, outcome="answered", ended=max(st.last, st.answered), enq=self._enq(st, None),
                        end_reason="resolved")

    def _find_segment(self, queue: str, agent: str | None) -> Stint | None:
        if agent is None:
            return None
        found = [s for s in self.stints.values() if s.queue == queue and s.agent == agent and s.answered is not None]
        return max(found, key=lambda s: (s.answered, s.leg)) if found else None

    def _alias(self, consult: str, cid: str, epoch: int) -> None:
        """`consult` is the consultation call of `cid`: its later events and open stints are `cid`'s."""
        if consult == cid or consult in NO_CALL:
            return
        self.aliases[consult] = [cid, epoch]
        for key in [k for k in self.stints if k[0] == consult]:
            st = self.stints.pop(key)
            if st.persisted:
                self.retract_calls.append((st.call_id, st.leg))
            if (cid, st.queue) in self.stints:
                self.stats["consultation_stint_dropped"] += 1   # the customer's own stint in that queue
                continue
            call = self._call(cid, epoch)
            call[0] += 1
            st.call_id, st.leg, st.persisted, st.moved = cid, call[0], False, True
            self.stints[(cid, st.queue)] = st
            self.stats["consultation_stint_merged"] += 1
        if consult in self.calls and not any(k[0] == consult for k in self.stints):
            del self.calls[consult]

    def _on_enter(self, ev: Event) -> None:
        cid = self._resolve(ev.callid)
        old = self.stints.get((cid, ev.queue))
        if old is not None:
            self._close_unlogged(old, ev)
        st = self._new_stint(cid, ev.queue, ev.callid, ev.epoch, ev)
        callerid = ev.text("callerid")
        call = self.calls[cid]
        if cid == ev.callid and callerid and call[1] is None:
            call[1] = callerid
        st.lines.append(ev.line)

    def _on_connect(self, ev: Event, agent: str | None) -> None:
        cid = self._resolve(ev.callid)
        hold = ev.int_value("holdtime")
        st = self.stints.get((cid, ev.queue))
        if st is not None and st.answered is not None:
            self._close_unlogged(st, ev)
            st = None
        if st is None:
            self.stats["connect_without_enterqueue"] += 1
            st = self._new_stint(cid, ev.queue, ev.callid, None if hold is None else ev.epoch - hold, ev)
        st.agent, st.answered, st.hold, st.last = agent, ev.epoch, hold, ev.epoch
        self._call(cid, ev.epoch)
        st.lines.append(ev.line)

    def _segment_for(self, ev: Event, agent: str | None, *, any_callid: bool) -> Stint | None:
        """The open segment an end event closes: its own (call, queue) stint when answered by that
        agent; else, with `any_callid` (transfers), the agent's open segment in that queue under any
        call; else the call's own stint even unanswered (its CONNECT line was lost)."""
        cid = self._resolve(ev.callid)
        st = self.stints.get((cid, ev.queue))
        if st is not None and st.answered is not None and (agent is None or st.agent == agent):
            return st
        if st is not None and not any_callid:
            return st
        other = self._find_segment(ev.queue, agent)
        return other if other is not None else st

    def _rebuilt(self, ev: Event, agent: str | None, hold: int | None, talk: int | None) -> Stint | None:
        """A segment whose CONNECT is not in the log (it began before the log): from the closing event."""
        if talk is None:
            self.stats["orphan_" + ev.name.lower()] += 1
            return None
        self.stats["segment_rebuilt_" + ev.name.lower()] += 1
        answered = ev.epoch - talk
        st = self._new_stint(self._resolve(ev.callid), ev.queue, ev.callid,
                             None if hold is None else answered - hold, ev)
        st.agent, st.answered, st.hold = agent, answered, hold
        return st

    def _on_complete(self, ev: Event, agent: str | None) -> None:
        hold, talk = ev.int_value("holdtime"), ev.int_value("calltime")
        st = self._segment_for(ev, agent, any_callid=False)
        if st is None:
            st = self._rebuilt(ev, agent, hold, talk)
            if st is None:
                return
        elif st.answered is None:  # its CONNECT line was lost: answered = end − talk
            st.agent = agent
            st.answered = ev.epoch - talk if talk is not None else ev.epoch
        self._call(st.call_id, ev.epoch)
        self._close(st, ev, outcome="answered", ended=ev.epoch, enq=self._enq(st, hold),
                    end_reason="resolved", talk=talk if talk is not None else ev.epoch - st.answered)

    def _on_transfer(self, ev: Event, agent: str | None) -> None:
        hold, talk = ev.int_value("holdtime"), ev.int_value("calltime")
        st = self._segment_for(ev, agent, any_callid=True)
        if st is None or st.answered is None:
            if st is not None:  # a waiting stint cannot be transferred by an agent: its CONNECT was lost
                st.agent = agent
                st.answered = ev.epoch - talk if talk is not None else ev.epoch
            else:
                st = self._rebuilt(ev, agent, hold, talk)
                if st is None:
                    return
        self._alias(ev.callid, st.call_id, ev.epoch)
        self._call(st.call_id, ev.epoch)
        if ev.name == "ATTENDEDTRANSFER":
            method, target = ev.text("method"), ev.text("target")
            transfer_to = target if method == "APP" else None
        else:
            transfer_to = ev.text("extension")
        assert st.answered is not None
        self._close(st, ev, outcome="answered", ended=ev.epoch, enq=self._enq(st, hold), end_reason="transfer",
                    transfer_to=transfer_to, talk=talk if talk is not None else ev.epoch - st.answered)

    def _enq(self, st: Stint, hold: int | None) -> int | None:
        if st.answered is not None:
            h = hold if hold is not None else st.hold
            if h is not None:
                return st.answered - h
        return st.enq

    def _on_exit(self, ev: Event) -> None:
        cid = self._resolve(ev.callid)
        wait = ev.int_value("waittime")
        st = self.stints.get((cid, ev.queue))
        if st is None:
            if wait is None:
                self.stats["orphan_" + ev.name.lower()] += 1
                return
            st = self._new_stint(cid, ev.queue, ev.callid, ev.epoch - wait, ev)
        self._call(cid, ev.epoch)
        if st.answered is not None:  # an exit after an answer: the segment ended here
            self.stats["exit_after_connect"] += 1
            self._close(st, ev, outcome="answered", ended=ev.epoch, enq=self._enq(st, None), end_reason="resolved",
                        talk=ev.epoch - st.answered)
            return
        enq = ev.epoch - wait if wait is not None else st.enq
        self._close(st, ev, outcome=EXIT_OUTCOMES[ev.name], ended=ev.epoch,
                    enq=enq if enq is not None else ev.epoch)

    def _on_restart(self, ev: Event) -> None:
        for st in list(self.stints.values()):
            self._close_unlogged(st, ev)

    # --- agents --------------------------------------------------------------------------------

    def _emit_island(self, agent: str, isl: Island, ended: int | None, lines: list[int]) -> None:
        self.states_out.append(Record({
            "operator_id": agent, "state": isl.state, "started_at": iso(isl.start), "ended_at": iso(ended),
            "reason": isl.reason or None, "queue_id": isl.queue,
        }, lines))

    def _end_island(self, agent: str, table: dict[str, Island], epoch: int, line: int) -> None:
        isl = table.pop(agent, None)
        if isl is None:
            return
        if epoch > isl.start:
            self._emit_island(agent, isl, epoch, [line, *isl.lines[::-1]])
        elif isl.persisted:  # zero length: the open row an earlier read emitted goes
            self.retract_states.append((agent, isl.state, isl.start))

    def _open(self, agent: str, table: dict[str, Island], state: str, scope: str, ev: Event,
              reason: str | None = None) -> Island:
        isl = table.get(agent)
        if isl is None:
            isl = table[agent] = Island(state, ev.epoch, [], reason)
        isl.add_scope(scope)
        isl.lines.append(ev.line)
        return isl

    def _pause_state(self, reason: str | None) -> str:
        return "wrap" if reason and reason in self.wrap_reasons else "paused"

    def _on_pause(self, ev: Event, agent: str, scope: str) -> None:
        reason = ev.text("reason")
        isl = self.pauses.get(agent)
        if isl is not None and reason and isl.reason and reason != isl.reason:
            # a new reason while paused: a new interval from now, in every scope paused so far
            scopes = list(isl.scopes)
            self._end_island(agent, self.pauses, ev.epoch, ev.line)
            isl = self._open(agent, self.pauses, self._pause_state(reason), scope, ev, reason)
            for s in scopes:
                isl.add_scope(s)
            return
        isl = self._open(agent, self.pauses, self._pause_state(reason), scope, ev, reason)
        if reason and not isl.reason:
            state = self._pause_state(reason)
            if state != isl.state and isl.persisted:
                self.retract_states.append((agent, isl.state, isl.start))
                isl.persisted = False
            isl.reason, isl.state = reason, state

    def _on_unpause(self, ev: Event, agent: str, scope: str | None) -> None:
        isl = self.pauses.get(agent)
        if isl is None:
            self.stats["unpause_without_pause"] += 1
            return
        if scope is None:
            isl.scopes.clear()
        elif scope in isl.scopes:
            isl.scopes.remove(scope)
        isl.lines.append(ev.line)
        if not isl.scopes:
            self._end_island(agent, self.pauses, ev.epoch, ev.line)

    def _on_logoff(self, ev: Event, agent: str, scope: str | None) -> None:
        """scope None: the agent logged off everywhere (AGENTLOGOFF); else one queue left (REMOVEMEMBER)."""
        isl = self.logins.get(agent)
        if isl is None:
            login_time = ev.int_value("logintime")
            if scope is None and login_time:  # the login is not in the log: its duration is
                self.stats["login_from_logintime"] += 1
                self._emit_island(agent, Island("logged_in", ev.epoch - login_time, []), ev.epoch, [ev.line])
            else:
                self.stats["logoff_without_login"] += 1
            return
        if scope is None:
            isl.scopes.clear()
        elif scope in isl.scopes:
            isl.scopes.remove(scope)
        isl.lines.append(ev.line)
        if not isl.scopes:
            self._end_island(agent, self.logins, ev.epoch, ev.line)
            self._end_island(agent, self.pauses, ev.epoch, ev.line)

    # --- dispatch ------------------------------------------------------------------------------

    def feed(self, ev: Event) -> None:
        self._prune(ev.epoch)
        self.stats["events"] += 1
        name = ev.name
        agent = self.agent_of(ev.agent)
        self._sight(agent, ev)
        queue_ok = ev.queue not in NO_QUEUE
        call_ok = ev.callid not in NO_CALL
        if name == "ENTERQUEUE" and queue_ok and call_ok:
            self._on_enter(ev)
        elif name == "CONNECT" and queue_ok and call_ok:
            self._on_connect(ev, agent)
        elif name in COMPLETES and queue_ok and call_ok:
            self._on_complete(ev, agent)
        elif name in TRANSFERS and queue_ok and call_ok:
            self._on_transfer(ev, agent)
        elif name in EXIT_OUTCOMES and queue_ok and call_ok:
            self._on_exit(ev)
        elif name == "QUEUESTART":
            self._on_restart(ev)
        elif agent is not None and name in LOGINS:
            self._open(agent, self.logins, "logged_in", AGENT_SCOPE, ev)
        elif agent is not None and name in LOGOFFS:
            self._on_logoff(ev, agent, None)
        elif agent is not None and name == "ADDMEMBER" and queue_ok:
            self._open(agent, self.logins, "logged_in", ev.queue, ev)
        elif agent is not None and name == "REMOVEMEMBER" and queue_ok:
            self._on_logoff(ev, agent, ev.queue)
        elif agent is not None and name in ("PAUSE", "PAUSEALL"):
            self._on_pause(ev, agent, ev.queue if name == "PAUSE" and queue_ok else ALL_SCOPE)
        elif agent is not None and name in ("UNPAUSE", "UNPAUSEALL"):
            self._on_unpause(ev, agent, ev.queue if name == "UNPAUSE" and queue_ok else None)
        else:
            self.stats["ignored_" + name.lower()] += 1

    def finish(self) -> None:
        """Emit what is still open and changed in this read: in_progress stints, open intervals."""
        for st in self.stints.values():
            if not st.lines and not st.moved:
                continue
            ended = max(v for v in (st.last, st.enq, st.answered) if v is not None)
            if st.answered is None:
                self._emit_call(st, outcome="in_progress", ended=ended, enq=st.enq, lines=st.lines[::-1])
            else:
                self._emit_call(st, outcome="in_progress", ended=ended, enq=self._enq(st, None),
                                end_reason="open", lines=st.lines[::-1])
            st.persisted = True
        for table in (self.logins, self.pauses):
            for agent, isl in table.items():
                if isl.lines:
                    self._emit_island(agent, isl, None, isl.lines[::-1])
                    isl.persisted = True
