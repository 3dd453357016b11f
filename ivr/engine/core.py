"""The UA core, sans-IO: the transaction layer plus one call state machine per call leg (found by dialog id,
:mod:`ivr.engine.legs`), and the requests outside any call (OPTIONS, REGISTER, stray requests).

Bytes and time go in (:meth:`UaCore.receive`, :meth:`UaCore.tick`, :meth:`UaCore.feed`); out come
:class:`Transmit` (already routed), :class:`NewCall` (an initial INVITE: the shell opens an RTP port and calls
:meth:`UaCore.start_uas`, or :meth:`UaCore.reject`), and :class:`CallOutput` (media and application actions
of one call leg, with the shell's ``handle`` for it).  :meth:`UaCore.next_wakeup` says when to call :meth:`UaCore.tick`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from ivr.app import HangupEvent
from ivr.engine.callsm import new_uas, step
from ivr.engine.checks import check_request
from ivr.engine.guard import RequestGuard
from ivr.engine.legs import Leg, Legs
from ivr.engine.model import (
    Action,
    CallKey,
    CallState,
    CancelIn,
    Deliver,
    Event,
    Incoming,
    LocalMedia,
    Send,
    Terminated,
    Tick,
    TxTimeout,
    WakeAt,
)
from ivr.engine.model import Timers as CallTimers
from ivr.engine.registrar import Registrar
from ivr.engine.sipmsg import ACCEPT, ALLOW, SUPPORTED
from ivr.engine.upstream import Outgoing, UpstreamRegistrar
from ivr.sip import Request, Response, make_response, new_tag
from ivr.sip import events as ev
from ivr.sip.address import Endpoint
from ivr.sip.events import Transmit
from ivr.sip.transaction import TransactionLayer
from ivr.sip.tx_common import TimerConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewCall:
    request: Request
    source: Endpoint


@dataclass(frozen=True)
class CallOutput:
    key: CallKey
    action: Action
    handle: object = None  # the shell's object for the leg (given to start_uas / start_uac)

    @property
    def call_id(self) -> str:
        return self.key[0]


CHECKED_METHODS = frozenset(("INVITE", "OPTIONS", "REGISTER", "BYE", "INFO", "NOTIFY", "UPDATE", "PRACK", "REFER"))
"""The methods whose requests :func:`ivr.engine.checks.check_request` vets (an unknown method gets its 501 first;
ACK and CANCEL are never refused, RFC 3261 §8.2.2.3)."""

Output = Transmit | NewCall | CallOutput
""":class:`~ivr.sip.events.Transmit` is the transaction layer's own (already routed; ``.endpoint`` for the shell)."""


