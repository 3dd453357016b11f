"""The flow runner: a pure state machine ``step(state, event) -> (state, actions)``.

No I/O, no clock: the session (flows/session.py), the simulator and the tests feed it events and execute the
actions it returns.  The classifier it calls is a pure function held in the state's context.

Timers are actions (``StartTimer`` / ``CancelTimer``) whose expiry comes back as ``TimerFired`` (the convention of
bridge/transfer_sm.py): ``watchdog`` (the call's length, from the first prompt's rendering),
``render`` / ``render_slow`` (the audio of the prompt being rendered, from its ``Rendering`` event), ``no_input``
(keypad-only questions: counted from the end of the question's prompt) and ``inter_digit``.  The
recognizer's own no-input timer stays in the recognizer, which knows whether the caller is speaking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from flows import answers
from flows.draft import build_draft, fill
from flows.events import (
    Action,
    BargeIn,
    CancelTimer,
    CreateOrder,
    Digits,
    DropPending,
    Event,
    Failed,
    Hangup,
    HangupCall,
    Key,
    Listen,
    NoInput,
    NoMatch,
    OrderCreated,
    Play,
    PromptDone,
    PromptStarted,
    Recognized,
    RecordUnreasonable,
    Rendering,
    Started,
    StartTimer,
    StopListening,
    StopPlayback,
    TimerFired,
    Transfer,
    TransferDone,
    Warn,
)
from flows.ids import CATEGORY_NAMES
from flows.keypad import press
from flows.listening import interpret, listen_action
from flows.model import WAITING_TYPES, Flow, Node

Phase = Literal["new", "playing", "listening", "order", "transfer", "closing", "done"]
MAX_HOPS = 64  # immediate transitions per event: a flow loop without a waiting node is an error, not a hang
MAX_ERRORS = 3
DETAILED_CHARS = 15  # an opening story this long already describes the problem (no ask.description)
MAX_TYPEAHEAD = 16  # keys kept for the next question
QUESTION_TIMERS = ("no_input", "inter_digit")  # timers of one question: cancelled when it is left
EMERGENCY = "emergency"  # the classifier's disposition that globals.emergency answers
CLASSIFY_SETS = ("disposition", "category", "category_name", "channel", "rule", "request_type", "confidence",
                 "confirm_needed", "channel_transfer", "channel_target", "clarify_count", "detail",
                 "secondary_disposition", "secondary_category", "secondary_category_name")  # what a classify step sets


class ClassificationLike(Protocol):
    """What the runner reads of a classification (flows.classifier.Classification); a classify step sets
    :data:`CLASSIFY_SETS` from it."""

    @property
    def disposition(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def rule(self) -> str | None: ...
    @property
    def confidence(self) -> float: ...
    @property
    def request_type(self) -> str | None: ...
    @property
    def confirm(self) -> bool | None:
        """Confirm an emergency before transferring; None: decided by ``Context.confirm_emergency_below``."""
        ...
    @property
    def secondary(self) -> ClassificationLike | None:
        """The other half of a split case."""
        ...


class ClassifierLike(Protocol):
    def classify(self, text: str) -> ClassificationLike: ...


@dataclass(frozen=True)
class ChannelRoute:
    """How a channel is reached in this city: transferred to ``target`` or only told (spoken number)."""

    transfer: bool
    target: str = ""


@dataclass(frozen=True)
class Limits:
    """Deadlines the runner arms as timers (config/flows.yaml, passed on by flows.setup and the session)."""

    max_call_seconds: float = 1800.0  # then the flow's error path (agent / callback)
    render_timeout: float = 90.0  # one prompt's audio may take this long (slow TTS) before the error path
    render_warning: float = 15.0  # a prompt still rendering after this is logged


@dataclass(frozen=True)
class Context:
    flow: Flow  # the version this call is pinned to
    classifier: ClassifierLike | None
    routes: Mapping[str, ChannelRoute] = field(default_factory=dict)
    confirm_emergency_below: float = 0.75  # classifier confidence under which an emergency is confirmed first
    agent_queue: str = "default"
    # an emergency whose channel has no route (none named, or an id the routes do not know) goes here, confirmed
    # first: it is never dropped and never reaches a transfer without a target
    default_emergency_channel: str = "110"
    split_min_confidence: float = 0.5  # a secondary (split-case) classification below this is ignored
    limits: Limits = Limits()
    policy_version: str = ""  # the scope policy the classifier and routes come from (flows.registry)


@dataclass(frozen=True)
class State:
    ctx: Context
    node: str | None = None
    phase: Phase = "new"
    wait_play: int | None = None
    play_seq: int = 0
    attempts: int = 0
    vars: Mapping[str, str] = field(default_factory=dict)
    transcript: tuple[tuple[str, str], ...] = ()
    call_id: str = ""
    caller: str = ""
    speech: bool = True
    errors: int = 0
    order_pending: bool = False
    end_reason: str = ""
    listen_play: int = 0  # the current question opens when this prompt is queued (barge-in) or played
    listen: Listen | None = None  # the open question (its Listen was emitted)
    keys: str = ""  # digits keyed so far for the current question
    typeahead: tuple[str, ...] = ()  # keys pressed before a question opened: kept for it
    settled_play: int = 0  # every prompt up to this one is queued or over (its render deadline is past)
    rendering: int = 0  # the prompt whose render deadline runs
    watchdog_armed: bool = False
    timers: Mapping[str, int] = field(default_factory=dict)  # armed timer -> token of its StartTimer
    timer_seq: int = 0

    @property
    def finished(self) -> bool:
        return self.phase == "done"

    @property
    def flow(self) -> Flow:
        return self.ctx.flow


Result = tuple[State, list[Action]]


def new_call(ctx: Context) -> State:
    return State(ctx=ctx)


def step(state: State, event: Event) -> Result:
    """Advance the call by one event."""
    if state.phase == "done":
        return state, []
    new, actions = _step(state, event)
    return _settle_timers(state, new, event, actions)


def _step(state: State, event: Event) -> Result:
    if isinstance(event, Hangup):
        return _caller_gone(state, event.reason)
    if isinstance(event, Started):
        if state.phase != "new":
            return state, []
        variables = {"caller": event.caller, "mode": "speech" if event.speech else "dtmf"}
        state = replace(state, call_id=event.call_id, caller=event.caller, speech=event.speech, vars=variables)
        return _enter(state, state.flow.start, [])
    if isinstance(event, Rendering):
        if event.play_id <= state.settled_play:
            return state, []
        actions: list[Action] = []
        limits = state.ctx.limits
        state = _arm(replace(state, rendering=event.play_id), "render", limits.render_timeout, actions)
        if limits.render_warning < limits.render_timeout:
            state = _arm(state, "render_slow", limits.render_warning, actions)
        return state, actions
    if isinstance(event, TimerFired):
        return _timer_fired(state, event)
    if isinstance(event, Failed):
        return _failed(state, event.detail)
    if isinstance(event, OrderCreated) and (event.late or state.phase != "order"):
        # an order write the session had stopped waiting for (its guard timed out) landed later: the call goes on
        # with that order (the agent gets it, the callback names it) instead of writing a second one
        if state.vars.get("order_no"):
            return state, []
        return replace(state, vars={**state.vars, "order_no": event.order_no}), []
    if isinstance(event, Key) and (state.phase != "listening" or state.listen is None):
        if len(state.typeahead) < MAX_TYPEAHEAD:  # keys pressed before the question: kept for it
            return replace(state, typeahead=(*state.typeahead, event.digit)), []
        return state, []
    if isinstance(event, PromptStarted | PromptDone):
        state = replace(state, settled_play=max(state.settled_play, event.play_id))
    node = state.flow.node(state.node) if state.node else None
    if node is None:
        return state, []
    if state.phase == "listening":
        heard = _while_listening(state, node, event)
        if heard is not None:
            return heard
    if isinstance(event, PromptStarted):
        return state, []
    if isinstance(event, PromptDone):
        if state.wait_play != event.play_id:
            return state, []  # an earlier prompt (stopped by barge-in, or a listening step's prompt)
        state = replace(state, wait_play=None)
        if state.phase == "closing":
            return replace(state, phase="done", end_reason="hangup"), [HangupCall("normal")]
        if node.type == "redirect":
            return _after_redirect_prompt(state, node)
        if node.type == "transfer":
            return _start_transfer(state, node, [])
        return _enter(state, node.next or "", [])
    if isinstance(event, OrderCreated) and state.phase == "order":
        variables = {**state.vars, "order_no": event.order_no}
        state = replace(state, vars=variables, order_pending=False)
        return _enter(state, node.next or "", [])
    if isinstance(event, TransferDone) and state.phase == "transfer":
        if event.outcome in ("bridged", "transferred", "caller_hung_up", "agent_hung_up"):
            return replace(state, phase="done", end_reason=f"transfer {event.outcome}"), []
        target = node.on_fail or node.next or state.flow.on_error or ""
        return _enter(replace(state, vars={**state.vars, "transfer_outcome": event.outcome}), target, [])
    if isinstance(event, Recognized | Digits | NoInput | NoMatch) and state.phase == "listening":
        return _answer(state, node, event)
    return state, []


# ---- entering nodes ---------------------------------------------------------------------------------------


def _play(state: State, prompt: str, node: Node, actions: list[Action], barge_in: bool | None = None) -> State:
    seq = state.play_seq + 1
    prompt_id = fill(prompt, state.vars, missing="")
    slots = {k: fill(v, state.vars) for k, v in node.slots.items()}
    actions.append(Play(seq, prompt_id, slots, node.barge_in if barge_in is None else barge_in))
    return replace(state, play_seq=seq, transcript=(*state.transcript, ("ivr", prompt_id)))


def _enter(state: State, name: str, actions: list[Action]) -> Result:
    for _ in range(MAX_HOPS):
        if name not in state.flow.nodes:
            return _failed(state, f"no node {name!r}", actions)
        node = state.flow.node(name)
        state = replace(state, node=name, attempts=0, wait_play=None, listen=None, keys="")
        if node.type in ("goto", "set"):
            if node.type == "set":
                assigned = {k: fill(v, state.vars, "") for k, v in node.values.items()}
                state = replace(state, vars={**state.vars, **assigned})
            name = node.next or ""
            continue
        if node.type == "switch":
            value = state.vars.get(node.on or "", "")
            name = node.cases.get(value, node.default or "")
            continue
        if node.type == "classify":
            state, name = _classify(state, node)
            continue
        if node.type in ("say", "redirect", "hangup"):
            state = _play(state, node.prompt or "redirect.{channel}", node, actions) if (
                node.prompt or node.type == "redirect") else state
            if node.type == "hangup" and not node.prompt:
                return replace(state, phase="done", end_reason="hangup"), [*actions, HangupCall("normal")]
            phase: Phase = "closing" if node.type == "hangup" else "playing"
            return replace(state, phase=phase, wait_play=state.play_seq), actions
        if node.type == "transfer":
            if node.prompt:
                state = _play(state, node.prompt, node, actions)
                return replace(state, phase="playing", wait_play=state.play_seq), actions
            return _start_transfer(state, node, actions)
        if node.type == "create_order":
            draft = build_draft(state.vars, state.transcript, call_id=state.call_id, caller=state.caller,
                                flow_version=state.flow.version, urgency=node.urgency)
            action: Action = RecordUnreasonable(draft) if node.record == "unreasonable" else CreateOrder(draft)
            return replace(state, phase="order", order_pending=True), [*actions, action]
        # a listening node
        listen = listen_action(node, state.speech)
        if listen is None:  # DTMF-only mode and the step cannot be answered by keys
            name = node.fallback or ""
            continue
        state = _play(state, node.prompt or "", node, actions)
        return replace(state, phase="listening", listen_play=state.play_seq), actions  # opens with its prompt
    return _failed(state, f"more than {MAX_HOPS} steps without waiting (loop in the flow?)", actions)


def _classify(state: State, node: Node) -> tuple[State, str]:
    text = state.vars.get(node.input, "")
    classifier = state.ctx.classifier
    if classifier is None:
        return state, node.on_error or state.flow.on_error or ""
    try:
        result = classifier.classify(text)
    except Exception as exc:  # a classifier bug must not end the call: the flow's error path takes over
        variables = {**state.vars, "error": f"classifier: {exc}"}
        return replace(state, vars=variables), node.on_error or state.flow.on_error or ""
    channel = result.channel or ""
    route = state.ctx.routes.get(channel)
    confirm = result.confirm if result.confirm is not None else result.confidence < state.ctx.confirm_emergency_below
    if result.disposition == "emergency" and (route is None or not route.target):
        channel = state.ctx.default_emergency_channel  # a guessed channel: the caller confirms before the transfer
        route = state.ctx.routes.get(channel)
        confirm = True
    clarify_count = int(state.vars.get("clarify_count", "0") or 0) + (result.disposition == "clarify")
    variables = {
        **state.vars,
        "disposition": result.disposition,
        "category": result.category or state.vars.get("category", ""),
        "category_name": CATEGORY_NAMES.get(result.category or "", state.vars.get("category_name", "")),
        "channel": channel,
        "rule": result.rule or "",
        "request_type": result.request_type or state.vars.get("request_type", ""),
        "confidence": f"{result.confidence:.2f}",
        "confirm_needed": "yes" if confirm else "no",
        "channel_transfer": "yes" if route is not None and route.transfer else "no",
        "channel_target": route.target if route is not None else channel,
        "clarify_count": str(clarify_count),
        "detail": "long" if len(answers.core(text)) >= DETAILED_CHARS else "short",
    }
    secondary = result.secondary
    if secondary is not None and secondary.confidence < state.ctx.split_min_confidence:
        secondary = None  # a weak second reading is not a split case
    variables["secondary_disposition"] = secondary.disposition if secondary is not None else ""
    secondary_category = (secondary.category if secondary is not None else None) or ""
    variables["secondary_category"] = secondary_category
    variables["secondary_category_name"] = CATEGORY_NAMES.get(secondary_category, "")
    target = node.routes.get(result.disposition) or node.on_error or state.flow.on_error or ""
    return replace(state, vars=variables), target


def _start_transfer(state: State, node: Node, actions: list[Action]) -> Result:
    target = fill(node.target, state.vars, "") if node.target else state.ctx.agent_queue
    if not target.strip():  # a template filled with nothing (e.g. "{channel_target}"): the transfer failed
        variables = {**state.vars, "transfer_outcome": "no_target"}
        following = node.on_fail or node.next or state.flow.on_error or ""
        return _enter(replace(state, vars=variables), following, actions)
    draft = build_draft(state.vars, state.transcript, call_id=state.call_id, caller=state.caller,
                        flow_version=state.flow.version)
    return replace(state, phase="transfer"), [*actions, Transfer(node.kind, target, draft)]


def _after_redirect_prompt(state: State, node: Node) -> Result:
    if state.vars.get("channel_transfer") == "yes" and state.vars.get("channel_target"):
        target = state.vars["channel_target"]
        draft = build_draft(state.vars, state.transcript, call_id=state.call_id, caller=state.caller,
                            flow_version=state.flow.version)
        # a failed redirect transfer continues like a spoken redirect
        return replace(state, phase="transfer"), [Transfer("redirect", target, draft)]
    return _enter(state, node.next or "", [])


# ---- answers ------------------------------------------------------------------------------------------------


def _answer(state: State, node: Node, event: Recognized | Digits | NoInput | NoMatch) -> Result:
    if isinstance(event, Recognized) and event.text:
        state = replace(state, transcript=(*state.transcript, ("caller", event.text)))
    if isinstance(event, Digits):
        state = replace(state, transcript=(*state.transcript, ("caller", f"按键 {event.digits}")))
    if isinstance(event, Recognized) and event.text.strip():
        interrupted = _emergency_heard(state, node, event.text)
        if interrupted is not None:
            return interrupted
    outcome = interpret(node, event, state.vars, state.flow.globals, state.caller)
    if outcome.target is None:  # no input / no match: reprompt, then the fallback
        attempts = state.attempts + 1
        if attempts > node.retries:
            return _enter(state, node.fallback or "", [])
        actions: list[Action] = []
        reprompt = node.no_input_prompt if isinstance(event, NoInput) else node.no_match_prompt
        state = _play(state, reprompt, node, actions)
        state = _play(state, node.prompt or "", node, actions)
        if listen_action(node, state.speech) is None:
            return _enter(state, node.fallback or "", actions)
        return replace(state, attempts=attempts, phase="listening", listen_play=state.play_seq, listen=None,
                       keys=""), actions
    return _enter(replace(state, vars={**state.vars, **outcome.values}), outcome.target, [])


def _emergency_heard(state: State, node: Node, text: str) -> Result | None:
    """An emergency said in a later free answer (收集地址时"楼下着火了") goes to the emergency path at once."""
    target = state.flow.globals.emergency
    kind = node.listen.kind if node.listen else "free"
    if target is None or state.ctx.classifier is None or node.type not in ("ask", "collect"):
        return None
    if kind not in ("free", "address", "time") or state.vars.get("disposition") == EMERGENCY:
        return None
    following = state.flow.nodes.get(node.next or "")
    if following is not None and following.type == "classify":
        return None  # the answer is classified next anyway
    try:
        result = state.ctx.classifier.classify(text)
    except Exception:
        return None
    if result.disposition != EMERGENCY:
        return None
    probe = Node(name=node.name, type="classify", line=node.line, routes={EMERGENCY: target})
    variables = {**state.vars, "utterance": f"{state.vars.get('utterance', '')} {text}".strip()}
    state, _ = _classify(replace(state, vars=variables), probe)
    return _enter(state, target, [])


# ---- an open question: its prompt, keys, timers -----------------------------------------------------------


def _while_listening(state: State, node: Node, event: Event) -> Result | None:
    """Events of the current question that are not an answer yet; None: the answer / the general handling."""
    if isinstance(event, PromptStarted | PromptDone) and event.play_id == state.listen_play:
        actions: list[Action] = []
        if state.listen is None and (isinstance(event, PromptDone) or node.barge_in or not state.speech):
            state, actions = _open(state, node)
            if state.phase != "listening" or state.listen_play != event.play_id:
                return state, actions  # answered at once by keys pressed before
        if isinstance(event, PromptDone) and state.listen is not None and not state.listen.speech and not state.keys:
            keypad = state.listen.keypad  # keypad only: no-input counted from the end of the question's prompt
            timeout = keypad.first_digit_timeout if keypad else state.listen.spec.no_input_timeout
            state = _arm(state, "no_input", timeout, actions)
        return state, actions
    if isinstance(event, Key):
        return _key(state, node, event.digit)
    if isinstance(event, BargeIn):
        if state.listen is not None and state.listen.spec.barge_in and not state.keys:
            return state, [StopPlayback()]
        return state, []
    if isinstance(event, Recognized | NoInput | NoMatch) and state.keys:
        return state, []  # keys are being entered: the recognizer is not asked any more
    return None


def _open(state: State, node: Node) -> Result:
    """The question opens: Listen (the recognizer is armed), then the keys pressed before it are entered."""
    listen = listen_action(node, state.speech)
    if listen is None:
        return state, []
    actions: list[Action] = [listen]
    typed, state = state.typeahead, replace(state, listen=listen, typeahead=())
    for i, digit in enumerate(typed):
        if state.phase != "listening" or state.listen is None or state.node is None:
            return replace(state, typeahead=typed[i:]), actions  # answered: the rest is for the next question
        state, more = _key(state, state.flow.node(state.node), digit)
        actions += more
    return state, actions


def _key(state: State, node: Node, digit: str) -> Result:
    keypad = state.listen.keypad if state.listen is not None else None
    if keypad is None:
        return state, []
    actions: list[Action] = []
    if not state.keys:  # a key always interrupts the question being asked
        actions += [StopPlayback(), StopListening()]
        state = _cancel(state, "no_input", actions)
    entered, entry = press(keypad, state.keys, digit)
    state = replace(state, keys=entered)
    if entry is None:
        return _arm(state, "inter_digit", keypad.inter_digit_timeout, actions), actions
    state = _cancel(state, "inter_digit", actions)
    state, more = _answer(state, node, Digits(entry.digits, entry.terminated))
    return state, [*actions, *more]


def _timer_fired(state: State, event: TimerFired) -> Result:
    if state.timers.get(event.name) != event.token:
        return state, []  # cancelled or restarted since
    state = replace(state, timers={k: v for k, v in state.timers.items() if k != event.name})
    limits = state.ctx.limits
    if event.name == "watchdog":
        return _failed(state, "call too long")
    if event.name == "render":  # the prompts not yet queued are given up; the error path has its own
        state = replace(state, settled_play=state.play_seq)
        detail = f"Play: TimeoutError('prompt not rendered within {limits.render_timeout:g} s')"
        return _failed(state, detail, [DropPending()])
    if event.name == "render_slow":
        return state, [Warn(f"prompt still rendering after {limits.render_warning:g} s (slow TTS); waiting for it")]
    node = state.flow.nodes.get(state.node or "")
    if state.phase != "listening" or node is None:
        return state, []
    if event.name == "no_input" and not state.keys:
        return _answer(state, node, NoInput())
    if event.name == "inter_digit" and state.keys:
        entry, state = state.keys, replace(state, keys="")
        return _answer(state, node, Digits(entry, False))
    return state, []


def _arm(state: State, name: str, seconds: float, actions: list[Action]) -> State:
    token = state.timer_seq + 1
    actions.append(StartTimer(name, seconds, token))
    return replace(state, timer_seq=token, timers={**state.timers, name: token})


def _cancel(state: State, name: str, actions: list[Action]) -> State:
    if name not in state.timers:
        return state
    actions.append(CancelTimer(name))
    return replace(state, timers={k: v for k, v in state.timers.items() if k != name})


def _settle_timers(old: State, new: State, event: Event, actions: list[Action]) -> Result:
    """Timers that follow from the new state: a question's timers end with it, a render deadline with its prompt,
    nothing outlives the call; the watchdog runs from the first prompt's rendering (the session reports it at once)."""
    actions = list(actions)
    if new.finished:
        actions += [CancelTimer(name) for name in new.timers]
        return replace(new, timers={}), actions
    if new.phase != "listening" or new.listen_play != old.listen_play:
        for name in QUESTION_TIMERS:
            if name in new.timers and new.timers[name] == old.timers.get(name):
                new = _cancel(new, name, actions)
    if new.settled_play >= new.rendering:  # queued, played or given up: its render deadline is over
        new = _cancel(_cancel(new, "render", actions), "render_slow", actions)
    if not new.watchdog_armed and isinstance(event, Rendering | PromptStarted):
        new = replace(_arm(new, "watchdog", new.ctx.limits.max_call_seconds, actions), watchdog_armed=True)
    return new, actions


