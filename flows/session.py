"""Run the pure flow runner on a real call: prompts, speech, keys, orders and transfers.

``run_call(call, deps)`` is the application for one answered call (an ``ivr.app.CallHandler`` via
:func:`make_handler`).  The session is an executor: it feeds the runner's ``step`` events and executes the actions
it returns.  The runner owns the timers (no-input, inter-digit, watchdog, render deadline: ``StartTimer`` →
``TimerFired``); the session starts them on ``deps.clock``.  Every dependency failure becomes a ``Failed`` event (the
flow's error path: error.system prompt, then agent or callback) — never an exception out of the call.

One reader owns the call's events (``_call_pump``): keys and the hang-up go to the runner, and while the hand-off
runs a warm transfer (until the bridged call is over) to the hand-off instead, through a relay that serves the
call's ``next_event`` (the hand-off reads ``call.next_event()``; ``engine.bridge`` needs the engine's own call
object, so the relay is attached to it rather than wrapping it).

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

from asr import api as speech_api
from asr.api import SpeechService
from bridge.api import Handoff, OrderDraft, OrderRef, TransferOutcome
from flows.clock import Clock, LoopClock
from flows.events import (
    Action,
    BargeIn,
    CancelTimer,
    CreateOrder,
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
from flows.order_writes import OrderWrites
from flows.runner import Context, Limits, new_call, step
from ivr.app import FRAME_MS, SAMPLE_RATE, Call, CallEvent, CallHandler, DigitEvent, HangupEvent
from prompts.api import PromptSource

log = logging.getLogger(__name__)
T = TypeVar("T")
FRAME_SECONDS = FRAME_MS / 1000


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


class _Relay:
    """The hand-off's share of the call's events (``next_event`` as ``ivr.app.Call`` promises it)."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self.hangup: HangupEvent | None = None

    def put(self, event: CallEvent) -> None:
        self.events.put_nowait(event)

    async def next_event(self) -> CallEvent:
        if self.hangup is not None:  # after hang-up it keeps returning the HangupEvent
            return self.hangup
        event = await self.events.get()
        if isinstance(event, HangupEvent):
            self.hangup = event
        return event