class UaCore:
    def __init__(self, timers: TimerConfig, registrar: Registrar, guard: RequestGuard | None = None) -> None:
        self.layer = TransactionLayer(timers)
        self.registrar = registrar
        self.guard = guard or RequestGuard(registrar.config.guard)  # rate limit per source IP, call ACL
        self.legs = Legs()
        self.wakes: dict[CallKey, float] = {}
        self.client_keys: dict[ev.TransactionKey, CallKey] = {}  # our requests' transactions -> their leg
        self.upstream_keys: set[ev.TransactionKey] = set()  # the upstream REGISTER transactions
        self.upstream: UpstreamRegistrar | None = None
        self.stats: Counter[str] = Counter()

    # ------------------------------------------------------------------ input
    def receive(self, data: bytes, source: Endpoint, now: float) -> list[Output]:
        if not self.guard.rate.admit(source.host, now):  # over its limit: dropped unread (the guard logs)
            self.stats["rate_limited"] += 1
            return []
        events = self.layer.receive_bytes(data, source.address, now, source.sip_transport)
        return self._process(events, now)

    def tick(self, now: float) -> list[Output]:
        out = self._process(self.layer.handle_timer(now), now)
        for key, at in list(self.wakes.items()):
            if at <= now and key in self.legs:
                del self.wakes[key]
                out += self.feed(key, Tick(now))
        upstream = self.upstream
        if upstream is not None and upstream.next_at is not None and upstream.next_at <= now:
            out += self._send_upstream(upstream.on_tick(now), now)
        return out

    def next_wakeup(self) -> float | None:
        times = [t for t in (self.layer.next_timer(), *self.wakes.values()) if t is not None]
        if self.upstream is not None and self.upstream.next_at is not None:
            times.append(self.upstream.next_at)
        return min(times) if times else None

    def feed(self, key: CallKey, event: Event) -> list[Output]:
        """Run one event through a leg's state machine and carry out its SIP actions."""
        leg = self.legs.get(key)
        if leg is None:
            return []
        try:
            state, actions = step(leg.state, event)
        except Exception:  # a bug hit by one call ends that call, never the others
            log.exception("call %s: state machine error on %s", key[0], type(event).__name__)
            self.stats["call_errors"] += 1
            self.forget(key)
            return [
                CallOutput(key, Deliver(HangupEvent("internal_error", False)), leg.handle),
                CallOutput(key, Terminated(), leg.handle),
            ]
        leg.state = state
        return self._apply(leg, actions, event.now)

    def state_of(self, key: CallKey) -> CallState | None:
        leg = self.legs.get(key)
        return leg.state if leg is not None else None

    # ------------------------------------------------------------------ calls
    def start_uas(
        self,
        invite: Request,
        source: Endpoint,
        *,
        local_media: LocalMedia,
        local_contact: str,
        timers: CallTimers,
        now: float,
        local_tag: str | None = None,
        handle: object = None,
    ) -> list[Output]:
        """Answer a :class:`NewCall`; the leg's key is (Call-ID, ``local_tag``), a new tag unless given."""
        tag = local_tag or new_tag()
        try:
            state, actions = new_uas(
                invite,
                source,
                local_media=local_media,
                local_contact=local_contact,
                local_tag=tag,
                timers=timers,
                now=now,
            )
        except Exception:  # never expected; the caller gets a 500 and the shell drops the call
            log.exception("call %s: cannot start", invite.call_id)
            self.stats["call_errors"] += 1
            return [*self.reject(invite, 500, now), CallOutput((invite.call_id, tag), Terminated(), handle)]
        leg = Leg(state, handle)
        self.legs.add(leg)
        return self._apply(leg, actions, now)

    def start_uac(self, state: CallState, actions: list[Action], now: float, handle: object = None) -> list[Output]:
        leg = Leg(state, handle)
        self.legs.add(leg)
        return self._apply(leg, actions, now)

    def reject(
        self,
        request: Request,
        status: int,
        now: float,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> list[Output]:
        response = make_response(request, status, reason, to_tag=new_tag(), headers=headers)
        return self._process(self.layer.send_response(response, now), now)

    def forget(self, key: CallKey) -> None:
        self.legs.remove(key)
        self.wakes.pop(key, None)

    # ------------------------------------------------------------------ upstream registration
    def start_upstream(self, upstream: UpstreamRegistrar, now: float) -> list[Output]:
        self.upstream = upstream
        return self._send_upstream(upstream.start(now), now)

    def stop_upstream(self, now: float) -> list[Output]:
        if self.upstream is None or not self.upstream.registered:
            return []
        return self._send_upstream(self.upstream.unregister(now), now)

    def _send_upstream(self, outgoing: list[Outgoing], now: float) -> list[Output]:
        out: list[Output] = []
        for item in outgoing:
            key, events = self.layer.send_request(item.request, item.dest.address, now, item.dest.sip_transport)
            self.upstream_keys.add(key)
            out += self._process(events, now)
        return out

    # ------------------------------------------------------------------ plumbing
    def _apply(self, leg: Leg, actions: list[Action], now: float) -> list[Output]:
        key = leg.key
        out: list[Output] = []
        for action in actions:
            if isinstance(action, Send):
                out += self._send(key, action, now)
            elif isinstance(action, WakeAt):
                if action.at is None:
                    self.wakes.pop(key, None)
                else:
                    self.wakes[key] = action.at
            else:
                if isinstance(action, Terminated):
                    self.forget(key)
                out.append(CallOutput(key, action, leg.handle))
        return out

    def _send(self, key: CallKey, action: Send, now: float) -> list[Output]:
        message, dest = action.message, action.dest
        if isinstance(message, Response):
            return self._process(self.layer.send_response(message, now), now)
        address, transport = dest.address, dest.sip_transport
        if message.method == "ACK":
            return self._process(self.layer.send_stateless(message, address, transport), now)
        tx_key, events = self.layer.send_request(message, address, now, transport)
        self.client_keys[tx_key] = key
        return self._process(events, now)

    def _feed_request(self, request: Request, event: Event) -> list[Output]:
        leg = self.legs.for_request(request)
        return self.feed(leg.key, event) if leg is not None else []

    def _process(self, events: list[ev.Event], now: float) -> list[Output]:
        out: list[Output] = []
        for event in events:
            if isinstance(event, Transmit):
                out.append(event)
            elif isinstance(event, ev.RequestReceived):
                out += self._on_request(event.request, Endpoint.of(event.source, event.transport), now)
            elif isinstance(event, ev.ResponseReceived):
                out += self._on_response(event, now)
            elif isinstance(event, ev.AckReceived):
                source = Endpoint.of(event.source, event.transport)
                out += self._feed_request(event.ack, Incoming(event.ack, source, now))
            elif isinstance(event, ev.CancelReceived):
                out += self._feed_request(event.invite, CancelIn(now))
            elif isinstance(event, ev.TransactionTimedOut):
                out += self._on_timeout(event, now)
            elif isinstance(event, ev.TransactionTerminated):
                self.client_keys.pop(event.key, None)
                self.upstream_keys.discard(event.key)
            elif isinstance(event, ev.MessageDropped):
                self.stats["dropped"] += 1
        return out

    def _on_response(self, event: ev.ResponseReceived, now: float) -> list[Output]:
        if event.key in self.upstream_keys:
            if self.upstream is None:
                return []
            return self._send_upstream(self.upstream.on_response(event.response, now), now)
        key = self.client_keys.get(event.key)
        leg = self.legs.get(key) if key is not None else None
        if leg is None:
            return []
        source = leg.state.remote_endpoint or Endpoint("udp", "127.0.0.1", 5060)
        return self.feed(leg.key, Incoming(event.response, source, now))

    def _on_timeout(self, event: ev.TransactionTimedOut, now: float) -> list[Output]:
        if event.key in self.upstream_keys:
            self.upstream_keys.discard(event.key)
            if self.upstream is None:
                return []
            return self._send_upstream(self.upstream.on_timeout(now), now)
        key = self.client_keys.pop(event.key, None)
        timeout = TxTimeout(event.request, event.timer, now)
        if key is not None:  # one of our requests
            return self.feed(key, timeout)
        return self._feed_request(event.request, timeout)  # our response to one of theirs was never ACKed

    def _on_request(self, req: Request, source: Endpoint, now: float) -> list[Output]:
        method = req.method
        if method == "INVITE" and not req.to_tag and not self.guard.acl.allows(source.host):
            self.stats["acl_refused"] += 1
            return self.reject(req, 403, now)
        if method == "INVITE" and not req.to_tag and self.legs.uas_leg(req.call_id, req.from_tag or "") is not None:
            # the INVITE of a call we answer again, on another branch: a loop or a fork that came back
            # (RFC 3261 §8.2.2.2 merged request); its retransmissions the transaction layer absorbs
            return self.reject(req, 482, now)
        if method in CHECKED_METHODS:
            refusal = check_request(req)  # Require (420), body type (415), Accept (406): RFC 3261 §8.2.2.3, §8.2.3
            if refusal is not None:
                self.stats[f"refused_{refusal.status}"] += 1
                return self.reject(req, refusal.status, now, refusal.reason, refusal.headers)
        if method == "INVITE" and not req.to_tag:
            return [NewCall(req, source)]
        leg = self.legs.for_request(req)
        if leg is not None:
            return self.feed(leg.key, Incoming(req, source, now))
        if req.to_tag and self.legs.has_call_id(req.call_id):  # a call of ours, not this dialog (RFC 3261 §12.2.2)
            if method == "ACK":
                return []
            extra = [("Allow", ALLOW), ("Supported", SUPPORTED)] if method in ("INVITE", "OPTIONS") else None
            return self.reject(req, 481, now, headers=extra)
        if method == "OPTIONS":
            return self.reject(req, 200, now, headers=[("Allow", ALLOW), ("Accept", ACCEPT), ("Supported", SUPPORTED)])
        if method == "REGISTER":
            status, reason, headers = self.registrar.on_register(req, source, now)
            return self.reject(req, status, now, reason, headers)
        if method in ("BYE", "INFO", "NOTIFY", "UPDATE", "INVITE", "PRACK", "REFER", "CANCEL"):
            return self.reject(req, 481, now)
        return self.reject(req, 501, now, headers=[("Allow", ALLOW)])
