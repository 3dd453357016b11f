"""Warm transfer as a pure state machine: ``step(state, event) -> (state, actions)``.

No I/O, no clock: timers are actions (:class:`StartTimer`) whose expiry comes back as :class:`TimerFired`.
The async driver (bridge.transfer) executes the actions against the call engine and feeds events back.

Happy path: notice + hold music to the caller → claim the longest-idle agent → dial → (answered) screen pop and
whisper to the agent only → both done → bridge.  No answer → next agent (up to ``max_agents``); nobody free within
the wait → caller told, callback order, polite end; caller hangs up → agent leg torn down, order marked; agent
hangs up before or after the bridge → caller offered retry (1) or callback (2).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Phase = Literal["idle", "claiming", "waiting", "dialing", "whisper", "bridged", "offer", "closing", "done"]


# -- events -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Start:
    pass


@dataclass(frozen=True)
class AgentClaimed:
    agent_id: str


@dataclass(frozen=True)
class NoAgentFree:
    pass


@dataclass(frozen=True)
class AgentAnswered:
    agent_id: str


@dataclass(frozen=True)
class DialFailedEv:
    agent_id: str
    status: int
    reason: str = ""


@dataclass(frozen=True)
class WhisperDone:
    pass


@dataclass(frozen=True)
class PopDone:
    pass


@dataclass(frozen=True)
class CallerHungUp:
    pass


@dataclass(frozen=True)
class AgentHungUp:
    pass


@dataclass(frozen=True)
class CallerDigit:
    digit: str


@dataclass(frozen=True)
class CallerPromptDone:
    pass


@dataclass(frozen=True)
class TimerFired:
    name: str


Event = (Start | AgentClaimed | NoAgentFree | AgentAnswered | DialFailedEv | WhisperDone | PopDone | CallerHungUp
         | AgentHungUp | CallerDigit | CallerPromptDone | TimerFired)


# -- actions ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlayCaller:
    prompt_id: str
    slots: tuple[tuple[str, str], ...] = ()
    notify_done: bool = False  # post CallerPromptDone when finished


@dataclass(frozen=True)
class StartHold:
    pass


@dataclass(frozen=True)
class StopCallerAudio:
    pass


@dataclass(frozen=True)
class Claim:
    exclude: tuple[str, ...]


@dataclass(frozen=True)
class Dial:
    agent_id: str


@dataclass(frozen=True)
class CancelDial:
    pass


@dataclass(frozen=True)
class ScreenPop:
    agent_id: str


@dataclass(frozen=True)
class Whisper:
    agent_id: str


@dataclass(frozen=True)
class Bridge:
    agent_id: str


@dataclass(frozen=True)
class Unbridge:
    pass


@dataclass(frozen=True)
class HangupAgent:
    pass


@dataclass(frozen=True)
class HangupCaller:
    pass


@dataclass(frozen=True)
class ReleaseAgent:
    agent_id: str


@dataclass(frozen=True)
class MarkOrder:
    status: str | None
    outcome: str
    agent_id: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class StartTimer:
    name: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class Finish:
    status: Literal["bridged", "no_agent", "caller_hung_up", "agent_hung_up", "failed"]
    agent_id: str | None = None
    detail: str = ""


Action = (PlayCaller | StartHold | StopCallerAudio | Claim | Dial | CancelDial | ScreenPop | Whisper | Bridge
          | Unbridge | HangupAgent | HangupCaller | ReleaseAgent | MarkOrder | StartTimer | CancelTimer | Finish)


@dataclass(frozen=True)
class Settings:
    max_agents: int = 3
    wait_s: float = 20.0
    poll_s: float = 1.0
    choice_s: float = 8.0
    announce: bool = True  # play transfer.notice / no-agent / callback prompts and end the call ourselves;
    # False when the flow voices those (flows/definitions/hotline.yaml does): then no_agent returns at once


@dataclass(frozen=True)
class State:
    settings: Settings = field(default_factory=Settings)
    phase: Phase = "idle"
    agent: str | None = None
    tried: tuple[str, ...] = ()
    whisper_done: bool = False
    pop_done: bool = False
    wait_expired: bool = False
    was_bridged: bool = False
    reported: bool = False  # an outcome went back to the flow already (bridged): from then on we voice the rest
    result: Finish | None = None

    @property
    def voice(self) -> bool:
        return self.settings.announce or self.reported


def _claim(s: State) -> tuple[State, list[Action]]:
    return replace(s, phase="claiming", agent=None, whisper_done=False, pop_done=False), [Claim(s.tried)]


def _give_up(s: State, detail: str) -> tuple[State, list[Action]]:
    fin = Finish("no_agent", None, detail)
    if not s.voice:  # the flow tells the caller and promises the callback
        return (replace(s, phase="done", agent=None, result=fin),
                [CancelTimer("wait"), CancelTimer("poll"), StopCallerAudio(),
                 MarkOrder("callback_pending", "no_agent", note=detail), fin])
    return (replace(s, phase="closing", agent=None, result=fin),
            [CancelTimer("wait"), CancelTimer("poll"), StopCallerAudio(),
             MarkOrder("callback_pending", "no_agent", note=detail),
             PlayCaller("transfer.no_agent_callback", notify_done=True)])


def _agent_gone(s: State, detail: str) -> tuple[State, list[Action]]:
    acts: list[Action] = []
    if s.was_bridged:
        acts.append(Unbridge())
    acts += [HangupAgent()]
    if s.agent:
        acts.append(ReleaseAgent(s.agent))
    acts += [StopCallerAudio(), PlayCaller("transfer.agent_unavailable_retry"),
             StartTimer("choice", s.settings.choice_s)]
    fin = Finish("agent_hung_up", s.agent, detail)
    return replace(s, phase="offer", agent=None, was_bridged=False, result=fin), acts


def _callback(s: State, detail: str) -> tuple[State, list[Action]]:
    fin = s.result or Finish("agent_hung_up", None, detail)
    if not s.voice:  # hand the caller back to the flow's no-agent path (callback promise)
        fin = Finish("no_agent", fin.agent_id, f"{fin.detail}; {detail}")
        return (replace(s, phase="done", result=fin),
                [CancelTimer("choice"), StopCallerAudio(), MarkOrder("callback_pending", "agent_hung_up", note=detail),
                 fin])
    return (replace(s, phase="closing", result=fin),
            [CancelTimer("choice"), StopCallerAudio(), MarkOrder("callback_pending", fin.status, note=detail),
             PlayCaller("callback.promise", notify_done=True)])


def step(s: State, ev: Event) -> tuple[State, list[Action]]:
    p = s.phase
    if p == "done":
        return s, []
    if isinstance(ev, CallerHungUp):
        acts: list[Action] = [CancelTimer("wait"), CancelTimer("poll"), CancelTimer("choice")]
        if p == "dialing":
            acts.append(CancelDial())
        if p in ("whisper", "bridged"):
            if p == "bridged":
                acts.append(Unbridge())
            acts.append(HangupAgent())
        if s.agent and p in ("dialing", "whisper", "bridged"):
            acts.append(ReleaseAgent(s.agent))
        if p == "closing":
            fin = s.result or Finish("caller_hung_up")
            return replace(s, phase="done", result=fin), [*acts, fin]
        fin = Finish("caller_hung_up", s.agent, f"caller hung up while {p}")
        if p != "bridged":  # after the bridge the order keeps its "bridged" outcome: the talk simply ended
            acts.append(MarkOrder("abandoned", "caller_hung_up", s.agent, note=fin.detail))
        acts.append(fin)
        return replace(s, phase="done", result=fin), acts

    if p == "idle" and isinstance(ev, Start):
        s2, acts = _claim(s)
        notice: list[Action] = [PlayCaller("transfer.notice")] if s.voice else []
        return s2, [*notice, StartHold(), StartTimer("wait", s.settings.wait_s), *acts]

    if isinstance(ev, TimerFired) and ev.name == "wait":
        if p in ("claiming", "waiting"):
            return _give_up(s, "no agent free")
        return replace(s, wait_expired=True), []

    if p == "claiming":
        if isinstance(ev, AgentClaimed):
            return replace(s, phase="dialing", agent=ev.agent_id), [Dial(ev.agent_id)]
        if isinstance(ev, NoAgentFree):
            if s.wait_expired:
                return _give_up(s, "no agent free")
            return replace(s, phase="waiting"), [StartTimer("poll", s.settings.poll_s)]
    if p == "waiting" and isinstance(ev, TimerFired) and ev.name == "poll":
        return _claim(s)
    if p == "dialing":
        if isinstance(ev, DialFailedEv) and ev.agent_id == s.agent:
            tried = (*s.tried, ev.agent_id)
            s2 = replace(s, tried=tried, agent=None)
            rel: list[Action] = [ReleaseAgent(ev.agent_id)]
            if len(tried) >= s.settings.max_agents or s.wait_expired:
                s3, acts = _give_up(s2, f"no answer from {', '.join(tried)}")
                return s3, rel + acts
            s3, acts = _claim(s2)
            return s3, rel + acts
        if isinstance(ev, AgentAnswered) and ev.agent_id == s.agent:
            return (replace(s, phase="whisper", tried=(*s.tried, ev.agent_id)),
                    [CancelTimer("wait"), ScreenPop(ev.agent_id), Whisper(ev.agent_id)])
    if p == "whisper":
        if isinstance(ev, AgentHungUp):
            return _agent_gone(s, "agent hung up during whisper")
        if isinstance(ev, WhisperDone | PopDone):
            s2 = replace(s, whisper_done=s.whisper_done or isinstance(ev, WhisperDone),
                         pop_done=s.pop_done or isinstance(ev, PopDone))
            if s2.whisper_done and s2.pop_done and s2.agent:
                fin = Finish("bridged", s2.agent)
                return (replace(s2, phase="bridged", was_bridged=True, reported=True, result=fin),
                        [StopCallerAudio(), Bridge(s2.agent), MarkOrder("assigned", "bridged", s2.agent), fin])
            return s2, []
    if p == "bridged" and isinstance(ev, AgentHungUp):
        return _agent_gone(s, "agent hung up first")
    if p == "offer":
        if isinstance(ev, CallerDigit) and ev.digit == "1":
            s2, acts = _claim(replace(s, tried=(), wait_expired=False, result=None))
            return s2, [CancelTimer("choice"), StopCallerAudio(), PlayCaller("transfer.notice"), StartHold(),
                        StartTimer("wait", s.settings.wait_s), *acts]  # retry: always say we are connecting
        if (isinstance(ev, CallerDigit) and ev.digit == "2") or (isinstance(ev, TimerFired) and ev.name == "choice"):
            return _callback(s, "caller chose callback" if isinstance(ev, CallerDigit) else "no choice: callback")
    if p == "closing" and isinstance(ev, CallerPromptDone):
        fin = s.result or Finish("no_agent")
        return replace(s, phase="done"), [HangupCaller(), fin]
    return s, []
