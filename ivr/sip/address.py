"""Transport addresses, pure (no I/O, no Twisted): used by the sans-IO cores and the network shell alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Address = tuple[str, int]
"""(host, port) of a peer.  For stream transports it names the connection the shell keeps."""

TransportName = Literal["udp", "tcp", "tls"]


@dataclass(frozen=True)
class Endpoint:
    """Where a message came from or goes to: transport, host, port."""

    transport: TransportName
    host: str
    port: int

    @classmethod
    def of(cls, address: Address, transport: str) -> Endpoint:
        """From the transaction layer's ``(host, port)`` and transport name ("UDP", "TCP", "TLS", any case)."""
        return cls(transport_name(transport), address[0], address[1])

    @property
    def address(self) -> Address:
        return self.host, self.port

    @property
    def sip_transport(self) -> str:
        """The transport as the transaction layer and Via name it ("UDP", "TCP", "TLS")."""
        return self.transport.upper()


def transport_name(transport: str) -> TransportName:
    """``udp``/``tcp``/``tls`` of a Via or ``;transport=`` name (any case); anything else is UDP."""
    lowered = transport.lower()
    if lowered == "tcp":
        return "tcp"
    if lowered == "tls":
        return "tls"
    return "udp"
