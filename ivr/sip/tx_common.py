"""Shared parts of the transaction state machines: timer values, base class, response routing."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from ivr.sip.events import RELIABLE_TRANSPORTS, Address, Event, TransactionKey, Transmit
from ivr.sip.headers import Via
from ivr.sip.message import Request


@dataclass(frozen=True)
class TimerConfig:
    """RFC 3261 §17 timer base values (seconds) and when to send 100 Trying for an INVITE.

    ``trying_delay``: 0 sends 100 Trying immediately, 0.2 sends it only if the TU has not answered within
    200 ms (RFC 3261 §17.2.1), None never sends it automatically.
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    trying_delay: float | None = 0.0
    timer_d: float = 32.0


Schedule = Callable[["Transaction", str, float], None]


class Transaction(ABC):
    """Base of the four RFC 3261 transaction machines. Timers live in ``timers`` (name -> deadline)."""

    def __init__(
        self,
        key: TransactionKey,
        request: Request,
        transport: str,
        peer: Address,
        config: TimerConfig,
        schedule: Schedule,
    ) -> None:
        self.key = key
        self.request = request
        self.transport = transport.upper()
        self.peer = peer
        self.config = config
        self.state = "init"
        self.timers: dict[str, float] = {}
        self._schedule = schedule
        self.retransmissions = 0

    @property
    def reliable(self) -> bool:
        return self.transport in RELIABLE_TRANSPORTS

    @property
    def terminated(self) -> bool:
        return self.state == "terminated"

    def set_timer(self, name: str, deadline: float) -> None:
        self.timers[name] = deadline
        self._schedule(self, name, deadline)

    def cancel_timer(self, *names: str) -> None:
        for name in names:
            self.timers.pop(name, None)

    def terminate(self) -> None:
        self.state = "terminated"
        self.timers.clear()

    def transmit(self, data: bytes) -> Transmit:
        return Transmit(data=data, dest=self.peer, transport=self.transport)

    @abstractmethod
    def fire(self, name: str, now: float) -> list[Event]:
        """Timer ``name`` expired at ``now``: the transaction's RFC 3261 reaction."""


def response_destination(via: Via, source: Address, transport: str) -> Address:
    """Where to send responses for a request whose (already stamped) top Via is ``via`` (RFC 3261 §18.2.2,
    RFC 3581): the connection for reliable transports, else maddr, else received + rport, else sent-by."""
    if transport.upper() in RELIABLE_TRANSPORTS:
        return source
    default_port = via.port if via.port is not None else 5060
    maddr = via.params.get("maddr")
    if maddr:
        return maddr, default_port
    if via.received:
        return via.received, via.rport if via.rport is not None else default_port
    return via.host, default_port


def stamp_via(via: Via, source: Address) -> Via:
    """Add received (and rport) to a server-side top Via per RFC 3261 §18.2.1 and RFC 3581."""
    host, port = source
    params: dict[str, str | None] = {}
    if via.has_rport:
        params["received"] = host
        params["rport"] = str(port)
    elif via.host != host:
        params["received"] = host
    return via.with_params(**params) if params else via
