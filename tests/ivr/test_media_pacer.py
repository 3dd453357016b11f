"""The shared pacer on virtual time: absolute deadlines, no drift, catch-up after a stall, fault isolation."""

from __future__ import annotations

import pytest

from ivr.clock import VirtualClock
from ivr.media.pacer import Pacer


class Recorder:
    def __init__(self, log: list[tuple[str, str, int, float]], name: str) -> None:
        self.log = log
        self.name = name

    def tick_receive(self, frame_no: int, now: float) -> None:
        self.log.append(("rx", self.name, frame_no, now))

    def tick_send(self, frame_no: int, now: float) -> None:
        self.log.append(("tx", self.name, frame_no, now))


def sends(log: list[tuple[str, str, int, float]], name: str) -> list[tuple[int, float]]:
    return [(n, t) for kind, who, n, t in log if kind == "tx" and who == name]


def test_ticks_on_absolute_deadlines_without_drift() -> None:
    clock = VirtualClock(start=0.0)
    pacer = Pacer(clock)
    log: list[tuple[str, str, int, float]] = []
    pacer.register(Recorder(log, "a"))
    clock.delay = 0.0013  # every wake-up is 1.3 ms late (a busy loop) ...
    clock.advance(60.0)
    tx = sends(log, "a")
    assert [n for n, _ in tx] == list(range(len(tx)))
    assert len(tx) == 3000 or len(tx) == 3001
    # ... yet frame n still goes out at t0 + n*20ms + 1.3 ms: lateness never accumulates
    assert max(abs(t - (n * 0.02 + 0.0013)) for n, t in tx) < 1e-6
    assert pacer.stats.skipped_frames == 0 and pacer.stats.catchup_frames == 0
    assert pacer.stats.max_lateness == pytest.approx(0.0013)


def test_send_phase_of_all_sessions_runs_before_receive_phase() -> None:
    clock = VirtualClock(start=0.0)
    pacer = Pacer(clock)
    log: list[tuple[str, str, int, float]] = []
    pacer.register(Recorder(log, "a"))
    pacer.register(Recorder(log, "b"))
    clock.advance(0.001)
    assert [(k, w) for k, w, _, _ in log] == [("tx", "a"), ("tx", "b"), ("rx", "a"), ("rx", "b")]


def test_catch_up_after_a_stall_sends_due_frames_and_records_lateness() -> None:
    clock = VirtualClock(start=0.0)
    pacer = Pacer(clock, max_catchup=10)
    log: list[tuple[str, str, int, float]] = []
    pacer.register(Recorder(log, "a"))
    clock.advance(1.0)  # frames 0..50
    clock.stall(0.105)  # the process is blocked for 105 ms once
    clock.advance(1.0)
    tx = sends(log, "a")
    assert [n for n, _ in tx] == list(range(len(tx)))  # no frame number missing: the due frames were sent
    assert len(tx) == int(clock.now() / 0.02) + 1  # on the long run exactly 50 per second
    burst = [n for n, t in tx if t == pytest.approx(1.105)]
    assert burst == [51, 52, 53, 54, 55]  # the frames due during the stall went out at the late wake-up
    assert pacer.stats.catchup_frames == 4 and pacer.stats.late_ticks == 1
    assert pacer.stats.max_lateness == pytest.approx(0.085)  # frame 51 was due at 1.02
    # after the burst, back on the original grid
    assert all(t == pytest.approx(n * 0.02) for n, t in tx if n > 55)


def test_a_very_long_stall_skips_frames_but_keeps_numbering() -> None:
    clock = VirtualClock(start=0.0)
    pacer = Pacer(clock, max_catchup=10)
    log: list[tuple[str, str, int, float]] = []
    pacer.register(Recorder(log, "a"))
    clock.advance(0.1)
    clock.stall(1.0)
    clock.advance(0.5)
    numbers = [n for n, _ in sends(log, "a")]
    assert pacer.stats.skipped_frames > 0
    assert numbers == sorted(numbers) and numbers[-1] == round(clock.now() / 0.02)
    assert len(numbers) == numbers[-1] + 1 - pacer.stats.skipped_frames


def test_failing_session_is_unregistered_and_others_continue() -> None:
    clock = VirtualClock(start=0.0)
    pacer = Pacer(clock)
    log: list[tuple[str, str, int, float]] = []

    class Broken(Recorder):
        def tick_send(self, frame_no: int, now: float) -> None:
            raise RuntimeError("boom")

    pacer.register(Broken(log, "x"))
    pacer.register(Recorder(log, "a"))
    clock.advance(0.1)
    assert pacer.stats.errors == 1 and pacer.sessions == 1
    assert len(sends(log, "a")) == 6


def test_unregister_and_stop() -> None:
    clock = VirtualClock(start=0.0)
    pacer = Pacer(clock)
    log: list[tuple[str, str, int, float]] = []
    rec = Recorder(log, "a")
    pacer.register(rec)
    clock.advance(0.05)
    pacer.unregister(rec)
    n = len(log)
    clock.advance(0.1)
    assert len(log) == n
    pacer.stop()
    assert not pacer.running
