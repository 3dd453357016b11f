"""A small de-jitter buffer for 20 ms G.711 frames, sans-IO: ``push(packet, arrival)`` / ``pop(now)``.

Playout is by sequence number.  A stream starts playing once ``target_ms`` of audio is buffered or the first
packet has waited ``target_ms``.  Reordered packets are put back in order, duplicates dropped, packets older
than the playout point dropped and counted as late.  A missing frame with later frames already buffered is lost:
it is concealed by repeating the last frame at -6 dB per lost frame, then silence.  A missing frame with nothing
buffered is an underrun: the playout point waits (absorbing a delay spike: the late packets still play); when
packets come again and the buffer holds more than the target, missing frames at its head are skipped so the delay
returns to the target.  After ``idle_frames`` empty pops the stream is idle and :meth:`pop` returns None until
packets come again.  Above
``max_ms`` of buffered audio the oldest frames are dropped; while playing, more than ``target_ms + slack_ms``
buffered (a burst after a delay spike, a stall of our own, a sender clock faster than ours) is trimmed back to
the target delay, so the conversation never keeps an extra delay.  An SSRC change, or
a sequence jump of more than ``max_gap`` frames, restarts the buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.media.rtp import RtpPacket, seq_delta

_NON_AUDIO = b""  # placeholder for a sequence number used by a telephone-event / comfort-noise packet


@dataclass(slots=True)
class JitterStats:
    received: int = 0
    played: int = 0
    duplicates: int = 0
    late: int = 0
    lost: int = 0
    concealed: int = 0
    underruns: int = 0
    overflow_dropped: int = 0
    resets: int = 0
    flushed: int = 0  # unplayed frames dropped by a reset
    trimmed: int = 0  # frames skipped to bring the delay back to the target (after a burst or a stall)


class JitterBuffer:
    def __init__(
        self,
        *,
        silence: bytes,
        attenuate: bytes | None = None,
        frame_ms: int = 20,
        target_ms: int = 60,
        max_ms: int = 300,
        idle_frames: int = 5,
        max_gap: int = 100,
        conceal_frames: int = 2,
        slack_ms: int = 60,
    ) -> None:
        if target_ms < frame_ms or max_ms < target_ms:
            raise ValueError("need frame_ms <= target_ms <= max_ms")
        self.silence = silence
        self.attenuate = attenuate
        self.frame_ms = frame_ms
        self.target_frames = max(1, round(target_ms / frame_ms))
        self.max_frames = max(self.target_frames + 1, max_ms // frame_ms)
        self.idle_frames = idle_frames
        self.max_gap = max_gap
        self.conceal_frames = conceal_frames
        self.slack_frames = max(1, slack_ms // frame_ms)
        self.stats = JitterStats()
        self._frames: dict[int, bytes] = {}
        self._ssrc: int | None = None
        self._highest = -1  # highest extended sequence number seen
        self._highest_seq = 0  # its 16-bit value
        self._next = 0  # next extended sequence number to play
        self._playing = False
        self._prime_deadline = 0.0
        self._empty_pops = 0
        self._last: bytes | None = None
        self._lost_run = 0
        self._pending = b""  # re-framing remainder (see pop_frame)

    # -- input ------------------------------------------------------------------------------------------------
    def push(self, packet: RtpPacket, arrival: float) -> None:
        """Add an audio packet (its payload is one frame)."""
        self.insert(packet.ssrc, packet.sequence, packet.payload, arrival)

    def push_non_audio(self, packet: RtpPacket, arrival: float) -> None:
        """Account for a same-stream packet that is not audio (telephone-event, CN): its slot plays as silence."""
        self.insert(packet.ssrc, packet.sequence, _NON_AUDIO, arrival)

    def _restart(self, ssrc: int, ext: int, arrival: float) -> None:
        if self._ssrc is not None:
            self.stats.resets += 1
        self.stats.flushed += len(self._frames)
        self._frames.clear()
        self._ssrc = ssrc
        self._next = ext
        self._playing = False
        self._prime_deadline = arrival + self.target_frames * self.frame_ms / 1000
        self._empty_pops = 0
        self._lost_run = 0

    def insert(self, ssrc: int, seq: int, payload: bytes, arrival: float) -> None:
        """:meth:`push` without the packet object (the receive hot path); ``b""`` marks a non-audio slot."""
        self.stats.received += 1
        if ssrc != self._ssrc or self._highest < 0:
            ext = seq if self._highest < 0 else self._highest + 1
            self._highest, self._highest_seq = ext, seq
            self._restart(ssrc, ext, arrival)
        else:
            ext = self._highest + seq_delta(seq, self._highest_seq)
            if abs(ext - self._next) > self.max_gap and abs(ext - self._highest) > self.max_gap:
                ext = self._highest + 1  # the sender restarted its sequence: start over
                self._highest, self._highest_seq = ext, seq
                self._restart(ssrc, ext, arrival)
            elif ext > self._highest:
                self._highest, self._highest_seq = ext, seq
        if not self._playing and not self._frames:
            if ext != self._next:
                self._next = ext
            self._prime_deadline = arrival + self.target_frames * self.frame_ms / 1000
        elif ext < self._next:
            if self._playing or ext < self._next - self.max_gap:
                self.stats.late += 1
                return
            self._next = ext  # reordered before playout started
        if ext in self._frames:
            self.stats.duplicates += 1
            return
        self._frames[ext] = payload
        self._empty_pops = 0
        while len(self._frames) > self.max_frames:
            oldest = min(self._frames)
            del self._frames[oldest]
            self.stats.overflow_dropped += 1
            self._next = max(self._next, oldest + 1)

    # -- output -----------------------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def depth(self) -> int:
        """Frames currently buffered."""
        return len(self._frames)

    def pop(self, now: float) -> bytes | None:
        """The next 20 ms frame (a payload, concealment, or silence), or None while not playing."""
        frames = self._frames
        if not self._playing:
            if not frames:
                return None
            span = self._highest - self._next + 1
            if span < self.target_frames and now < self._prime_deadline:
                return None
            self._playing = True
        elif self._highest - self._next + 1 > self.target_frames + self.slack_frames:
            self._trim(frames)
        frame = frames.pop(self._next, None)
        if frame is None and frames:  # a hole with later frames buffered: lost
            excess = self._highest - self._next + 1 - self.target_frames
            while excess > 0 and frame is None:  # behind the target delay (after an underrun): skip ahead
                self._next += 1
                self.stats.lost += 1
                excess -= 1
                frame = frames.pop(self._next, None)
            if frame is None:
                self._next += 1
                self.stats.lost += 1
                return self._conceal()
        if frame is not None:
            self._next += 1
            self._empty_pops = 0
            self.stats.played += 1
            self._lost_run = 0
            if not frame:  # a telephone-event / comfort-noise slot
                return self.silence
            self._last = frame
            return frame
        self._empty_pops += 1
        if self._empty_pops >= self.idle_frames:
            self._playing = False
            self._last = None
            return None
        self.stats.underruns += 1
        return self._conceal()

    def _trim(self, frames: dict[int, bytes]) -> None:
        """Too much buffered (a burst after a delay spike, or our own stall): skip back to the target delay."""
        new_next = self._highest - self.target_frames + 1
        for ext in range(self._next, new_next):
            if frames.pop(ext, None) is not None:
                self.stats.trimmed += 1
            else:
                self.stats.lost += 1  # a hole we skip over
        self._next = new_next

    def pop_frame(self, now: float) -> bytes | None:
        """Like :meth:`pop`, but always exactly one frame of ``len(silence)`` bytes, re-framing packets of other
        durations (10, 30, 40 ms...): it pops as many packets as that takes."""
        size = len(self.silence)
        pending = self._pending
        if not pending:
            frame = self.pop(now)
            if frame is None or len(frame) == size:
                return frame
            pending = frame
        while len(pending) < size:
            more = self.pop(now)
            if more is None:  # the stream stopped mid-frame
                pending += self.silence[: size - len(pending)]
                break
            pending += more
        self._pending = pending[size:]
        return pending[:size]

    def _conceal(self) -> bytes:
        self._lost_run += 1
        if self._last is None or self.attenuate is None or self._lost_run > self.conceal_frames:
            return self.silence
        self.stats.concealed += 1
        self._last = self._last.translate(self.attenuate)
        return self._last
