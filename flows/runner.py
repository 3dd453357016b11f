"""The flow runner: a pure state machine ``step(state, event) -> (state, actions)``.

No I/O, no clock: the session (flows/session.py), the simulator and the tests feed it events and execute the
actions it returns.  The classifier it calls is a pure function held in the state's context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from flows import answers
from flows.draft import build_draft, fill
from flows.events import (
    Action,
    CreateOrder,
    Digits,
    Event,
    Failed,
    Hangup,
    HangupCall,
    NoInput,
    NoMatch,
    OrderCreated,
    Play,
    PromptDone,
    Recognized,
    RecordUnreasonable,
    Started,
    Transfer,
    TransferDone,
)
from flows.ids import CATEGORY_NAMES
from flows.listening import interpret, listen_action
from flows.model import WAITING_TYPES, Flow, Node

Phase = Literal["new", "playing", "listening", "order", "transfer", "closing", "done"]
MAX_HOPS = 64  # immediate transitions per event: a flow loop without a waiting node is an error, not a hang
MAX_ERRORS = 3
DETAILED_CHARS = 15  # an opening story this long already describes the problem (no ask.description)


class ClassificationLike(Protocol):
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


class ClassifierLike(Protocol):
    def classify(self, text: str) -> ClassificationLike: ...


@dataclass(frozen=True)
class ChannelRoute:
    """How a channel is reached in this city: transferred to ``target`` or only told (spoken number)."""

    transfer: bool
    target: str = ""


@dataclass(frozen=True)
class Context:
    flow: Flow  # the version this call is pinned to
    classifier: ClassifierLike | None
    routes: Mapping[str, ChannelRoute] = field(default_factory=dict)
    confirm_emergency_below: float = 0.75  # classifier confidence under which an emergency is confirmed first
    agent_queue: str = "default"
    split_min_confidence: float = 0.5  # a secondary (split-case) classification below this is ignored


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
    if isinstance(event, Hangup):
        return _caller_gone(state, event.reason)
    if isinstance(event, Started):
        if state.phase != "new":
            return state, []
        variables = {"caller": event.caller, "mode": "speech" if event.speech else "dtmf"}
        state = replace(state, call_id=event.call_id, caller=event.caller, speech=event.speech, vars=variables)
        return _enter(state, state.flow.start, [])
    if isinstance(event, Failed):
        return _failed(state, event.detail)
    if isinstance(event, OrderCreated) and (event.late or state.phase != "order"):
        # an order write the session had stopped waiting for (its guard timed out) landed later: the call goes on
        # with that order (the agent gets it, the callback names it) instead of writing a second one
        if state.vars.get("order_no"):
            return state, []
        return replace(state, vars={**state.vars, "order_no": event.order_no}), []
    node = state.flow.node(state.node) if state.node else None
    if node is None:
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
        state = replace(state, node=name, attempts=0, wait_play=None)
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
        return replace(state, phase="listening"), [*actions, listen]
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
    needs = getattr(result, "confirm", getattr(result, "needs_confirmation", None))
    confirm = bool(needs) if isinstance(needs, bool) else result.confidence < state.ctx.confirm_emergency_below
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
    secondary = getattr(result, "secondary", None)
    if secondary is not None and float(getattr(secondary, "confidence", 0.0)) < state.ctx.split_min_confidence:
        secondary = None  # a weak second reading is not a split case
    variables["secondary_disposition"] = str(getattr(secondary, "disposition", "") or "")
    secondary_category = str(getattr(secondary, "category", "") or "")
    variables["secondary_category"] = secondary_category
    variables["secondary_category_name"] = CATEGORY_NAMES.get(secondary_category, "")
    target = node.routes.get(result.disposition) or node.on_error or state.flow.on_error or ""
    return replace(state, vars=variables), target


def _start_transfer(state: State, node: Node, actions: list[Action]) -> Result:
    target = fill(node.target, state.vars, "") if node.target else state.ctx.agent_queue
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
        listen = listen_action(node, state.speech)
        if listen is None:
            return _enter(state, node.fallback or "", actions)
        return replace(state, attempts=attempts, phase="listening"), [*actions, listen]
    return _enter(replace(state, vars={**state.vars, **outcome.values}), outcome.target, [])


def _emergency_heard(state: State, node: Node, text: str) -> Result | None:
    """An emergency said in a later free answer (收集地址时"楼下着火了") goes to the emergency path at once."""
    target = state.flow.globals.emergency
    kind = node.listen.kind if node.listen else "free"
    if target is None or state.ctx.classifier is None or node.type not in ("ask", "collect"):
        return None
    if kind not in ("free", "address", "time") or state.vars.get("disposition") == "emergency":
        return None
    following = state.flow.nodes.get(node.next or "")
    if following is not None and following.type == "classify":
        return None  # the answer is classified next anyway
    try:
        result = state.ctx.classifier.classify(text)
    except Exception:
        return None
    if result.disposition != "emergency":
        return None
    probe = Node(name=node.name, type="classify", line=node.line, routes={"emergency": target})
    variables = {**state.vars, "utterance": f"{state.vars.get('utterance', '')} {text}".strip()}
    state, _ = _classify(replace(state, vars=variables), probe)
    return _enter(state, target, [])


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
    collected = v.get("disposition") in ("accept", "emergency") and bool(v.get("utterance") or v.get("description"))
    if collected and not v.get("order_no") and not state.order_pending:
        variables = {**v, "callback": "yes"}
        draft = build_draft(variables, (*state.transcript, ("ivr", "[来电人挂机]")), call_id=state.call_id,
                            caller=state.caller, flow_version=state.flow.version)
        actions.append(CreateOrder(draft))
    ended = f"transfer ended ({reason})" if state.phase == "transfer" else f"caller hung up ({reason})"
    return replace(state, phase="done", end_reason=ended), actions
