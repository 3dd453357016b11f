"""Per-call speech input: VAD → endpointer → pooled recognizer in a bounded thread pool → events.

``feed`` runs the VAD (webrtcvad ~1 µs, Silero ~1 ms a frame) and the pure endpointer on the caller's thread and
only queues audio; decoding happens in the service's ``ThreadPoolExecutor``, one job in flight per listener.
Silence is not decoded: audio goes to a recognizer only from speech onset (with a short pre-roll) to the end of
the utterance, and at most ``TAIL_KEEP`` seconds of each pause are kept.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from asr import endpointer as ep
from asr.api import (
    BargeIn,
    ListenSpec,
    NoInput,
    NoMatch,
    Recognition,
    Recognized,
    SpeechEvent,
    SpeechStarted,
)
from asr.confidence import to_recognition
from asr.executor import FINAL, STREAMING, DecodeExecutor
from asr.grammar import CompiledGrammar, phrases_for
from asr.pool import RecognizerPool
from asr.recognizer import RawResult, Recognizer
from asr.vad import FRAME_BYTES, Vad

log = logging.getLogger(__name__)
FRAME = 0.02
BATCH_FRAMES = 10  # hand audio to the decoder every 200 ms of speech
TAIL_KEEP = 0.3  # seconds of a pause that are still decoded


@dataclass
class Decoding:
    """What a listener shares with the service."""

    free_pool: RecognizerPool
    grammar_pool: RecognizerPool
    executor: DecodeExecutor
    compile: Callable[[tuple[str, ...]], CompiledGrammar]
    make_vad: Callable[[], Vad]
    low_confidence: float = 0.6
    onset: float = 0.06
    pre_roll: float = 0.3
    hotwords: tuple[str, ...] = ()


@dataclass
class _Utterance:
    spec: ListenSpec
    grammar: CompiledGrammar | None
    start: float
    pending: list[bytes] = field(default_factory=list)
    rec: Recognizer | None = None
    grammar_set: bool = False
    in_flight: bool = False
    ended: bool = False
    cancelled: bool = False
    end: float = 0.0
    done: bool = False
    waiter: Callable[[Recognizer], None] | None = None


class VoskListener:
    """Implements :class:`asr.api.PromptAwareListener`."""

    def __init__(self, dec: Decoding) -> None:
        self._dec = dec
        self._vad = dec.make_vad()
        self._state = ep.State()
        self._spec = ListenSpec()
        self._ring: deque[bytes] = deque(maxlen=max(1, round(dec.pre_roll / FRAME)))
        self._utt: _Utterance | None = None
        self._lock = threading.Lock()
        self._events: deque[SpeechEvent] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._rest = b""
        self._closed = False
        self._idle = threading.Condition(self._lock)
        self._live = 0  # utterances whose recognizer is not back in the pool yet

    # --- Listener API -------------------------------------------------------------------------------------------
    def listen(self, spec: ListenSpec, now: float) -> None:
        self._abandon()
        self._spec = spec
        params = ep.Params(
            no_input_timeout=spec.no_input_timeout,
            end_silence=spec.end_silence,
            max_utterance=spec.max_utterance,
            barge_in=spec.barge_in,
            min_barge_in_speech=spec.min_barge_in_speech,
            onset=self._dec.onset,
        )
        self._apply(ep.Arm(params, now))

    def cancel(self) -> None:
        self._abandon()
        self._state, _ = ep.step(self._state, ep.Cancel(0.0))

    def set_prompt(self, playing: bool, now: float) -> None:
        self._apply(ep.Prompt(playing, now))

    def tick(self, now: float) -> None:
        self._apply(ep.Tick(now))

    def feed(self, frame: bytes, now: float) -> None:
        if self._closed:
            return
        data = self._rest + frame
        offset = 0.0
        while len(data) >= FRAME_BYTES:
            chunk, data = data[:FRAME_BYTES], data[FRAME_BYTES:]
            self._frame(chunk, now + offset)
            offset += FRAME
        self._rest = data

    async def next_event(self) -> SpeechEvent:
        loop = asyncio.get_running_loop()
        self._loop = loop
        while True:
            with self._lock:
                if self._events:
                    return self._events.popleft()
                fut: asyncio.Future[None] = loop.create_future()
                self._waiter = fut
            await fut

    def close(self) -> None:
        self._abandon()
        self._closed = True

    # --- extras for tools and tests -----------------------------------------------------------------------------
    def pending_events(self) -> list[SpeechEvent]:
        """Take the events queued so far without awaiting (synchronous drivers)."""
        with self._lock:
            out = list(self._events)
            self._events.clear()
        return out

    def wait_decoded(self, timeout: float = 30.0) -> bool:
        """Block until no decoding job of this listener is queued or running (tools and tests, not the loop)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._live == 0, timeout)

    # --- internals ----------------------------------------------------------------------------------------------
    def _frame(self, chunk: bytes, now: float) -> None:
        phase_before = self._state.phase
        if phase_before in ("idle", "done"):  # nobody is listening: keep the pre-roll, spend no VAD time
            self._ring.append(chunk)
            return
        voiced = self._vad.speech(chunk)
        utt = self._utt
        if phase_before == "speech" and utt is not None and not utt.ended:
            if voiced or now - self._state.last_voiced < TAIL_KEEP:
                with self._lock:
                    utt.pending.append(chunk)
        self._ring.append(chunk)
        self._apply(ep.Frame(voiced, now))
        utt = self._utt
        if utt is not None and not utt.ended and len(utt.pending) >= BATCH_FRAMES:
            self._pump(utt)

    def _apply(self, event: ep.Event) -> None:
        self._state, actions = ep.step(self._state, event)
        for action in actions:
            if isinstance(action, ep.StartSpeech):
                self._post(SpeechStarted(round(action.at, 3)))
                self._start(action.at)
            elif isinstance(action, ep.BargeIn):
                self._post(BargeIn(round(action.at, 3)))
            elif isinstance(action, ep.EndSpeech):
                self._end(action)
            elif isinstance(action, ep.Discard):
                self._abandon()
            elif isinstance(action, ep.NoInput):
                self._post(NoInput(round(action.at, 3)))

    def _start(self, at: float) -> None:
        spec = self._spec
        phrases = phrases_for(spec)
        grammar = self._dec.compile(phrases) if phrases is not None else None
        if grammar is not None and not grammar.phrases:  # nothing usable (and an empty grammar crashes Vosk)
            log.warning("no grammar phrase of %s is in the model; listening free-form", phrases)
            grammar = None
        utt = _Utterance(spec=spec, grammar=grammar, start=at, pending=list(self._ring))
        utt.waiter = lambda rec: self._got(utt, rec)
        with self._lock:
            self._utt = utt
            self._live += 1
        self._pool(utt).acquire(utt.waiter)

    def _pool(self, utt: _Utterance) -> RecognizerPool:
        return self._dec.grammar_pool if utt.grammar is not None else self._dec.free_pool

    def _got(self, utt: _Utterance, rec: Recognizer) -> None:
        with self._lock:
            utt.rec = rec
        self._pump(utt)

    def _end(self, action: ep.EndSpeech) -> None:
        utt = self._utt
        if utt is None:
            return
        with self._lock:
            utt.ended = True
            utt.end = action.end
        self._pump(utt)

    def _abandon(self) -> None:
        with self._lock:
            utt, self._utt = self._utt, None
        if utt is None:
            return
        with self._lock:
            utt.cancelled = True
        if utt.waiter is not None and self._pool(utt).cancel_wait(utt.waiter):
            with self._lock:  # never got a recognizer, never will
                utt.done = True
                self._live -= 1
                self._idle.notify_all()
            return
        self._pump(utt)

    def _pump(self, utt: _Utterance) -> None:
        with self._lock:
            if utt.rec is None or utt.in_flight or utt.done:
                return
            if utt.cancelled:
                rec, utt.rec, utt.done = utt.rec, None, True
            elif utt.pending or utt.ended:
                chunk = b"".join(utt.pending)
                utt.pending.clear()
                utt.in_flight = True
                self._dec.executor.submit(self._work, utt, chunk, utt.ended, priority=FINAL if utt.ended else STREAMING)
                return
            else:
                return
        try:  # Reset() happens in the pool's release: keep it off the event loop
            self._dec.executor.submit(self._release, utt, rec, priority=FINAL)
        except RuntimeError:  # executor shut down (service closing)
            self._release(utt, rec)

    def _release(self, utt: _Utterance, rec: Recognizer) -> None:
        try:
            self._pool(utt).release(rec)
        finally:
            with self._lock:
                self._live -= 1
                self._idle.notify_all()

    def _work(self, utt: _Utterance, chunk: bytes, final: bool) -> None:
        rec = utt.rec
        assert rec is not None
        raw: RawResult | None = None
        try:
            if utt.grammar is not None and not utt.grammar_set:
                rec.set_grammar(utt.grammar.phrases)
                utt.grammar_set = True
            if chunk:
                rec.accept(chunk)
            if final and not utt.cancelled:
                raw = rec.final()
        except Exception:  # a decoder failure must not kill the call: report NoMatch
            log.exception("speech decoding failed")
            final, raw = True, RawResult("")
        with self._lock:
            utt.in_flight = False
        if final and not utt.cancelled and raw is not None:
            self._deliver(utt, raw)
            with self._lock:
                utt.cancelled = True  # releases the recognizer in _pump
                if self._utt is utt:
                    self._utt = None
        self._pump(utt)

    def _deliver(self, utt: _Utterance, raw: RawResult) -> None:
        result: Recognition | None = to_recognition(
            raw,
            utt.spec,
            grammar=utt.grammar is not None,
            threshold=self._dec.low_confidence,
            hotwords=self._dec.hotwords,
        )
        if result is None:
            self._post(NoMatch(round(utt.end, 3), raw.text))
        else:
            self._post(Recognized(result, round(utt.start, 3), round(utt.end, 3)))

    def _post(self, event: SpeechEvent) -> None:
        with self._lock:
            self._events.append(event)
            loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._wake)
            except RuntimeError:
                pass

    def _wake(self) -> None:
        with self._lock:
            fut, self._waiter = self._waiter, None
        if fut is not None and not fut.done():
            fut.set_result(None)
