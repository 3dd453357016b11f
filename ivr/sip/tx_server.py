"""Server transactions (RFC 3261 §17.2, with RFC 6026's Accepted state for 2xx to INVITE)."""

from __future__ import annotations

from ivr.sip.events import AckReceived, Address, Event, TransactionTerminated, TransactionTimedOut
from ivr.sip.message import Request, Response, make_response
from ivr.sip.tx_common import Transaction


class ServerInviteTransaction(Transaction):
    """States: proceeding -> completed -> confirmed (non-2xx) or proceeding -> accepted (2xx) -> terminated.

    A retransmitted INVITE gets the last response again in every state (never a 481).  A 2xx is
    retransmitted at T1, 2T1, ... capped at T2 until the ACK arrives or 64*T1 pass (Timer L).
    """

    last_bytes: bytes | None = None
    last_response: Response | None = None
    acked: bool = False
    _interval: float = 0.0

    def start(self, now: float) -> list[Event]:
        self.state = "proceeding"
        delay = self.config.trying_delay
        if delay is None:
            return []
        if delay <= 0:
            return self._send_trying()
        self.set_timer("trying", now + delay)
        return []

    def _send_trying(self) -> list[Event]:
        return self._send(make_response(self.request, 100, "Trying"))

    def _send(self, response: Response) -> list[Event]:
        self.last_response = response
        self.last_bytes = response.to_bytes()
        return [self.transmit(self.last_bytes)]

    def on_retransmission(self) -> list[Event]:
        self.retransmissions += 1
        if self.state in ("proceeding", "completed", "accepted"):
            if self.last_bytes is None:
                return self._send_trying()
            return [self.transmit(self.last_bytes)]
        return []

    def send_response(self, response: Response, now: float) -> list[Event]:
        if self.state != "proceeding":
            return []
        self.cancel_timer("trying")
        events = self._send(response)
        t1 = self.config.t1
        if response.status < 200:
            return events
        self._interval = t1
        if response.status < 300:
            self.state = "accepted"
            if not self.reliable:
                self.set_timer("2xx", now + t1)
            self.set_timer("L", now + 64 * t1)
        else:
            self.state = "completed"
            if not self.reliable:
                self.set_timer("G", now + t1)
            self.set_timer("H", now + 64 * t1)
        return events

    def on_ack(self, ack: Request, source: Address, now: float) -> list[Event]:
        """ACK matched by branch (non-2xx) or by dialog (2xx)."""
        if self.state == "completed":
            self.state = "confirmed"
            self.cancel_timer("G", "H")
            self.set_timer("I", now + (0.0 if self.reliable else self.config.t4))
            return []
        if self.state == "accepted" and not self.acked:
            self.acked = True
            self.cancel_timer("2xx")
            return [AckReceived(ack=ack, invite=self.request, source=source, transport=self.transport)]
        return []

    def fire(self, name: str, now: float) -> list[Event]:
        t2 = self.config.t2
        if name == "trying":
            return self._send_trying() if self.state == "proceeding" and self.last_bytes is None else []
        if name in ("G", "2xx") and self.last_bytes is not None:
            self.retransmissions += 1
            self._interval = min(self._interval * 2, t2)
            self.set_timer(name, now + self._interval)
            return [self.transmit(self.last_bytes)]
        if name == "H":
            self.terminate()
            return [TransactionTimedOut(self.key, self.request, "H"), TransactionTerminated(self.key)]
        if name == "L":
            timed_out = not self.acked
            self.terminate()
            events: list[Event] = [TransactionTimedOut(self.key, self.request, "L")] if timed_out else []
            return [*events, TransactionTerminated(self.key)]
        if name == "I":
            self.terminate()
            return [TransactionTerminated(self.key)]
        return []


class ServerNonInviteTransaction(Transaction):
    """States: trying -> proceeding -> completed -> terminated (Timer J)."""

    last_bytes: bytes | None = None
    last_response: Response | None = None

    def start(self, now: float) -> list[Event]:
        self.state = "trying"
        return []

    def on_retransmission(self) -> list[Event]:
        self.retransmissions += 1
        if self.last_bytes is not None and self.state in ("proceeding", "completed"):
            return [self.transmit(self.last_bytes)]
        return []

    def send_response(self, response: Response, now: float) -> list[Event]:
        if self.state not in ("trying", "proceeding"):
            return []
        self.last_response = response
        self.last_bytes = response.to_bytes()
        if response.status < 200:
            self.state = "proceeding"
        else:
            self.state = "completed"
            self.set_timer("J", now + (0.0 if self.reliable else 64 * self.config.t1))
        return [self.transmit(self.last_bytes)]

    def fire(self, name: str, now: float) -> list[Event]:
        if name == "J":
            self.terminate()
            return [TransactionTerminated(self.key)]
        return []
