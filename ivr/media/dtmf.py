"""RFC 4733 telephone-events (DTMF over RTP): payload codec, receiver state machine, sender packet plan.

The receiver is a pure ``step(state, event) -> (state, actions)``: it reports one digit per event timestamp,
when the first end packet arrives (the two retransmitted end packets are de-duplicated), or, if every end packet
was lost, when the next event starts or no packet arrived for ``END_TIMEOUT`` seconds.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, replace

from ivr.media.rtp import ts_delta

EVENT_CODES = "0123456789*#ABCD"
END_TIMEOUT = 0.3  # seconds without packets after which an event whose end packets were lost is reported


class DtmfError(ValueError):
    """A telephone-event payload or digit is malformed."""


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int  # 0..255 (0-15 are DTMF: 0-9 * # A-D)
    end: bool
    volume: int  # 0..63, -dBm0
    duration: int  # timestamp units

    @property
    def digit(self) -> str | None:
        return EVENT_CODES[self.event] if self.event < len(EVENT_CODES) else None


def decode_event(payload: bytes) -> TelephoneEvent:
    if len(payload) < 4:
        raise DtmfError(f"telephone-event payload too short ({len(payload)} bytes)")
    event, flags, duration = struct.unpack_from("!BBH", payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


def encode_event(ev: TelephoneEvent) -> bytes:
    if not 0 <= ev.event <= 255 or not 0 <= ev.volume <= 63 or not 0 <= ev.duration <= 0xFFFF:
        raise DtmfError(f"telephone-event field out of range: {ev}")
    return struct.pack("!BBH", ev.event, (0x80 if ev.end else 0) | ev.volume, ev.duration)


def digit_code(digit: str) -> int:
    code = EVENT_CODES.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise DtmfError(f"not a DTMF digit: {digit!r}")
    return code


# ---- receiver -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventPacket:
    """A telephone-event RTP packet as seen by the receiver."""

    ssrc: int
    timestamp: int
    event: TelephoneEvent
    arrival: float


@dataclass(frozen=True, slots=True)
class Poll:
    """Time passes (lets the receiver report an event whose end packets were all lost)."""

    now: float


@dataclass(frozen=True, slots=True)
class DigitReceived:
    digit: str
    duration_ms: int


@dataclass(frozen=True, slots=True)
class ReceiverState:
    clock_rate: int = 8000
    ssrc: int | None = None
    timestamp: int | None = None  # RTP timestamp of the current / last event
    code: int = 0
    duration: int = 0
    reported: bool = True
    last_arrival: float = 0.0


def _report(state: ReceiverState) -> tuple[ReceiverState, list[DigitReceived]]:
    digit = EVENT_CODES[state.code] if state.code < len(EVENT_CODES) else None
    done = replace(state, reported=True)
    if digit is None:
        return done, []
    return done, [DigitReceived(digit, state.duration * 1000 // state.clock_rate)]


def step(state: ReceiverState, event: EventPacket | Poll) -> tuple[ReceiverState, list[DigitReceived]]:
    if isinstance(event, Poll):
        if not state.reported and event.now - state.last_arrival >= END_TIMEOUT:
            return _report(state)
        return state, []
    actions: list[DigitReceived] = []
    ev = event.event
    same_source = state.ssrc == event.ssrc and state.timestamp is not None
    if same_source and state.timestamp == event.timestamp:
        if state.reported or ev.event != state.code:
            return state, []  # retransmitted end packet, or a conflicting event at the same timestamp
        state = replace(state, duration=max(state.duration, ev.duration), last_arrival=event.arrival)
        return _report(state) if ev.end else (state, [])
    if same_source and state.timestamp is not None and ts_delta(event.timestamp, state.timestamp) < 0:
        return state, []  # a late packet of an older event
    if not state.reported:
        state, actions = _report(state)
    state = ReceiverState(state.clock_rate, event.ssrc, event.timestamp, ev.event, ev.duration, False, event.arrival)
    if ev.end:
        state, more = _report(state)
        actions += more
    return state, actions


# ---- sender ---------------------------------------------------------------------------------------------------


def sender_payloads(
    digit: str, duration_ms: int = 100, *, ptime_ms: int = 20, clock_rate: int = 8000, volume: int = 10
) -> list[tuple[bytes, bool]]:
    """The (payload, marker) sequence for one digit, one per packet interval, all sent with the same timestamp.

    The first packet carries the marker; the last three are end packets with the final duration.
    """
    code = digit_code(digit)
    step_ts = clock_rate * ptime_ms // 1000
    frames = max(1, min(duration_ms, 8000) // ptime_ms)
    out = [(encode_event(TelephoneEvent(code, False, volume, i * step_ts)), i == 1) for i in range(1, frames)]
    end = encode_event(TelephoneEvent(code, True, volume, frames * step_ts))
    out += [(end, not out and i == 0) for i in range(3)]
    return out


class DtmfSender:
    """Queue of digits to send; :meth:`next_packet` gives one packet per frame while digits are pending.

    Every packet of a digit carries the RTP timestamp of the frame its first packet went out in.
    """

    def __init__(self) -> None:
        self._queue: deque[tuple[bytes, bool] | None] = deque()  # None ends a digit
        self._event_ts: int | None = None
        self.digits_sent = 0

    def __bool__(self) -> bool:
        return any(item is not None for item in self._queue)

    def queue(self, digit: str, duration_ms: int = 100) -> None:
        self._queue.extend(sender_payloads(digit, duration_ms))
        self._queue.append(None)

    def next_packet(self, frame_ts: int) -> tuple[bytes, bool, int] | None:
        """(payload, marker, event timestamp) for the frame whose timestamp is ``frame_ts``, or None."""
        queue = self._queue
        while queue and queue[0] is None:
            queue.popleft()
            self._event_ts = None
        if not queue:
            return None
        item = queue.popleft()
        assert item is not None
        if self._event_ts is None:
            self._event_ts = frame_ts
            self.digits_sent += 1
        return item[0], item[1], self._event_ts
