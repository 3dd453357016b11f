"""The sans-IO transaction layer (RFC 3261 §17, §18): bytes and time in, events out.

Usage by the network shell (one instance per SIP endpoint)::

    events = layer.receive_bytes(datagram, source, now, "UDP")
    key, events = layer.send_request(request, dest, now)
    events = layer.send_response(response, now)          # the key is derived from Via/CSeq
    events = layer.handle_timer(now)                       # call at layer.next_timer()

Every ``Transmit`` event is already routed (RFC 3261 §18.2.2 / RFC 3581): the shell just sends it.
"""

from __future__ import annotations

import heapq
from collections import Counter

from ivr.sip.errors import SipParseError
from ivr.sip.events import (
    Address,
    CancelReceived,
    Event,
    MessageDropped,
    RequestReceived,
    TransactionKey,
    Transmit,
)
from ivr.sip.headers import MAGIC_COOKIE, Via, parse_via
from ivr.sip.message import Message, Request, Response, make_response, new_branch
from ivr.sip.parser import parse_message
from ivr.sip.tx_client import ClientInviteTransaction, ClientNonInviteTransaction
from ivr.sip.tx_common import TimerConfig, Transaction, response_destination, stamp_via
from ivr.sip.tx_server import ServerInviteTransaction, ServerNonInviteTransaction

ServerTransaction = ServerInviteTransaction | ServerNonInviteTransaction
ClientTransaction = ClientInviteTransaction | ClientNonInviteTransaction


def server_key(request: Request, method: str | None = None) -> TransactionKey:
    """Server transaction key (§17.2.3); ``method`` overrides the request's (ACK/CANCEL -> INVITE lookups)."""
    via = request.top_via
    method = method or ("INVITE" if request.method == "ACK" else request.method)
    branch = via.branch
    if branch and branch.startswith(MAGIC_COOKIE):
        return ("s", branch, f"{via.host}:{via.port or ''}", method)
    # RFC 2543 peers: Request-URI, From tag, Call-ID, CSeq number and the top Via as sent.
    return ("s2543", request.uri, request.from_tag or "", request.call_id, str(request.cseq[0]), _via_sent(via),
            method)


def _via_sent(via: Via) -> str:
    params = {k: v for k, v in via.params.items() if k not in ("received", "rport")}
    return str(Via(via.transport, via.host, via.port, params, via.protocol))


def client_key(message: Message) -> TransactionKey:
    return ("c", message.top_via.branch or "", message.cseq[1])


