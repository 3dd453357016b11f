"""Thin Twisted network shell: SIP over UDP/TCP on the asyncio reactor."""

from ivr.net.reactor import install, reactor_for_loop
from ivr.net.transport import Endpoint, NetStats, SipTransports

__all__ = ["Endpoint", "NetStats", "SipTransports", "install", "reactor_for_loop"]
