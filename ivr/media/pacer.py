"""One shared pacer for every media session: ticks on absolute deadlines ``t0 + n * frame``.

Each tick runs two phases over the registered sessions: first every session sends one frame (right at the
deadline, so send timing never depends on receive work), then every session receives (drains its socket, pops
one de-jittered frame and hands it to its sink, or to its bridge peer for that peer's next send).
Deadlines come from the frame counter, never from "now + 20 ms", so lateness never accumulates into drift; a
tick that runs late sends all the frames that are due (up to ``max_catchup`` frames; beyond that the frames are
skipped, counted, and RTP timestamps still advance because they are derived from the frame number).
"""

from __future__ import annotations

import logging
import select
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ivr.clock import Clock, TimerHandle

log = logging.getLogger(__name__)


MAX_READ_ROUNDS = 8  # datagrams read per socket per frame, at most
LATENESS_BUCKETS_MS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, float("inf"))


class Tickable(Protocol):
    def tick_receive(self, frame_no: int, now: float) -> None: ...

    def tick_send(self, frame_no: int, now: float) -> None: ...


@dataclass(slots=True)
class PacerStats:
    ticks: int = 0  # timer callbacks
    frames: int = 0  # frames produced (== ticks when never late)
    late_ticks: int = 0  # callbacks that ran more than ``late_threshold`` after their deadline
    catchup_frames: int = 0  # frames sent late in a catch-up burst
    skipped_frames: int = 0
    max_lateness: float = 0.0  # seconds
    total_lateness: float = 0.0
    errors: int = 0
    lateness_hist: list[int] = field(default_factory=lambda: [0] * len(LATENESS_BUCKETS_MS))

    def lateness_percentile(self, q: float) -> float:
        """Upper bound (ms) of the histogram bucket holding the ``q`` quantile (0..1) of tick lateness."""
        total = sum(self.lateness_hist)
        if not total:
            return 0.0
        acc = 0
        for bound, count in zip(LATENESS_BUCKETS_MS, self.lateness_hist, strict=True):
            acc += count
            if acc >= q * total:
                return bound
        return LATENESS_BUCKETS_MS[-1]


class Pacer:
    def __init__(
        self, clock: Clock, *, frame_ms: int = 20, max_catchup: int = 10, late_threshold: float = 0.005
    ) -> None:
        self.clock = clock
        self.frame = frame_ms / 1000
        self.max_catchup = max_catchup
        self.late_threshold = late_threshold
        self.stats = PacerStats()
        self._sessions: dict[int, Tickable] = {}
        self._snapshot: tuple[Tickable, ...] = ()
        self._t0 = 0.0
        self._n = 0
        self._timer: TimerHandle | None = None
        # readiness of the sessions' sockets: one epoll_wait per round instead of one failing recv per socket
        self._poller = select.epoll() if hasattr(select, "epoll") else None
        self._readers: dict[int, Callable[[float], None]] = {}

    # -- registration -----------------------------------------------------------------------------------------
    def register(self, session: Tickable) -> None:
        self._sessions[id(session)] = session
        self._snapshot = tuple(self._sessions.values())
        if self._timer is None:
            self.start()

    def watch(self, fd: int, on_readable: Callable[[float], None]) -> bool:
        """Call ``on_readable(now)`` in each frame's receive phase while ``fd`` has data (one datagram per call).

        Returns False when the platform has no epoll: the caller then drains its socket itself.
        """
        if self._poller is None:
            return False
        self._poller.register(fd, select.EPOLLIN)
        self._readers[fd] = on_readable
        return True

    def unwatch(self, fd: int) -> None:
        """Stop watching ``fd`` (before closing it: the number may be reused)."""
        if self._readers.pop(fd, None) is not None and self._poller is not None:
            try:
                self._poller.unregister(fd)
            except OSError:
                pass

    def unregister(self, session: Tickable) -> None:
        if self._sessions.pop(id(session), None) is not None:
            self._snapshot = tuple(self._sessions.values())

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    @property
    def running(self) -> bool:
        return self._timer is not None

    @property
    def frame_no(self) -> int:
        """Number of the next frame to be produced."""
        return self._n

    def deadline(self, frame_no: int) -> float:
        return self._t0 + frame_no * self.frame

    # -- running ----------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._timer is not None:
            return
        self._t0 = self.clock.now()
        self._n = 0
        self._timer = self.clock.call_at(self._t0, self._fire)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        now = self.clock.now()
        stats = self.stats
        stats.ticks += 1
        lateness = now - self.deadline(self._n)
        if lateness > stats.max_lateness:
            stats.max_lateness = lateness
        if lateness > 0:
            stats.total_lateness += lateness
        if lateness > self.late_threshold:
            stats.late_ticks += 1
        stats.lateness_hist[bisect_left(LATENESS_BUCKETS_MS, lateness * 1000)] += 1
        due = int((now - self._t0) / self.frame) - self._n + 1
        if due < 1:  # woke early (timer granularity): nothing due yet
            due = 1 if lateness > -0.0005 else 0
        if due > self.max_catchup:
            stats.skipped_frames += due - self.max_catchup
            self._n += due - self.max_catchup
            due = self.max_catchup
        if due > 1:
            stats.catchup_frames += due - 1
        for _ in range(due):
            self._run_frame(self._n, now)
            self._n += 1
        stats.frames += due
        if self._timer is not None:
            self._timer = self.clock.call_at(self.deadline(self._n), self._fire)

    def _run_frame(self, n: int, now: float) -> None:
        sessions = self._snapshot
        for s in sessions:  # sends first: their timing must not depend on receive work (sinks, ASR feeding)
            try:
                s.tick_send(n, now)
            except Exception:
                self._failed(s)
        if self._readers:
            self._read_ready(now)
        for s in sessions:
            try:
                s.tick_receive(n, now)
            except Exception:
                self._failed(s)

    def _read_ready(self, now: float) -> None:
        assert self._poller is not None
        poll = self._poller.poll
        readers = self._readers
        for _ in range(MAX_READ_ROUNDS):  # each round: one datagram from every socket that has one
            ready = poll(0)
            if not ready:
                return
            for fd, _events in ready:
                reader = readers.get(fd)
                if reader is None:
                    continue
                try:
                    reader(now)
                except Exception:
                    self.stats.errors += 1
                    log.exception("reader of fd %d failed; unwatched", fd)
                    self.unwatch(fd)

    def _failed(self, session: Tickable) -> None:
        self.stats.errors += 1
        log.exception("media session %r failed in its tick; unregistered", session)
        self.unregister(session)