# ---- errors and hang-up -----------------------------------------------------------------------------------


def _failed(state: State, detail: str, actions: list[Action] | None = None) -> Result:
    actions = list(actions or [])
    errors = state.errors + 1
    variables = {**state.vars, "error": detail}
    node = state.flow.nodes.get(state.node or "")
    if state.phase == "transfer" and node is not None and node.on_fail:
        return _enter(replace(state, errors=errors, vars=variables), node.on_fail, actions)
    if state.phase == "order" and node is not None and node.on_error:
        return _enter(replace(state, errors=errors, vars=variables, order_pending=False), node.on_error, actions)
    if errors > 1 and node is not None and state.phase in ("playing", "closing", "listening"):
        # already on the error path (e.g. prompt audio is failing): go on without this prompt, so the caller
        # still reaches an agent or a clean end instead of silence
        state = replace(state, errors=errors, vars=variables, wait_play=None)
        if node.type == "hangup" or state.phase == "closing":
            return replace(state, phase="done", end_reason=f"error: {detail}"), [*actions, HangupCall("error")]
        if node.type == "transfer":
            return _start_transfer(state, node, actions)
        if node.type == "redirect":
            return _after_redirect_prompt(state, node)
        following = node.fallback if node.type in WAITING_TYPES else node.next
        if errors <= MAX_ERRORS + 3 and following:
            return _enter(state, following, actions)
    target = state.flow.on_error
    if errors > MAX_ERRORS or target is None or target not in state.flow.nodes:
        return replace(state, phase="done", errors=errors, vars=variables, end_reason=f"error: {detail}"), [
            *actions, HangupCall("error")]
    return _enter(replace(state, errors=errors, vars=variables, order_pending=False), target, actions)


def _caller_gone(state: State, reason: str) -> Result:
    """The caller hung up: an order whose content was already collected is still created."""
    actions: list[Action] = []
    v = state.vars
    if state.flow.hangup_order.applies(v) and not v.get("order_no") and not state.order_pending:
        variables = {**v, "callback": "yes"}
        draft = build_draft(variables, (*state.transcript, ("ivr", "[来电人挂机]")), call_id=state.call_id,
                            caller=state.caller, flow_version=state.flow.version)
        actions.append(CreateOrder(draft))
    ended = f"transfer ended ({reason})" if state.phase == "transfer" else f"caller hung up ({reason})"
    return replace(state, phase="done", end_reason=ended), actions
