"""A bounded decoding thread pool where the end of an utterance goes before streaming audio.

When the CPU is saturated, what the caller waits for is the final result of an utterance that has ended; the
streaming batches of utterances still in progress can lag without anyone noticing.  So jobs carry a priority
(0 = final, 1 = streaming) and equal priorities run first come, first served.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
FINAL = 0
STREAMING = 1


class DecodeExecutor:
    def __init__(self, workers: int, name: str = "asr-decode") -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[..., Any] | None, tuple[Any, ...]]] = (
            queue.PriorityQueue()
        )
        self._seq = itertools.count()
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[..., Any], *args: Any, priority: int = STREAMING) -> None:
        if self._closed:
            raise RuntimeError("decode executor is shut down")
        self._queue.put((priority, next(self._seq), fn, args))

    def _run(self) -> None:
        while True:
            _, _, fn, args = self._queue.get()
            if fn is None:
                return
            try:
                fn(*args)
            except Exception:  # a job's failure must not kill the worker
                log.exception("decoding job failed")

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def shutdown(self, wait: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._queue.put((99, next(self._seq), None, ()))
        if wait:
            for t in self._threads:
                t.join()
