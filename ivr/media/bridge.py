"""MediaBridge: two media sessions joined inside the process, as a frame router driven by the pacer.

In the pacer's receive phase each leg hands its de-jittered frame to the other leg (transcoded PCMU<->PCMA with
a byte translation table when the codecs differ, passed through untouched otherwise), and in the next tick's
send phase the other leg sends it: bridged audio has the latency of one jitter buffer plus one frame.  Digits
received on one leg are re-sent as RFC 4733 events on the other (and still reported to each leg's own DTMF
handler).  A playback queued on a leg (e.g. a whisper or a beep) takes precedence over the bridged audio while it plays.
Each leg's own audio sink keeps receiving its audio (recording, ASR).
"""

from __future__ import annotations

from ivr.media.session import MediaError, MediaSession


class MediaBridge:
    def __init__(self, a: MediaSession, b: MediaSession) -> None:
        if a is b:
            raise MediaError("cannot bridge a session with itself")
        if a.closed or b.closed:
            raise MediaError("cannot bridge a closed session")
        for leg in (a, b):
            if leg.bridge_peer is not None:
                raise MediaError(f"{leg!r} is already bridged")
        self.a = a
        self.b = b
        a.set_bridge_peer(b)
        b.set_bridge_peer(a)

    @property
    def active(self) -> bool:
        a, b = self.a, self.b
        return a.bridge_peer is b and b.bridge_peer is a and not a.closed and not b.closed

    def unbridge(self) -> None:
        """Stop relaying; both legs go back to playback / silence.  Idempotent."""
        if self.a.bridge_peer is self.b:
            self.a.set_bridge_peer(None)
        if self.b.bridge_peer is self.a:
            self.b.set_bridge_peer(None)
