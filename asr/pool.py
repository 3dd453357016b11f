"""A bounded pool of warm recognizers, reused without rebuilding their graph cache.

Free-form and grammar recognizers live in separate pools: a free-form recognizer's first pass builds a graph cache
(+60–130 MB, ~1 s for 1 s of audio, then ~0.07 s), and ``SetGrammar`` would throw it away.  Grammar recognizers get
a new grammar per use (``SetGrammar`` measured < 1 ms, its next pass as fast as before).

``acquire(callback)`` never blocks: the callback gets a recognizer now, or later from :meth:`release` when one
comes back (first come, first served).  At most ``size`` recognizers are ever built.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence

from asr.recognizer import ModelHandle, RawResult, Recognizer

Waiter = Callable[[Recognizer], None]


class RecognizerPool:
    def __init__(self, model: ModelHandle, size: int, *, grammar: bool) -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self._model = model
        self.size = size
        self.grammar = grammar
        self._idle: deque[Recognizer] = deque()
        self._waiters: deque[Waiter] = deque()
        self._lock = threading.Lock()
        self.built = 0  # recognizers constructed by this pool
        self.reuses = 0

    def _build(self) -> Recognizer:
        if self.grammar:  # an empty grammar crashes Vosk: start from the unknown token, set the real one per use
            return self._model.new_recognizer([self._model.unk or "[unk]"])
        return self._model.new_recognizer(None)

    def prewarm(self, count: int, audio: bytes) -> None:
        """Build ``count`` recognizers and run ``audio`` through each so their first call is fast."""
        recs: list[Recognizer] = []
        for _ in range(min(count, self.size)):
            rec = self.try_acquire()
            if rec is None:
                break
            rec.accept(audio)
            rec.final()
            recs.append(rec)
        for rec in recs:
            self.release(rec)

    def try_acquire(self) -> Recognizer | None:
        with self._lock:
            if self._idle:
                self.reuses += 1
                return self._idle.pop()  # LIFO: the most recently used recognizer has the warmest graph cache
            if self.built >= self.size:
                return None
            self.built += 1
        return self._build()

    def acquire(self, callback: Waiter) -> None:
        """Call ``callback`` with a recognizer, now or when one is released."""
        with self._lock:
            if not self._idle and self.built >= self.size:
                self._waiters.append(callback)
                return
        rec = self.try_acquire()
        if rec is None:  # lost a race: wait like everyone else
            with self._lock:
                self._waiters.append(callback)
            return
        callback(rec)

    def cancel_wait(self, callback: Waiter) -> bool:
        """Withdraw a waiting ``acquire``; False when it is not waiting (it got or is getting a recognizer)."""
        with self._lock:
            try:
                self._waiters.remove(callback)
            except ValueError:
                return False
            return True

    def release(self, rec: Recognizer) -> None:
        """Give back a recognizer (its utterance is reset first)."""
        rec.reset()
        with self._lock:
            waiter = self._waiters.popleft() if self._waiters else None
            if waiter is None:
                self._idle.append(rec)
                return
            self.reuses += 1
        waiter(rec)

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def waiting(self) -> int:
        return len(self._waiters)


def decode_once(pool: RecognizerPool, audio: bytes, grammar: Sequence[str] | None = None) -> RawResult:
    """Synchronously decode one utterance with a pooled recognizer (tools and tests; blocks if exhausted)."""
    got = threading.Event()
    box: list[Recognizer] = []

    def take(rec: Recognizer) -> None:
        box.append(rec)
        got.set()

    pool.acquire(take)
    got.wait()
    rec = box[0]
    try:
        if grammar is not None:
            rec.set_grammar(grammar)
        rec.accept(audio)
        return rec.final()
    finally:
        pool.release(rec)
