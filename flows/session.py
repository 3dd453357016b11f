"""Run the pure flow runner on a real call: prompts, speech, keys, orders and transfers.

``run_call(call, deps)`` is the application for one answered call (an ``ivr.app.CallHandler`` via
:func:`make_handler`).  Every dependency failure becomes a ``Failed`` event (the flow's error path: error.system
prompt, then agent or callback) — never an exception out of the call.  Time comes from ``deps.clock``, guards
included.

Two dependencies outlive their guard instead of racing it:

- prompt audio: a slow synthesis is waited for (a warning after ``dependency_timeout``, a failure only after
  ``render_timeout``; the TTS kills a stuck worker itself), so a slow TTS delays a prompt but never turns it into a
  system-error apology;
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
from bridge.api import Handoff, OrderDraft, OrderRef
from flows.clock import Clock, LoopClock
from flows.events import (
    Action,
    CreateOrder,
    Digits,
    Event,
    Failed,
    Hangup,
    HangupCall,
    Listen,
    NoInput,
    NoMatch,
    OrderCreated,
    Play,
    PromptDone,
    Recognized,
    RecordUnreasonable,
    Started,
    StopPlayback,
    Transfer,
    TransferDone,
)
from flows.keypad import DigitCollector
from flows.order_writes import OrderWrites
from flows.runner import Context, State, new_call, step
from ivr.app import FRAME_MS, SAMPLE_RATE, Call, CallHandler, DigitEvent, HangupEvent
from prompts.api import PromptSource

log = logging.getLogger(__name__)
T = TypeVar("T")
FRAME_SECONDS = FRAME_MS / 1000
MAX_TYPEAHEAD = 16


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
    observer: Callable[[Action], None] | None = None  # sees every executed action (logs, metrics, tests)
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


class _Session:
    def __init__(self, call: Call, deps: SessionDeps) -> None:
        self.call = call
        self.deps = deps
        self.clock = deps.clock
        self.queue: asyncio.Queue[tuple[int | None, Event]] = asyncio.Queue()
        self.report = CallReport(call.call_id)
        self.listener: speech_api.Listener | None = None
        self.gen = 0  # listen generation: input events of an earlier question are dropped
        self.listening: Listen | None = None
        self.keys = DigitCollector()
        self.key_timer: asyncio.Task[None] | None = None
        self.input_timer: asyncio.Task[None] | None = None
        self.playing_until = 0.0
        self.last_order: OrderRef | None = None
        self.writes = OrderWrites(call.call_id, self._guard, deps.dependency_timeout, self._landed)
        self.tasks: set[asyncio.Task[None]] = set()
        self.call_pump: asyncio.Task[None] | None = None
        self.hung_up = asyncio.Event()
        self.state: State | None = None
        self.typeahead: list[str] = []
        self.slots_used: dict[str, dict[str, str]] = {}  # prompt id -> slots it was last played with

    # ---- main loop ------------------------------------------------------------------------------------
    async def run(self) -> None:
        ctx = self.deps.contexts()
        self.report.flow_version = ctx.flow.version
        speech = self.deps.speech is not None and self.deps.speech.status.available
        if speech and self.deps.speech is not None:
            try:
                self.listener = self.deps.speech.open_listener()
                self.call.set_audio_sink(self._on_audio)
                self._spawn(self._speech_pump())
            except Exception as exc:
                log.error("call %s: speech unavailable, keypad only: %s", self.call.call_id, exc)
                self.listener, speech = None, False
        self.call_pump = self._spawn(self._call_pump())
        self._spawn(self._watchdog())
        state, actions = step(new_call(ctx), Started(self.call.call_id, self.call.caller, speech))
        self.state = state
        await self._execute(actions)
        while not state.finished:
            gen, event = await self.queue.get()
            if gen is not None and gen != self.gen:
                continue  # an answer to an earlier question
            state, actions = step(state, event)
            self.state = state
            await self._execute(actions)
        self.report.end_reason = state.end_reason
        if "bridged" in state.end_reason:  # the agent and the caller talk until one hangs up
            await self.deps.handoff.wait_done(self.call.call_id)

    async def emergency_exit(self) -> None:
        """No flow could run (e.g. no valid flow file): apologise, hand the caller to an agent, else hang up."""
        if self.call.ended:
            return
        self._end_listening()
        with contextlib.suppress(Exception):
            self.call.play(self.deps.prompts.audio("error.system"), interruptible=False)
        try:
            if self.call_pump is not None:
                self.call_pump.cancel()
            draft = OrderDraft(call_id=self.call.call_id, caller_number=self.call.caller,
                               content="系统故障，来电直接转人工", callback_requested=True)
            order = await self.writes.write("order", lambda: self.deps.handoff.create_order(draft))
            outcome = await self.deps.handoff.warm_transfer(self.call, order, draft)
            self.report.end_reason = f"system error, agent {outcome.status}"
            if outcome.status == "bridged":
                await self.deps.handoff.wait_done(self.call.call_id)
                return
        except Exception as exc:
            log.error("call %s: no agent after a system error: %r", self.call.call_id, exc)
        with contextlib.suppress(Exception):
            if not self.call.ended:
                await self.call.hangup("error")

    def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
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
        while True:
            try:
                event = await self.call.next_event()
            except Exception as exc:
                log.warning("call %s: call events failed: %s", self.call.call_id, exc)
                event = HangupEvent(reason=f"engine error: {exc}", by_remote=False)
            if isinstance(event, HangupEvent):
                self.hung_up.set()
                self._put(Hangup(event.reason))
                return
            if isinstance(event, DigitEvent):
                self._on_digit(event.digit)

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
            if self.listening is None or self.keys.active:
                continue
            if isinstance(event, speech_api.BargeIn):
                if self.listening.spec.barge_in:
                    self._stop_playback()
            elif isinstance(event, speech_api.Recognized):
                r = event.result
                self._put(Recognized(r.text, r.normalized, r.confidence, r.low_confidence), self.gen)
            elif isinstance(event, speech_api.NoInput):
                self._put(NoInput(), self.gen)
            elif isinstance(event, speech_api.NoMatch):
                self._put(NoMatch(event.text), self.gen)

    def _on_digit(self, digit: str) -> None:
        if self.listening is None:
            if len(self.typeahead) < MAX_TYPEAHEAD:  # keys pressed before the question: kept for it
                self.typeahead.append(digit)
            return
        if self.listening.keypad is None:
            return
        first = not self.keys.active
        done = self.keys.press(digit)
        if first:
            self._stop_playback()  # a key always interrupts the question being asked
            self._cancel_timer("input_timer")
            if self.listener is not None:
                with contextlib.suppress(Exception):
                    self.listener.cancel()
        self._cancel_timer("key_timer")
        if done is not None:
            self._put(Digits(done.digits, done.terminated), self.gen)
        else:
            self.key_timer = self._spawn(self._key_timeout(self.gen, self.keys.inter_digit_timeout))

    async def _key_timeout(self, gen: int, seconds: float) -> None:
        await self.clock.sleep(seconds)
        done = self.keys.timeout()
        if gen == self.gen and done is not None:
            self._put(Digits(done.digits, done.terminated), gen)

    async def _no_input_timeout(self, gen: int, seconds: float) -> None:
        await self.clock.sleep(seconds)
        if gen == self.gen and not self.keys.active:
            self._put(NoInput(), gen)

    async def _arm_later(self, gen: int, action: Listen, delay: float) -> None:
        await self.clock.sleep(delay)
        if gen == self.gen and self.listener is not None and not self.keys.active:
            self.listener.listen(action.spec, self.clock.now())

    async def _watchdog(self) -> None:
        await self.clock.sleep(self.deps.max_call_seconds)
        self._put(Failed("call too long"))

    def _cancel_timer(self, name: str) -> None:
        task = getattr(self, name)
        if task is not None:
            task.cancel()
            setattr(self, name, None)

    def _stop_playback(self) -> None:
        with contextlib.suppress(Exception):
            self.call.stop_playback()
        self.playing_until = self.clock.now()
        self._prompt_playing(False)

    def _prompt_playing(self, playing: bool) -> None:
        """Tell a prompt-aware listener whether a prompt plays: backchannels (嗯/对) over a prompt are dropped and
        the no-input timer starts when the prompt ends."""
        if isinstance(self.listener, speech_api.PromptAwareListener):
            with contextlib.suppress(Exception):
                self.listener.set_prompt(playing, self.clock.now())

    # ---- actions --------------------------------------------------------------------------------------
    async def _execute(self, actions: list[Action]) -> None:
        for action in actions:
            self.report.actions += 1
            try:
                await self._do(action)
            except Exception as exc:
                log.warning("call %s: %s failed: %r", self.call.call_id, type(action).__name__, exc)
                self._put(Failed(f"{type(action).__name__}: {exc!r}"))
            if self.deps.observer is not None:
                with contextlib.suppress(Exception):
                    self.deps.observer(action)

    async def _do(self, action: Action) -> None:
        if isinstance(action, Play):
            await self._play(action)
        elif isinstance(action, Listen):
            self._listen(action)
        elif isinstance(action, StopPlayback):
            self._stop_playback()
        elif isinstance(action, CreateOrder | RecordUnreasonable):
            await self._order(action)
        elif isinstance(action, Transfer):
            await self._transfer(action)
        elif isinstance(action, HangupCall):
            self._end_listening()
            if not self.call.ended:
                await self._guard(self.call.hangup(action.reason))

    async def _play(self, action: Play) -> None:
        if self.call.ended:
            return
        self.slots_used[action.prompt_id] = dict(action.slots)
        audio = await self._render(action)
        if audio is None or self.call.ended:
            return
        log.debug("call %s: play %s %s", self.call.call_id, action.prompt_id, dict(action.slots) or "")
        playback = self.call.play(audio, interruptible=action.barge_in)
        seconds = len(audio) / (2 * SAMPLE_RATE)
        self.playing_until = max(self.playing_until, self.clock.now()) + seconds
        self._prompt_playing(True)

        async def finished() -> None:
            completed = await playback.done
            if self.clock.now() >= self.playing_until - FRAME_SECONDS:  # nothing else queued behind it
                self._prompt_playing(False)
            self._put(PromptDone(action.play_id, bool(completed)))

        self._spawn(finished())

    async def _render(self, action: Play) -> bytes | None:
        """The prompt's audio; None if the caller hung up while it was being synthesized.

        Synthesis runs in a thread that cannot be cancelled and fills the cache anyway, so a slow one is waited
        for: giving up early would only replace the prompt by an apology for a failure that did not happen.
        """
        if not self.deps.render_in_thread:
            return self.deps.prompts.audio(action.prompt_id, action.slots)
        render = asyncio.ensure_future(asyncio.to_thread(self.deps.prompts.audio, action.prompt_id, action.slots))
        hung_up = asyncio.ensure_future(self.hung_up.wait())
        started = self.clock.now()
        warn_after = min(self.deps.dependency_timeout, self.deps.render_timeout)
        try:
            for n, limit in enumerate((warn_after, self.deps.render_timeout - warn_after)):
                timer = asyncio.ensure_future(self.clock.sleep(limit))
                try:
                    await asyncio.wait({render, hung_up, timer}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    timer.cancel()
                if render.done():
                    if n and render.exception() is None:
                        log.warning("call %s: prompt %s rendered after %.1f s", self.call.call_id, action.prompt_id,
                                    self.clock.now() - started)
                    return render.result()
                if hung_up.done():
                    return None
                if not n:
                    log.warning("call %s: prompt %s still rendering after %.0f s (slow TTS); waiting for it",
                                self.call.call_id, action.prompt_id, warn_after)
            raise TimeoutError(f"prompt {action.prompt_id} not rendered within {self.deps.render_timeout:g} s")
        finally:
            hung_up.cancel()

    def _listen(self, action: Listen) -> None:
        self._end_listening()
        self.gen += 1
        self.listening = action
        self.keys.arm(action.keypad)
        remaining = max(0.0, self.playing_until - self.clock.now())
        if action.speech and self.listener is not None:
            if action.spec.barge_in or remaining == 0:
                spec = replace(action.spec, no_input_timeout=action.spec.no_input_timeout + remaining)
                self.listener.listen(spec, self.clock.now())
            else:  # the prompt may not be interrupted: listen once it has been played
                self.input_timer = self._spawn(self._arm_later(self.gen, action, remaining))
        else:
            timeout = action.keypad.first_digit_timeout if action.keypad else action.spec.no_input_timeout
            self.input_timer = self._spawn(self._no_input_timeout(self.gen, timeout + remaining))
        typed, self.typeahead = self.typeahead, []
        for digit in typed:
            self._on_digit(digit)

    def _end_listening(self) -> None:
        self.listening = None
        self.keys.arm(None)
        self._cancel_timer("key_timer")
        self._cancel_timer("input_timer")
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
        # the hand-off reads the call's events while it runs: pause our reader
        if self.call_pump is not None:
            self.call_pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.call_pump
        outcome = None
        try:
            outcome = await self.deps.handoff.warm_transfer(self.call, order, draft)
        finally:
            # once bridged, the hand-off watches both legs (agent hangs up first -> retry / callback offer to the
            # caller): our reader would swallow the caller's keys, so it stays off
            bridged = outcome is not None and outcome.status == "bridged"
            if not self.hung_up.is_set() and not bridged:
                self.call_pump = self._spawn(self._call_pump())
        if outcome.status == "caller_hung_up":
            self.hung_up.set()
        self._put(TransferDone(outcome.status))