class TransactionLayer:
    """All SIP transactions of one endpoint.  Pure: no sockets, no clock (``now`` is passed in)."""

    def __init__(self, config: TimerConfig | None = None) -> None:
        self.config = config or TimerConfig()
        self.server: dict[TransactionKey, ServerTransaction] = {}
        self.client: dict[TransactionKey, ClientTransaction] = {}
        # 2xx responses to INVITE waiting for their ACK: (Call-ID, From tag, CSeq number) -> transaction
        self._awaiting_ack: dict[tuple[str, str, int], ServerInviteTransaction] = {}
        self._heap: list[tuple[float, int, TransactionKey, str]] = []
        self._seq = 0
        self.stats: Counter[str] = Counter()

    # ------------------------------------------------------------------ timers
    def _schedule(self, tx: Transaction, name: str, deadline: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, tx.key, name))

    def next_timer(self) -> float | None:
        """Earliest pending deadline (stale heap entries are discarded lazily)."""
        while self._heap:
            deadline, _, key, name = self._heap[0]
            tx = self._lookup(key)
            if tx is not None and tx.timers.get(name) == deadline:
                return deadline
            heapq.heappop(self._heap)
        return None

    def handle_timer(self, now: float) -> list[Event]:
        events: list[Event] = []
        while self._heap and self._heap[0][0] <= now:
            deadline, _, key, name = heapq.heappop(self._heap)
            tx = self._lookup(key)
            if tx is None or tx.timers.get(name) != deadline:
                continue
            del tx.timers[name]
            events.extend(tx.fire(name, now))
            self._reap(tx)
        return events

    def _lookup(self, key: TransactionKey) -> Transaction | None:
        return self.server.get(key) if key[0].startswith("s") else self.client.get(key)

    def _reap(self, tx: Transaction) -> None:
        if not tx.terminated:
            return
        if isinstance(tx, ServerInviteTransaction):
            self.server.pop(tx.key, None)
            self._awaiting_ack.pop(_ack_key(tx.request), None)
        elif isinstance(tx, ServerNonInviteTransaction):
            self.server.pop(tx.key, None)
        else:
            self.client.pop(tx.key, None)

    # ------------------------------------------------------------------ input
    def receive_bytes(self, data: bytes, source: Address, now: float, transport: str = "UDP") -> list[Event]:
        """Parse and process one datagram (or one framed stream message).  Malformed requests get a 400."""
        try:
            message = parse_message(data, stream=transport.upper() != "UDP")
        except SipParseError as exc:
            self.stats["parse_errors"] += 1
            events: list[Event] = [MessageDropped(exc.reason, source)]
            partial = exc.partial
            if partial is not None and partial.method != "ACK":
                try:
                    via = stamp_via(partial.top_via, source)
                    partial.headers.replace_first_value("Via", str(via))
                    response = make_response(partial, exc.status, exc.reason)
                    dest = response_destination(via, source, transport)
                    events.append(Transmit(response.to_bytes(), dest, transport.upper()))
                    self.stats["bad_request_answered"] += 1
                except SipParseError:
                    pass
            return events
        return self.receive(message, source, now, transport)

    def receive(self, message: Message, source: Address, now: float, transport: str = "UDP") -> list[Event]:
        """Process one parsed message (requests must carry Via, From, To, Call-ID, CSeq: the parser checks)."""
        try:
            if isinstance(message, Response):
                return self._receive_response(message, source, now)
            return self._receive_request(message, source, now, transport.upper())
        except SipParseError as exc:
            self.stats["dropped"] += 1
            return [MessageDropped(exc.reason, source)]

    def _receive_response(self, response: Response, source: Address, now: float) -> list[Event]:
        if len(response.vias) != 1:  # RFC 3261 §18.1.2: not for us (we are not a proxy)
            self.stats["stray_responses"] += 1
            return [MessageDropped("response with more than one Via", source)]
        tx = self.client.get(client_key(response))
        if tx is None:
            self.stats["stray_responses"] += 1
            return [MessageDropped("stray response", source)]
        events = tx.on_response(response, now)
        self._reap(tx)
        return events

    def _receive_request(self, request: Request, source: Address, now: float, transport: str) -> list[Event]:
        key = server_key(request)
        via = stamp_via(request.top_via, source)
        request.headers.replace_first_value("Via", str(via))
        if request.method == "ACK":
            return self._receive_ack(request, key, source, now)
        if request.method == "CANCEL":
            existing = self.server.get(key)
            if existing is not None:
                return existing.on_retransmission()
            return self._receive_cancel(request, key, via, source, now, transport)
        existing = self.server.get(key)
        if existing is not None:
            self.stats["retransmissions_absorbed"] += 1
            return existing.on_retransmission()
        tx = self._new_server(request, key, via, source, transport)
        events: list[Event] = [RequestReceived(request, source, transport, key)]
        return [*tx.start(now), *events]

    def _new_server(
        self, request: Request, key: TransactionKey, via: Via, source: Address, transport: str
    ) -> ServerTransaction:
        dest = response_destination(via, source, transport)
        cls = ServerInviteTransaction if request.method == "INVITE" else ServerNonInviteTransaction
        tx = cls(key, request, transport, dest, self.config, self._schedule)
        self.server[key] = tx
        return tx

    def _receive_ack(self, ack: Request, key: TransactionKey, source: Address, now: float) -> list[Event]:
        tx = self.server.get(key)
        if not isinstance(tx, ServerInviteTransaction):
            tx = self._awaiting_ack.get(_ack_key(ack))
        if isinstance(tx, ServerInviteTransaction) and (tx.state == "confirmed" or tx.acked):
            self.stats["duplicate_acks"] += 1
            return []
        if not isinstance(tx, ServerInviteTransaction) or tx.state not in ("completed", "accepted"):
            self.stats["stray_acks"] += 1
            return [MessageDropped("ACK matches no transaction", source)]
        events = tx.on_ack(ack, source, now)
        self._reap(tx)
        return events

    def _receive_cancel(
        self, cancel: Request, key: TransactionKey, via: Via, source: Address, now: float, transport: str
    ) -> list[Event]:
        invite_tx = self.server.get(server_key(cancel, "INVITE"))
        tx = self._new_server(cancel, key, via, source, transport)
        tx.start(now)
        if not isinstance(invite_tx, ServerInviteTransaction):
            return tx.send_response(make_response(cancel, 481), now)
        last = invite_tx.last_response
        events = tx.send_response(make_response(cancel, 200, to_tag=last.to_tag if last else None), now)
        if invite_tx.state == "proceeding":
            events.append(CancelReceived(cancel=cancel, invite=invite_tx.request, invite_key=invite_tx.key))
        return events

    # ------------------------------------------------------------------ output
    def send_request(
        self, request: Request, dest: Address, now: float, transport: str = "UDP"
    ) -> tuple[TransactionKey, list[Event]]:
        """Start a client transaction.  The request needs a top Via; a missing RFC 3261 branch is added.

        ACK is not a transaction: send the ACK for a 2xx with :meth:`send_stateless`.
        """
        if request.method == "ACK":
            raise ValueError("ACK is sent with send_stateless(), not as a transaction")
        vias = request.headers.get_all("Via")
        if not vias:
            raise ValueError("request has no Via header")
        via = parse_via(vias[0])
        if not via.is_rfc3261:
            via = via.with_params(branch=new_branch())
            request.headers.replace_first_value("Via", str(via))
        key = client_key(request)
        cls = ClientInviteTransaction if request.method == "INVITE" else ClientNonInviteTransaction
        tx = cls(key, request, transport, dest, self.config, self._schedule)
        self.client[key] = tx
        return key, tx.start(now)

    def send_response(self, response: Response, now: float, key: TransactionKey | None = None) -> list[Event]:
        """Send a response through its server transaction (found by ``key`` or from the response's Via/CSeq)."""
        tx = self.server.get(key) if key is not None else self._server_for_response(response)
        if tx is None or tx.terminated:
            self.stats["late_responses"] += 1
            return []
        events = tx.send_response(response, now)
        if isinstance(tx, ServerInviteTransaction) and tx.state == "accepted":
            self._awaiting_ack[_ack_key(tx.request)] = tx
        self._reap(tx)
        return events

    def _server_for_response(self, response: Response) -> ServerTransaction | None:
        try:
            via = response.top_via
            method = response.cseq[1]
        except SipParseError:
            return None
        if via.is_rfc3261:
            return self.server.get(("s", via.branch or "", f"{via.host}:{via.port or ''}", method))
        for tx in self.server.values():
            req = tx.request
            if req.call_id == response.call_id and req.headers.get("CSeq") == response.headers.get("CSeq") and (
                req.headers.get_all("Via")[:1] == response.headers.get_all("Via")[:1]
            ):
                return tx
        return None

    def send_stateless(self, message: Message, dest: Address, transport: str = "UDP") -> list[Event]:
        """Send outside any transaction (the UAC's ACK for a 2xx, or a stateless response)."""
        return [Transmit(message.to_bytes(), dest, transport.upper())]

    def __len__(self) -> int:
        return len(self.server) + len(self.client)


def _ack_key(request: Request) -> tuple[str, str, int]:
    return request.call_id, request.from_tag or "", request.cseq[0]
