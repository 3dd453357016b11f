"""Events returned by the sans-IO transaction layer (what the network shell / UA must act on)."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.sip.address import Address, Endpoint
from ivr.sip.message import Request, Response

TransactionKey = tuple[str, ...]
"""Opaque, hashable transaction identifier (server keys start with "s", client keys with "c")."""

RELIABLE_TRANSPORTS = frozenset({"TCP", "TLS", "SCTP", "WS", "WSS"})


@dataclass(frozen=True)
class Transmit:
    """Send ``data`` to ``dest`` over ``transport`` (the shell just sends; routing is already done)."""

    data: bytes
    dest: Address
    transport: str = "UDP"

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint.of(self.dest, self.transport)


@dataclass(frozen=True)
class RequestReceived:
    """A new request (not a retransmission, not ACK/CANCEL handled by the layer); answer with send_response."""

    request: Request
    source: Address
    transport: str
    key: TransactionKey


@dataclass(frozen=True)
class ResponseReceived:
    """A response to a request sent with send_request (each 1xx, the final once, every 2xx to an INVITE)."""

    response: Response
    request: Request
    key: TransactionKey


@dataclass(frozen=True)
class AckReceived:
    """The ACK for a 2xx we sent (2xx retransmission has stopped).  ``invite`` is the acknowledged INVITE."""

    ack: Request
    invite: Request
    source: Address
    transport: str


@dataclass(frozen=True)
class CancelReceived:
    """A CANCEL matched a pending INVITE; the layer already answered the CANCEL with 200.

    The TU should answer the INVITE with 487 (``send_response(make_response(invite, 487, ...), now, key)``).
    """

    cancel: Request
    invite: Request
    invite_key: TransactionKey


@dataclass(frozen=True)
class TransactionTimedOut:
    """A transaction gave up.  ``timer`` is "B" (INVITE sent, no final: treat as 408), "F" (non-INVITE
    sent, no final), "H" (our non-2xx final to an INVITE never ACKed) or "L" (our 2xx to an INVITE never
    ACKed: the UAS should send BYE, RFC 3261 §13.3.1.4)."""

    key: TransactionKey
    request: Request
    timer: str


@dataclass(frozen=True)
class TransactionTerminated:
    """The transaction is gone; the UA may drop state keyed by it."""

    key: TransactionKey


@dataclass(frozen=True)
class MessageDropped:
    """Input that was not processed: garbage, malformed (a 400 may have been sent), stray response/ACK."""

    reason: str
    source: Address


Event = (
    Transmit
    | RequestReceived
    | ResponseReceived
    | AckReceived
    | CancelReceived
    | TransactionTimedOut
    | TransactionTerminated
    | MessageDropped
)
