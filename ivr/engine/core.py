"""The UA core, sans-IO: the transaction layer plus one call state machine per Call-ID, and the requests
outside any call (OPTIONS, REGISTER, stray requests).

Bytes and time go in (:meth:`UaCore.receive`, :meth:`UaCore.tick`, :meth:`UaCore.feed`); out come
:class:`Transmit` (already routed), :class:`NewCall` (an initial INVITE: the shell opens an RTP port and calls
:meth:`UaCore.start_uas`, or :meth:`UaCore.reject`), and :class:`CallOutput` (media and application actions
of one call).  :meth:`UaCore.next_wakeup` says when to call :meth:`UaCore.tick`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from ivr.app import HangupEvent
from ivr.engine.callsm import new_uas, step
from ivr.engine.model import (
    Action,
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
UPSTREAM = "\x00upstream"  # client_keys owner of the upstream REGISTER transactions


@dataclass(frozen=True)
class NewCall:
    request: Request
    source: Endpoint


@dataclass(frozen=True)
class CallOutput:
    call_id: str
    action: Action


Output = Transmit | NewCall | CallOutput
""":class:`~ivr.sip.events.Transmit` is the transaction layer's own (already routed; ``.endpoint`` for the shell)."""


class UaCore:
    def __init__(self, timers: TimerConfig, registrar: Registrar) -> None:
        self.layer = TransactionLayer(timers)
        self.registrar = registrar
        self.calls: dict[str, CallState] = {}
        self.wakes: dict[str, float] = {}
        self.client_keys: dict[ev.TransactionKey, str] = {}
        self.upstream: UpstreamRegistrar | None = None
        self.stats: Counter[str] = Counter()

    # ------------------------------------------------------------------ input
    def receive(self, data: bytes, source: Endpoint, now: float) -> list[Output]:
        events = self.layer.receive_bytes(data, source.address, now, source.sip_transport)
        return self._process(events, now)

    def tick(self, now: float) -> list[Output]:
        out = self._process(self.layer.handle_timer(now), now)
        for call_id, at in list(self.wakes.items()):
            if at <= now and call_id in self.calls:
                del self.wakes[call_id]
                out += self.feed(call_id, Tick(now))
        upstream = self.upstream
        if upstream is not None and upstream.next_at is not None and upstream.next_at <= now:
            out += self._send_upstream(upstream.on_tick(now), now)
        return out

    def next_wakeup(self) -> float | None:
        times = [t for t in (self.layer.next_timer(), *self.wakes.values()) if t is not None]
        if self.upstream is not None and self.upstream.next_at is not None:
            times.append(self.upstream.next_at)
        return min(times) if times else None

    def feed(self, call_id: str, event: Event) -> list[Output]:
        """Run one event through a call's state machine and carry out its SIP actions."""
        state = self.calls.get(call_id)
        if state is None:
            return []
        try:
            state, actions = step(state, event)
        except Exception:  # a bug hit by one call ends that call, never the others
            log.exception("call %s: state machine error on %s", call_id, type(event).__name__)
            self.stats["call_errors"] += 1
            self.forget(call_id)
            return [
                CallOutput(call_id, Deliver(HangupEvent("internal_error", False))),
                CallOutput(call_id, Terminated()),
            ]
        self.calls[call_id] = state
        return self._apply(call_id, actions, event.now)

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
    ) -> list[Output]:
        try:
            state, actions = new_uas(
                invite,
                source,
                local_media=local_media,
                local_contact=local_contact,
                local_tag=new_tag(),
                timers=timers,
                now=now,
            )
        except Exception:  # never expected; the caller gets a 500 and the shell drops the call
            log.exception("call %s: cannot start", invite.call_id)
            self.stats["call_errors"] += 1
            return [*self.reject(invite, 500, now), CallOutput(invite.call_id, Terminated())]
        self.calls[state.call_id] = state
        return self._apply(state.call_id, actions, now)

    def start_uac(self, state: CallState, actions: list[Action], now: float) -> list[Output]:
        self.calls[state.call_id] = state
        return self._apply(state.call_id, actions, now)

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

    def forget(self, call_id: str) -> None:
        self.calls.pop(call_id, None)
        self.wakes.pop(call_id, None)

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
            self.client_keys[key] = UPSTREAM
            out += self._process(events, now)
        return out

    # ------------------------------------------------------------------ plumbing
    def _apply(self, call_id: str, actions: list[Action], now: float) -> list[Output]:
        out: list[Output] = []
        for action in actions:
            if isinstance(action, Send):
                out += self._send(call_id, action, now)
            elif isinstance(action, WakeAt):
                if action.at is None:
                    self.wakes.pop(call_id, None)
                else:
                    self.wakes[call_id] = action.at
            else:
                if isinstance(action, Terminated):
                    self.forget(call_id)
                out.append(CallOutput(call_id, action))
        return out

    def _send(self, call_id: str, action: Send, now: float) -> list[Output]:
        message, dest = action.message, action.dest
        if isinstance(message, Response):
            return self._process(self.layer.send_response(message, now), now)
        address, transport = dest.address, dest.sip_transport
        if message.method == "ACK":
            return self._process(self.layer.send_stateless(message, address, transport), now)
        key, events = self.layer.send_request(message, address, now, transport)
        self.client_keys[key] = call_id
        return self._process(events, now)

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
                out += self.feed(event.ack.call_id, Incoming(event.ack, source, now))
            elif isinstance(event, ev.CancelReceived):
                out += self.feed(event.invite.call_id, CancelIn(now))
            elif isinstance(event, ev.TransactionTimedOut):
                out += self._on_timeout(event, now)
            elif isinstance(event, ev.TransactionTerminated):
                self.client_keys.pop(event.key, None)
            elif isinstance(event, ev.MessageDropped):
                self.stats["dropped"] += 1
        return out

    def _on_response(self, event: ev.ResponseReceived, now: float) -> list[Output]:
        owner = self.client_keys.get(event.key)
        if owner == UPSTREAM and self.upstream is not None:
            return self._send_upstream(self.upstream.on_response(event.response, now), now)
        state = self.calls.get(owner or "")
        if state is None:
            return []
        source = state.remote_endpoint or Endpoint("udp", "127.0.0.1", 5060)
        return self.feed(state.call_id, Incoming(event.response, source, now))

    def _on_timeout(self, event: ev.TransactionTimedOut, now: float) -> list[Output]:
        owner = self.client_keys.pop(event.key, None)
        if owner == UPSTREAM and self.upstream is not None:
            return self._send_upstream(self.upstream.on_timeout(now), now)
        call_id = owner if owner is not None else event.request.call_id
        return self.feed(call_id, TxTimeout(event.request, event.timer, now))

    def _on_request(self, req: Request, source: Endpoint, now: float) -> list[Output]:
        if req.call_id in self.calls:
            return self.feed(req.call_id, Incoming(req, source, now))
        method = req.method
        if method == "INVITE" and not req.to_tag:
            return [NewCall(req, source)]
        if method == "OPTIONS":
            return self.reject(req, 200, now, headers=[("Allow", ALLOW), ("Accept", ACCEPT), ("Supported", SUPPORTED)])
        if method == "REGISTER":
            status, reason, headers = self.registrar.on_register(req, source, now)
            return self.reject(req, status, now, reason, headers)
        if method in ("BYE", "INFO", "NOTIFY", "UPDATE", "INVITE", "PRACK", "REFER", "CANCEL"):
            return self.reject(req, 481, now)
        return self.reject(req, 501, now, headers=[("Allow", ALLOW)])
