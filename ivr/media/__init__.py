"""RTP media for call legs: G.711, RTP/RTCP, RFC 4733 DTMF, jitter buffer, shared pacer, sessions, bridging.

Time comes from :mod:`ivr.clock` (one clock for every component)."""

from ivr.clock import LoopClock
from ivr.media.bridge import MediaBridge
from ivr.media.pacer import Pacer
from ivr.media.session import MediaError, MediaSession

AsyncioClock = LoopClock  # the engine's former name for the loop clock (ivr/engine/engine.py); use ivr.clock.LoopClock

__all__ = ["AsyncioClock", "MediaBridge", "MediaError", "MediaSession", "Pacer"]
