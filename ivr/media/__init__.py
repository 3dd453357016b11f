"""RTP media for call legs: G.711, RTP/RTCP, RFC 4733 DTMF, jitter buffer, shared pacer, sessions, bridging."""

from ivr.media.bridge import MediaBridge
from ivr.media.clock import AsyncioClock, Clock, VirtualClock
from ivr.media.pacer import Pacer
from ivr.media.session import MediaError, MediaSession

__all__ = ["AsyncioClock", "Clock", "MediaBridge", "MediaError", "MediaSession", "Pacer", "VirtualClock"]
