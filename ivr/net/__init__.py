"""Thin Twisted network shell: SIP over UDP/TCP on the asyncio reactor."""

from ivr.net.reactor import install, reactor_for_loop
from ivr.net.transport import Endpoint, NetStats, SipTransports, TlsOptions

__all__ = ["Endpoint", "NetStats", "SipTransports", "TlsOptions", "install", "reactor_for_loop"]
