"""RTP media for call legs: G.711, RTP/RTCP, RFC 4733 DTMF, jitter buffer, shared pacer, sessions, bridging.

Time comes from :mod:`ivr.clock` (one clock for every component)."""

from ivr.media.bridge import MediaBridge
from ivr.media.pacer import Pacer
from ivr.media.session import MediaError, MediaSession

__all__ = ["MediaBridge", "MediaError", "MediaSession", "Pacer"]
