"""Run the pure flow runner on a real call: prompts, speech, keys, orders and transfers.

``run_call(call, deps)`` is the application for one answered call (an ``ivr.app.CallHandler`` via
:func:`make_handler`).  The session is an executor: it feeds the runner's ``step`` events and executes the actions
it returns.  The runner owns the timers (no-input, inter-digit, watchdog, render deadline: ``StartTimer`` →
``TimerFired``); the session starts them on ``deps.clock``.  Every dependency failure becomes a ``Failed`` event (the
flow's error path: error.system prompt, then agent or callback) — never an exception out of the call.

Its parts: flows/playout.py (prompts rendered in order and queued on the call), flows/recognizer.py (the speech
listener), flows/call_events.py (the one reader of the call's events: to the runner, or to the hand-off while it
has the caller — nobody pauses it) and flows/order_writes.py.

Two dependencies outlive their guard instead of racing it:

- prompt audio: a slow synthesis is waited for (the runner's ``render_slow`` warning after ``dependency_timeout``,
  its ``render`` deadline only after ``render_timeout``; the TTS kills a stuck worker itself), so a slow TTS delays
  a prompt but never turns it into a system-error apology.  Prompts render one after the other and are queued on
  the call in order;
- order writes (flows/order_writes.py): never cancelled.  When the guard gives up the flow takes its error path,
  the write goes on (the hand-off still journals it if the database fails), and once it lands the flow is told the
  order number (``OrderCreated``); a later order step of the same call waits for that write instead of writing a
  second order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from asr.api import SpeechService
from bridge.api import Handoff, OrderDraft, OrderRef, TransferOutcome
from flows.call_events import CallEvents
from flows.events import (
    Action,
    CancelTimer,
    CreateOrder,
    DropPending,
    Event,
    Failed,
    HangupCall,
    Listen,
    OrderCreated,
    Play,
    RecordUnreasonable,
    Started,
    StartTimer,
    StopListening,
    StopPlayback,
    TimerFired,
    Transfer,
    TransferDone,
    Warn,
)
from flows.order_writes import OrderWrites
from flows.playout import Playout
from flows.recognizer import Recognizer
from flows.runner import Context, Limits, new_call, step
from ivr.app import Call, CallHandler
from ivr.clock import Clock, LoopClock
from prompts.api import PromptSource

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class SessionDeps:
    """What a call needs; the lead wires the real services, tests pass fakes."""

    prompts: PromptSource
    handoff: Handoff
    contexts: Callable[[], Context]  # a new runner context per call (flows.setup.ContextFactory.new_context)
    speech: SpeechService | None = None  # None or unavailable: DTMF-only mode
    clock: Clock = field(default_factory=LoopClock)
    dependency_timeout: float = 15.0  # seconds the flow waits for one order write / transfer start / hang-up
    render_timeout: float = 90.0  # seconds one prompt's audio may take (slow TTS) before the flow's error path
    max_call_seconds: float = 1800.0  # then the flow's error path (agent / callback)
    observer: Callable[[Action], None] | None = None  # sees every action on the call (logs, metrics, tests);
    # not the timers' StartTimer / CancelTimer (they are bookkeeping: what fires comes back as an event)
    render_in_thread: bool = True  # prompt audio may need synthesis: keep it off the event loop


@dataclass
class CallReport:
    call_id: str
    flow_version: str = ""
    policy_version: str = ""
    end_reason: str = ""
    orders: list[OrderRef] = field(default_factory=list)
    actions: int = 0


def make_handler(deps: SessionDeps) -> CallHandler:
    async def handle(call: Call) -> None:
        await run_call(call, deps)

    return handle


async def run_call(call: Call, deps: SessionDeps) -> None:
    """Run one call to its end (hang-up, REFER away, or bridged agent call finished)."""
    await run_call_report(call, deps)


async def run_call_report(call: Call, deps: SessionDeps) -> CallReport:
    session = _Session(call, deps)
    try:
        await session.run()
    except Exception:  # last resort: the flow could not even start; never crash the engine
        log.exception("call %s: session failed", call.call_id)
        await session.emergency_exit()
    finally:
        session.close()
    return session.report


class _Session:
    def __init__(self, call: Call, deps: SessionDeps) -> None:
        self.call, self.deps, self.clock = call, deps, deps.clock
        self.queue: asyncio.Queue[tuple[int | None, Event]] = asyncio.Queue()
        self.report = CallReport(call.call_id)
        self.tasks: set[asyncio.Task[None]] = set()
        self.timers: dict[str, asyncio.Task[None]] = {}
        self.events = CallEvents(call, self._put)
        self.speech: Recognizer | None = None
        self.playout = Playout(call, deps.prompts, deps.clock, self._put, self._spawn, self.events.hung_up,
                               in_thread=deps.render_in_thread, slow_after=self._render_warning(),
                               playing=self._prompt_playing)
        self.last_order: OrderRef | None = None
        self.writes = OrderWrites(call.call_id, self._guard, deps.dependency_timeout, self._landed)
        self.pumping = False

    def _render_warning(self) -> float:
        return min(self.deps.dependency_timeout, self.deps.render_timeout)

    # ---- main loop ------------------------------------------------------------------------------------
    async def run(self) -> None:
        deps = self.deps
        ctx = replace(deps.contexts(), limits=Limits(deps.max_call_seconds, deps.render_timeout,
                                                     self._render_warning()))
        self.report.flow_version, self.report.policy_version = ctx.flow.version, ctx.policy_version
        if deps.speech is not None and deps.speech.status.available:
            try:
                self.speech = Recognizer(deps.speech.open_listener(), self.call.call_id, self.clock, self._put)
                self.call.set_audio_sink(self.speech.feed)
                self._spawn(self.speech.pump())
            except Exception as exc:
                log.error("call %s: speech unavailable, keypad only: %s", self.call.call_id, exc)
                self.speech = None
        self._pump()
        state, actions = step(new_call(ctx), Started(self.call.call_id, self.call.caller, self.speech is not None))
        await self._execute(actions)
        while not state.finished:
            gen, event = await self.queue.get()
            if gen is not None and (self.speech is None or gen != self.speech.gen):
                continue  # the recognizer's answer to an earlier question
            state, actions = step(state, event)
            await self._execute(actions)
        self.report.end_reason = state.end_reason
        if "bridged" in state.end_reason:  # the agent and the caller talk until one hangs up
            await self._bridged_call()

    def _pump(self) -> None:
        if not self.pumping:
            self.pumping = True
            self._spawn(self.events.pump())

    async def _bridged_call(self) -> None:
        """The hand-off supervises the bridged call (retry / callback offer): the caller's events stay its own."""
        try:
            await self.deps.handoff.wait_done(self.call.call_id)
        finally:
            self.events.detach()

    async def emergency_exit(self) -> None:
        """No flow could run (e.g. no valid flow file): apologise, hand the caller to an agent, else hang up."""
        if self.call.ended:
            return
        self._end_listening()
        with contextlib.suppress(Exception):
            self.call.play(self.deps.prompts.audio("error.system"), interruptible=False)
        self._pump()
        try:
            draft = OrderDraft(call_id=self.call.call_id, caller_number=self.call.caller,
                               content="系统故障，来电直接转人工", callback_requested=True)
            order = await self.writes.write("order", lambda: self.deps.handoff.create_order(draft))
            outcome = await self._warm_transfer(order, draft)
            self.report.end_reason = f"system error, agent {outcome.status}"
            if outcome.status == "bridged":
                await self._bridged_call()
                return
        except Exception as exc:
            log.error("call %s: no agent after a system error: %r", self.call.call_id, exc)
        with contextlib.suppress(Exception):
            if not self.call.ended:
                await self.call.hangup("error")

    def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        self.events.detach()
        if self.speech is not None:
            with contextlib.suppress(Exception):
                self.call.set_audio_sink(None)
            self.speech.close()

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _put(self, event: Event, gen: int | None = None) -> None:
        self.queue.put_nowait((gen, event))

    async def _guard(self, awaitable: Awaitable[T]) -> T:
        """The result of ``awaitable``, or TimeoutError (the awaitable cancelled) after ``dependency_timeout`` on the
        session's clock (virtual in tests, so a slow fake dependency times out without real waiting)."""
        limit = self.deps.dependency_timeout
        task = asyncio.ensure_future(awaitable)
        timer = asyncio.ensure_future(self.clock.sleep(limit))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not task.done():
                task.cancel()
        if not task.done() or task.cancelled():
            raise TimeoutError(f"no answer within {limit:g} s")
        return task.result()

    # ---- actions --------------------------------------------------------------------------------------
    async def _execute(self, actions: list[Action]) -> None:
        for action in actions:
            self.report.actions += 1
            try:
                await self._do(action)
            except Exception as exc:
                log.warning("call %s: %s failed: %r", self.call.call_id, type(action).__name__, exc)
                self._put(Failed(f"{type(action).__name__}: {exc!r}"))
            if self.deps.observer is not None and not isinstance(action, StartTimer | CancelTimer):
                with contextlib.suppress(Exception):
                    self.deps.observer(action)

    async def _do(self, action: Action) -> None:
        if isinstance(action, Play):
            self.playout.play(action)
        elif isinstance(action, Listen):
            if self.speech is not None:
                self.speech.listen(action, self.playout.remaining())
        elif isinstance(action, StartTimer):
            self._cancel_timer(action.name)
            self.timers[action.name] = self._spawn(self._timer(action))
        elif isinstance(action, CancelTimer):
            self._cancel_timer(action.name)
        elif isinstance(action, StopPlayback):
            self.playout.stop()
        elif isinstance(action, DropPending):
            self.playout.drop()
        elif isinstance(action, StopListening):
            self._end_listening()
        elif isinstance(action, Warn):
            log.warning("call %s: %s", self.call.call_id, action.message)
        elif isinstance(action, CreateOrder | RecordUnreasonable):
            await self._order(action)
        elif isinstance(action, Transfer):
            await self._transfer(action)
        elif isinstance(action, HangupCall):
            self._end_listening()
            if not self.call.ended:
                await self._guard(self.call.hangup(action.reason))

    async def _timer(self, action: StartTimer) -> None:
        await self.clock.sleep(action.seconds)
        self.timers.pop(action.name, None)
        self._put(TimerFired(action.name, action.token))

    def _cancel_timer(self, name: str) -> None:
        task = self.timers.pop(name, None)
        if task is not None:
            task.cancel()

    def _prompt_playing(self, playing: bool) -> None:
        if self.speech is not None:
            self.speech.prompt_playing(playing)

    def _end_listening(self) -> None:
        if self.speech is not None:
            self.speech.cancel()

    def _with_texts(self, draft: OrderDraft) -> OrderDraft:
        """The transcript's prompt ids as the texts the caller heard."""
        lines: list[tuple[str, str]] = []
        for speaker, text in draft.transcript:
            if speaker == "ivr":
                with contextlib.suppress(Exception):
                    text = self.deps.prompts.text(text, self.playout.slots_used.get(text))
            lines.append((speaker, text))
        return replace(draft, transcript=lines)

    async def _order(self, action: CreateOrder | RecordUnreasonable) -> None:
        self._end_listening()
        draft = self._with_texts(action.draft)
        if isinstance(action, RecordUnreasonable):
            ref = await self.writes.write("unreasonable", lambda: self.deps.handoff.record_unreasonable(draft))
        else:
            ref = await self.writes.write("order", lambda: self.deps.handoff.create_order(draft))
        self._put(OrderCreated(ref.order_no, ref.journaled))

    def _landed(self, ref: OrderRef, late: bool) -> None:
        """An order write finished: waited for by an order step, or ``late`` (its guard had given up)."""
        self.last_order = ref
        if ref not in self.report.orders:
            self.report.orders.append(ref)
            log.info("call %s: order %s%s", self.call.call_id, ref.order_no, " (journaled)" if ref.journaled else "")
        if late:
            self._put(OrderCreated(ref.order_no, ref.journaled, late=True))

    async def _transfer(self, action: Transfer) -> None:
        self._end_listening()
        if action.kind != "agent":
            result = await self._guard(self.call.transfer(action.target))
            self._put(TransferDone("transferred" if result.accepted or result.succeeded else "failed"))
            return
        draft = self._with_texts(action.draft) if action.draft is not None else OrderDraft(
            call_id=self.call.call_id, caller_number=self.call.caller)
        order = self.last_order
        if order is None:  # an agent always gets an order (the one still being written, if any)
            order = await self.writes.write("order", lambda: self.deps.handoff.create_order(draft))
        outcome = await self._warm_transfer(order, draft)
        if outcome.status == "caller_hung_up":
            self.events.hung_up.set()
        self._put(TransferDone(outcome.status))
        hangup = self.events.unheard_hangup() if outcome.status != "bridged" else None
        if hangup is not None:
            self._put(hangup)

    async def _warm_transfer(self, order: OrderRef, draft: OrderDraft) -> TransferOutcome:
        """The hand-off has the caller's events until it returns, and once bridged until the call is over."""
        self.events.attach()
        outcome: TransferOutcome | None = None
        try:
            outcome = await self.deps.handoff.warm_transfer(self.call, order, draft)
        finally:
            if outcome is None or outcome.status != "bridged":
                self.events.detach()
        return outcome