class _Session:
    def __init__(self, call: Call, deps: SessionDeps) -> None:
        self.call = call
        self.deps = deps
        self.clock = deps.clock
        self.queue: asyncio.Queue[tuple[int | None, Event]] = asyncio.Queue()
        self.report = CallReport(call.call_id)
        self.listener: speech_api.Listener | None = None
        self.gen = 0  # listen generation: the recognizer's answers to an earlier question are dropped
        self.playing_until = 0.0
        self.last_order: OrderRef | None = None
        self.writes = OrderWrites(call.call_id, self._guard, deps.dependency_timeout, self._landed)
        self.tasks: set[asyncio.Task[None]] = set()
        self.timers: dict[str, asyncio.Task[None]] = {}
        self.unqueued: dict[int, tuple[asyncio.Task[None], bool]] = {}  # plays not on the call yet -> barge_in
        self.last_play: asyncio.Task[None] | None = None
        self.read_event = call.next_event  # the one reader of the call's events
        self.call_pump: asyncio.Task[None] | None = None
        self.relay: _Relay | None = None
        self.hangup: HangupEvent | None = None
        self.hung_up = asyncio.Event()
        self.slots_used: dict[str, dict[str, str]] = {}  # prompt id -> slots it was last played with

    # ---- main loop ------------------------------------------------------------------------------------
    async def run(self) -> None:
        deps = self.deps
        limits = Limits(deps.max_call_seconds, deps.render_timeout, min(deps.dependency_timeout, deps.render_timeout))
        ctx = replace(deps.contexts(), limits=limits)
        self.report.flow_version = ctx.flow.version
        speech = deps.speech is not None and deps.speech.status.available
        if speech and deps.speech is not None:
            try:
                self.listener = deps.speech.open_listener()
                self.call.set_audio_sink(self._on_audio)
                self._spawn(self._speech_pump())
            except Exception as exc:
                log.error("call %s: speech unavailable, keypad only: %s", self.call.call_id, exc)
                self.listener, speech = None, False
        self.call_pump = self._spawn(self._call_pump())
        state, actions = step(new_call(ctx), Started(self.call.call_id, self.call.caller, speech))
        await self._execute(actions)
        while not state.finished:
            gen, event = await self.queue.get()
            if gen is not None and gen != self.gen:
                continue  # an answer to an earlier question
            state, actions = step(state, event)
            await self._execute(actions)
        self.report.end_reason = state.end_reason
        if "bridged" in state.end_reason:  # the agent and the caller talk until one hangs up
            await self._bridged_call()

    async def _bridged_call(self) -> None:
        """The hand-off supervises the bridged call (retry / callback offer): the caller's events stay its own."""
        try:
            await self.deps.handoff.wait_done(self.call.call_id)
        finally:
            self._detach()

    async def emergency_exit(self) -> None:
        """No flow could run (e.g. no valid flow file): apologise, hand the caller to an agent, else hang up."""
        if self.call.ended:
            return
        self._end_listening()
        with contextlib.suppress(Exception):
            self.call.play(self.deps.prompts.audio("error.system"), interruptible=False)
        if self.call_pump is None:
            self.call_pump = self._spawn(self._call_pump())
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
        self._detach()
        with contextlib.suppress(Exception):
            self.call.set_audio_sink(None)
        if self.listener is not None:
            with contextlib.suppress(Exception):
                self.listener.close()

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

    # ---- inputs ---------------------------------------------------------------------------------------
    def _on_audio(self, frame: bytes) -> None:
        if self.listener is not None:
            try:
                self.listener.feed(frame, self.clock.now())
            except Exception as exc:
                log.warning("call %s: speech feed failed: %s", self.call.call_id, exc)

    async def _call_pump(self) -> None:
        """The one reader of the call's events: to the runner, or to the hand-off while it has the caller."""
        while True:
            try:
                event = await self.read_event()
            except Exception as exc:
                log.warning("call %s: call events failed: %s", self.call.call_id, exc)
                event = HangupEvent(reason=f"engine error: {exc}", by_remote=False)
            relayed = self.relay is not None
            if self.relay is not None:
                self.relay.put(event)
            if isinstance(event, HangupEvent):
                self.hangup = event
                self.hung_up.set()
                if not relayed:  # else the flow hears the hand-off's outcome first (_transfer)
                    self._put(Hangup(event.reason))
                return
            if isinstance(event, DigitEvent) and self.relay is None:
                self._put(Key(event.digit))

    def _attach(self) -> None:
        """From now on the hand-off reads the caller's events (``call.next_event()``) from the relay."""
        self.relay = _Relay()
        if self.hangup is not None:
            self.relay.put(self.hangup)
        setattr(self.call, "next_event", self.relay.next_event)  # noqa: B010 - an instance attribute, undone below

    def _detach(self) -> None:
        if self.relay is not None:
            self.relay = None
            with contextlib.suppress(AttributeError):
                delattr(self.call, "next_event")

    async def _speech_pump(self) -> None:
        assert self.listener is not None
        while True:
            try:
                event = await self.listener.next_event()
            except Exception as exc:
                log.warning("call %s: recognizer failed: %s", self.call.call_id, exc)
                self._put(NoMatch(), self.gen)
                await self.clock.sleep(0.5)
                continue
            if isinstance(event, speech_api.BargeIn):
                self._put(BargeIn(), self.gen)
            elif isinstance(event, speech_api.Recognized):
                r = event.result
                self._put(Recognized(r.text, r.normalized, r.confidence, r.low_confidence), self.gen)
            elif isinstance(event, speech_api.NoInput):
                self._put(NoInput(), self.gen)
            elif isinstance(event, speech_api.NoMatch):
                self._put(NoMatch(event.text), self.gen)

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
            self._play(action)
        elif isinstance(action, Listen):
            self._listen(action)
        elif isinstance(action, StartTimer):
            self._cancel_timer(action.name)
            self.timers[action.name] = self._spawn(self._timer(action))
        elif isinstance(action, CancelTimer):
            self._cancel_timer(action.name)
        elif isinstance(action, StopPlayback):
            self._drop_unqueued(interruptible_only=True)
            self._stop_playback()
        elif isinstance(action, DropPending):
            self._drop_unqueued(interruptible_only=False)
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

    def _stop_playback(self) -> None:
        self.call.stop_playback()
        self.playing_until = self.clock.now()
        self._prompt_playing(False)

    def _prompt_playing(self, playing: bool) -> None:
        """Tell a prompt-aware listener whether a prompt plays: backchannels (嗯/对) over a prompt are dropped and
        the no-input timer starts when the prompt ends."""
        if isinstance(self.listener, speech_api.PromptAwareListener):
            with contextlib.suppress(Exception):
                self.listener.set_prompt(playing, self.clock.now())

    def _play(self, action: Play) -> None:
        """Render (after the prompts before it) and queue the prompt; the runner hears Rendering, PromptStarted
        and PromptDone, or Failed and PromptDone."""
        if self.call.ended:
            return
        self.slots_used[action.prompt_id] = dict(action.slots)
        task = self._spawn(self._play_in_turn(self.last_play, action))
        self.unqueued[action.play_id] = (task, action.barge_in)
        self.last_play = task

    async def _play_in_turn(self, before: asyncio.Task[None] | None, action: Play) -> None:
        try:
            if before is not None:
                await asyncio.wait({before})  # prompts reach the caller in the order the flow asked for them
            self._put(Rendering(action.play_id))
            audio = await self._render(action)
        except asyncio.CancelledError:  # dropped (barge-in, first key, render deadline) before it was queued
            self._put(PromptDone(action.play_id, False))
            raise
        except Exception as exc:
            log.warning("call %s: Play failed: %r", self.call.call_id, exc)
            self._put(Failed(f"Play: {exc!r}"))
            self._put(PromptDone(action.play_id, False))
            return
        finally:
            self.unqueued.pop(action.play_id, None)
        if audio is None or self.call.ended:
            return
        log.debug("call %s: play %s %s", self.call.call_id, action.prompt_id, dict(action.slots) or "")
        playback = self.call.play(audio, interruptible=action.barge_in)
        self.playing_until = max(self.playing_until, self.clock.now()) + len(audio) / (2 * SAMPLE_RATE)
        self._prompt_playing(True)
        self._put(PromptStarted(action.play_id))
        self._spawn(self._played(action, playback.done))

    async def _played(self, action: Play, done: Awaitable[bool]) -> None:
        completed = await done
        if self.clock.now() >= self.playing_until - FRAME_SECONDS:  # nothing else queued behind it
            self._prompt_playing(False)
        self._put(PromptDone(action.play_id, bool(completed)))

    def _drop_unqueued(self, interruptible_only: bool) -> None:
        for task, barge_in in list(self.unqueued.values()):
            if barge_in or not interruptible_only:
                task.cancel()

    async def _render(self, action: Play) -> bytes | None:
        """The prompt's audio; None if the caller hung up while it was being synthesized.

        Synthesis runs in a thread that cannot be cancelled and fills the cache anyway, so a slow one is waited
        for (the runner's render deadline decides when to give up on it).
        """
        if not self.deps.render_in_thread:
            return self.deps.prompts.audio(action.prompt_id, action.slots)
        render = asyncio.ensure_future(asyncio.to_thread(self.deps.prompts.audio, action.prompt_id, action.slots))
        render.add_done_callback(lambda f: f.cancelled() or f.exception())  # a given-up render's error: retrieved
        hung_up = asyncio.ensure_future(self.hung_up.wait())
        started = self.clock.now()
        try:
            await asyncio.wait({render, hung_up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hung_up.cancel()
        if not render.done():
            return None
        took = self.clock.now() - started
        if took >= min(self.deps.dependency_timeout, self.deps.render_timeout) and render.exception() is None:
            log.warning("call %s: prompt %s rendered after %.1f s", self.call.call_id, action.prompt_id, took)
        return render.result()

    def _listen(self, action: Listen) -> None:
        """Arm the recognizer; its no-input timer is stretched by the prompt still queued."""
        self._end_listening()
        self.gen += 1
        if action.speech and self.listener is not None:
            remaining = max(0.0, self.playing_until - self.clock.now())
            spec = replace(action.spec, no_input_timeout=action.spec.no_input_timeout + remaining)
            self.listener.listen(spec, self.clock.now())

    def _end_listening(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(Exception):
                self.listener.cancel()

    def _with_texts(self, draft: OrderDraft) -> OrderDraft:
        """The transcript's prompt ids as the texts the caller heard."""
        lines: list[tuple[str, str]] = []
        for speaker, text in draft.transcript:
            if speaker == "ivr":
                with contextlib.suppress(Exception):
                    text = self.deps.prompts.text(text, self.slots_used.get(text))
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
        self._record(ref)
        if late:
            self._put(OrderCreated(ref.order_no, ref.journaled, late=True))

    def _record(self, ref: OrderRef) -> None:
        self.last_order = ref
        if ref not in self.report.orders:
            self.report.orders.append(ref)
            log.info("call %s: order %s%s", self.call.call_id, ref.order_no, " (journaled)" if ref.journaled else "")

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
        unheard = self.hangup is None  # a hang-up during the hand-off went to it
        outcome = await self._warm_transfer(order, draft)
        if outcome.status == "caller_hung_up":
            self.hung_up.set()
        self._put(TransferDone(outcome.status))
        if unheard and self.hangup is not None and outcome.status != "bridged":
            self._put(Hangup(self.hangup.reason))

    async def _warm_transfer(self, order: OrderRef, draft: OrderDraft) -> TransferOutcome:
        """The hand-off has the caller's events until it returns, and once bridged until the call is over."""
        self._attach()
        outcome: TransferOutcome | None = None
        try:
            outcome = await self.deps.handoff.warm_transfer(self.call, order, draft)
        finally:
            if outcome is None or outcome.status != "bridged":
                self._detach()
        return outcome
