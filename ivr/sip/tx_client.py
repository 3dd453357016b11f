"""Client transactions (RFC 3261 §17.1, RFC 6026) and the requests the client side builds itself."""

from __future__ import annotations

from ivr.sip.events import Event, ResponseReceived, TransactionTerminated, TransactionTimedOut
from ivr.sip.headers import Headers
from ivr.sip.message import Request, Response
from ivr.sip.tx_common import Transaction


def build_non2xx_ack(invite: Request, response: Response) -> Request:
    """ACK for a 3xx-6xx response, sent by the INVITE client transaction (RFC 3261 §17.1.1.3)."""
    headers = Headers()
    top_via = invite.headers.get_all("Via")[0]
    headers.add("Via", top_via)
    for name in ("Route",):
        for line in invite.headers.get_lines(name):
            headers.add(name, line)
    headers.add("Max-Forwards", "70")
    headers.add("From", invite.headers.get("From") or "")
    headers.add("To", response.headers.get("To") or invite.headers.get("To") or "")
    headers.add("Call-ID", invite.call_id)
    headers.add("CSeq", f"{invite.cseq[0]} ACK")
    return Request(method="ACK", uri=invite.uri, headers=headers)


def build_cancel(invite: Request) -> Request:
    """CANCEL for a pending INVITE we sent (RFC 3261 §9.1): same branch, Request-URI, From, To, Call-ID."""
    headers = Headers()
    headers.add("Via", invite.headers.get_all("Via")[0])
    for line in invite.headers.get_lines("Route"):
        headers.add("Route", line)
    headers.add("Max-Forwards", "70")
    headers.add("From", invite.headers.get("From") or "")
    headers.add("To", invite.headers.get("To") or "")
    headers.add("Call-ID", invite.call_id)
    headers.add("CSeq", f"{invite.cseq[0]} CANCEL")
    return Request(method="CANCEL", uri=invite.uri, headers=headers)


class ClientInviteTransaction(Transaction):
    """States: calling -> proceeding -> completed (3xx-6xx, Timer D) | accepted (2xx, Timer M) -> terminated.

    Timer A retransmits the INVITE (T1 doubling, unreliable transports only); Timer B (64*T1) times out.
    Every 2xx (also retransmissions and other forks) reaches the TU, which sends the ACK itself.
    """

    ack_bytes: bytes | None = None
    _interval: float = 0.0

    def start(self, now: float) -> list[Event]:
        self.state = "calling"
        self.data = self.request.to_bytes()
        t1 = self.config.t1
        self._interval = t1
        if not self.reliable:
            self.set_timer("A", now + t1)
        self.set_timer("B", now + 64 * t1)
        return [self.transmit(self.data)]

    def on_response(self, response: Response, now: float) -> list[Event]:
        received = ResponseReceived(response=response, request=self.request, key=self.key)
        status = response.status
        if self.state in ("calling", "proceeding"):
            if status < 200:
                self.state = "proceeding"
                self.cancel_timer("A")
                return [received]
            self.cancel_timer("A", "B")
            if status < 300:
                self.state = "accepted"
                self.set_timer("M", now + 64 * self.config.t1)
                return [received]
            self.state = "completed"
            self.ack_bytes = build_non2xx_ack(self.request, response).to_bytes()
            self.set_timer("D", now + (0.0 if self.reliable else self.config.timer_d))
            return [self.transmit(self.ack_bytes), received]
        if self.state == "accepted" and 200 <= status < 300:
            return [received]
        if self.state == "completed" and status >= 300 and self.ack_bytes is not None:
            self.retransmissions += 1
            return [self.transmit(self.ack_bytes)]
        return []

    def fire(self, name: str, now: float) -> list[Event]:
        if name == "A" and self.state == "calling":
            self.retransmissions += 1
            self._interval *= 2
            self.set_timer("A", now + self._interval)
            return [self.transmit(self.data)]
        if name == "B":
            self.terminate()
            return [TransactionTimedOut(self.key, self.request, "B"), TransactionTerminated(self.key)]
        if name in ("D", "M"):
            self.terminate()
            return [TransactionTerminated(self.key)]
        return []


class ClientNonInviteTransaction(Transaction):
    """States: trying -> proceeding -> completed (Timer K) -> terminated; Timer E retransmits, F times out."""

    _interval: float = 0.0

    def start(self, now: float) -> list[Event]:
        self.state = "trying"
        self.data = self.request.to_bytes()
        t1 = self.config.t1
        self._interval = t1
        if not self.reliable:
            self.set_timer("E", now + t1)
        self.set_timer("F", now + 64 * t1)
        return [self.transmit(self.data)]

    def on_response(self, response: Response, now: float) -> list[Event]:
        if self.state not in ("trying", "proceeding"):
            return []
        received = ResponseReceived(response=response, request=self.request, key=self.key)
        if response.status < 200:
            self.state = "proceeding"
            return [received]
        self.state = "completed"
        self.cancel_timer("E", "F")
        self.set_timer("K", now + (0.0 if self.reliable else self.config.t4))
        return [received]

    def fire(self, name: str, now: float) -> list[Event]:
        if name == "E" and self.state in ("trying", "proceeding"):
            self.retransmissions += 1
            t2 = self.config.t2
            self._interval = t2 if self.state == "proceeding" else min(self._interval * 2, t2)
            self.set_timer("E", now + self._interval)
            return [self.transmit(self.data)]
        if name == "F":
            self.terminate()
            return [TransactionTimedOut(self.key, self.request, "F"), TransactionTerminated(self.key)]
        if name == "K":
            self.terminate()
            return [TransactionTerminated(self.key)]
        return []
