"""Engine: the network shell around the sans-IO call state machine (implements :class:`ivr.app.CallEngine`).

It parses what the transports deliver, routes it to the call it belongs to (by Call-ID), runs
:func:`ivr.engine.callsm.step` and carries out the actions: send bytes, arm the call's single timer, drive the
call's :class:`~ivr.media.MediaSession`, and hand events to the application, which runs as one asyncio task
per answered call.  Requests outside any call (OPTIONS, REGISTER, unknown methods) are answered here.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from config.ivr import IvrConfig
from ivr.app import Call, CallHandler, DialFailed
from ivr.engine import callsm
from ivr.engine.call import EngineCall
from ivr.engine.model import (
    Action,
    Answered,
    Deliver,
    DialFailure,
    Event,
    HangupCmd,
    Incoming,
    LocalMedia,
    Send,
    StartMedia,
    StopMedia,
    Terminated,
    Tick,
    Timers,
    UpdateMedia,
    WakeAt,
)
from ivr.engine.registrar import Registrar
from ivr.engine.sipmsg import ACCEPT, ALLOW, SUPPORTED, response_dest, uri_dest
from ivr.engine.uac import new_uac
from ivr.engine.upstream import Outgoing, UpstreamRegistrar
from ivr.media import AsyncioClock, MediaBridge, MediaError, MediaSession, Pacer
from ivr.net import Endpoint, NetStats, SipTransports, reactor_for_loop
from ivr.sip import Request, Response, SipParseError, StreamFramer, make_response, new_call_id, new_tag, parse_message

log = logging.getLogger(__name__)
MEDIA_CODECS = ("PCMU", "PCMA")  # what ivr.media encodes


class Engine:
    """SIP endpoint: answers calls with ``handler``, places outgoing legs, bridges, registrar."""

    def __init__(self, config: IvrConfig | None = None, handler: CallHandler | None = None) -> None:
        self.config = config or IvrConfig()
        self.handler = handler
        self.calls: dict[str, EngineCall] = {}
        self.port = 0
        self.transports: SipTransports | None = None
        self.pacer: Pacer | None = None
        self.registrar = Registrar(self.config)
        self.answer_delay = 0.0
        self.finished_calls = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_call_started: Callable[[EngineCall], None] | None = None  # hook for tests / monitoring
        self.upstream: UpstreamRegistrar | None = None
        self._upstream_timer: asyncio.TimerHandle | None = None
        self._housekeeping: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ lifecycle

    def set_handler(self, handler: CallHandler) -> None:
        self.handler = handler

    @property
    def public_host(self) -> str:
        return self.config.public_host()

    @property
    def stats(self) -> NetStats:
        assert self.transports is not None
        return self.transports.stats

    async def start(self) -> int:
        """Listen on the configured host/port (port 0 picks one); returns the SIP port."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.pacer = Pacer(AsyncioClock(loop))
        self.transports = SipTransports(
            reactor_for_loop(loop), self.on_message, StreamFramer, max_datagram=self.config.max_datagram
        )
        self.port = self.transports.listen(self.config.host, self.config.port, list(self.config.transports))
        log.info("SIP listening on %s:%d (%s)", self.config.host, self.port, "/".join(self.config.transports))
        up = self.config.upstream
        if up.enabled:
            transport = "udp" if "udp" in self.config.transports else "tcp"
            contact = self._contact(up.username, transport)
            self.upstream = UpstreamRegistrar(up, contact, self.public_host, self.port, t1=self.config.timers.t1)
            self._send_upstream(self.upstream.start(self.now()))
        self._housekeeping = loop.call_later(1.0, self._housekeep)
        return self.port

    def _send_upstream(self, outgoing: list[Outgoing]) -> None:
        assert self.transports is not None and self._loop is not None
        for item in outgoing:
            self.transports.send(item.request.to_bytes(), item.dest)
        if self._upstream_timer is not None:
            self._upstream_timer.cancel()
            self._upstream_timer = None
        upstream = self.upstream
        if upstream is not None and upstream.next_at is not None:
            self._upstream_timer = self._loop.call_at(
                upstream.next_at, lambda: self._send_upstream(upstream.on_tick(self.now()))
            )

    def _housekeep(self) -> None:
        """Once a second: hang up calls without RTP for ``rtp_timeout`` or older than ``max_call_seconds``."""
        assert self._loop is not None
        now = self.now()
        timers = self.config.timers
        for call in list(self.calls.values()):
            if call.ended or call.state.phase not in ("answering", "confirmed"):
                continue
            last_rtp = call.media.last_rtp_at or call.started_at
            if timers.rtp_timeout > 0 and now - last_rtp > timers.rtp_timeout:
                self.feed(call, HangupCmd(now, "rtp_timeout"))
            elif now - call.started_at > timers.max_call_seconds:
                self.feed(call, HangupCmd(now, "max_duration"))
        self._housekeeping = self._loop.call_later(1.0, self._housekeep)

    async def stop(self, grace: float = 2.0) -> None:
        """Hang up every call (BYE / final response), wait up to ``grace`` s for them to end, close sockets."""
        for call in list(self.calls.values()):
            if not call.ended:
                self.feed(call, HangupCmd(self.now(), "shutdown", 503))
        deadline = self.now() + grace
        while any(c.state.phase not in ("ended",) for c in self.calls.values()) and self.now() < deadline:
            await asyncio.sleep(0.05)
        if self.upstream is not None and self.upstream.registered:
            self._send_upstream(self.upstream.unregister(self.now()))
        for handle in (self._upstream_timer, self._housekeeping):
            if handle is not None:
                handle.cancel()
        self._upstream_timer = self._housekeeping = None
        for task in list(self._tasks):
            task.cancel()
        for call in list(self.calls.values()):
            self._forget(call)
        if self.transports is not None:
            self.transports.close()
        if self.pacer is not None:
            self.pacer.stop()

    def now(self) -> float:
        loop = self._loop or asyncio.get_running_loop()
        return loop.time()

    # ------------------------------------------------------------------ inbound

    def on_message(self, data: bytes, source: Endpoint) -> None:
        assert self.transports is not None
        stats = self.transports.stats
        try:
            message = parse_message(data, stream=source.transport == "tcp")
        except SipParseError as exc:
            if exc.partial is not None:
                stats.bad_requests += 1
                reply = make_response(exc.partial, exc.status, exc.reason or "Bad Request")
                self.transports.send(reply.to_bytes(), response_dest(exc.partial, source))
            else:
                stats.garbage_dropped += 1
            return
        except Exception:  # the parser should never raise anything else; never let it escape
            stats.garbage_dropped += 1
            log.exception("parser failure on %d bytes from %s", len(data), source)
            return
        call = self.calls.get(message.call_id)
        if call is not None:
            self.feed(call, Incoming(message, source, self.now()))
        elif isinstance(message, Request):
            self._out_of_dialog(message, source)
        elif isinstance(message, Response) and self.upstream is not None:
            self._send_upstream(self.upstream.on_response(message, self.now()))

    def _reply(
        self,
        req: Request,
        source: Endpoint,
        status: int,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        assert self.transports is not None
        resp = make_response(req, status, reason, to_tag=new_tag(), headers=headers)
        self.transports.send(resp.to_bytes(), response_dest(req, source))

    def _out_of_dialog(self, req: Request, source: Endpoint) -> None:
        method = req.method
        if method == "INVITE" and not req.to_tag:
            self._new_call(req, source)
        elif method == "OPTIONS":
            self._reply(req, source, 200, headers=[("Allow", ALLOW), ("Accept", ACCEPT), ("Supported", SUPPORTED)])
        elif method == "REGISTER":
            status, reason, headers = self.registrar.on_register(req, source, self.now())
            self._reply(req, source, status, reason, headers)
        elif method == "ACK":
            return
        elif method in ("CANCEL", "BYE", "INFO", "NOTIFY", "UPDATE", "INVITE", "PRACK", "REFER"):
            self._reply(req, source, 481)
        else:
            self._reply(req, source, 501, headers=[("Allow", ALLOW)])

    def _open_media(self) -> MediaSession:
        assert self.pacer is not None
        bind = self.config.host if self.config.host not in ("", "::") else "0.0.0.0"
        media = MediaSession(
            local_host=bind,
            port_range=(self.config.rtp_port_min, self.config.rtp_port_max),
            pacer=self.pacer,
            clock=self.pacer.clock,
            loop=self._loop,
        )
        media.open()
        return media

    def _local_media(self, port: int) -> LocalMedia:
        codecs = tuple(c for c in self.config.codecs if c in MEDIA_CODECS) or MEDIA_CODECS
        return LocalMedia(self.public_host, port, codecs, self.config.dtmf_payload_type, secrets.randbits(31))

    def _timers(self) -> Timers:
        t = self.config.timers
        return Timers(t1=t.t1, t2=t.t2, t4=t.t4, answer_delay=self.answer_delay)

    def _contact(self, user: str, transport: str) -> str:
        tp = ";transport=tcp" if transport == "tcp" else ""
        return f"<sip:{user or 'ivr'}@{self.public_host}:{self.port}{tp}>"

    def _new_call(self, invite: Request, source: Endpoint) -> None:
        live = sum(1 for c in self.calls.values() if c.state.phase != "ended")
        if self.handler is None or live >= self.config.max_calls:
            self._reply(invite, source, 503, "Service Unavailable", [("Retry-After", "5")])
            return
        try:
            media = self._open_media()
        except (MediaError, OSError) as exc:
            log.warning("no RTP port for a new call: %s", exc)
            self._reply(invite, source, 503, "No Media Port", [("Retry-After", "5")])
            return
        from ivr.engine.sipmsg import user_of

        state, actions = callsm.new_uas(
            invite,
            source,
            local_media=self._local_media(media.port),
            local_contact=self._contact(user_of(invite.uri), source.transport),
            local_tag=new_tag(),
            timers=self._timers(),
            now=self.now(),
        )
        call = EngineCall(self, state, media)
        self.calls[state.call_id] = call
        self._apply(call, actions)

    # ------------------------------------------------------------------ state machine glue

    def feed(self, call: EngineCall, event: Event) -> None:
        try:
            call.state, actions = callsm.step(call.state, event)
        except Exception:  # a bug in one call never takes the engine down: end that call
            log.exception("call %s: state machine error on %s", call.call_id, type(event).__name__)
            self._forget(call)
            return
        self._apply(call, actions)

    def _apply(self, call: EngineCall, actions: list[Action]) -> None:
        assert self.transports is not None
        for action in actions:
            if isinstance(action, Send):
                self.transports.send(action.message.to_bytes(), action.dest)
            elif isinstance(action, WakeAt):
                self._arm(call, action.at)
            elif isinstance(action, (StartMedia, UpdateMedia)):
                p = action.params
                try:
                    call.media.set_remote(
                        p.remote_host,
                        p.remote_port,
                        payload_type=p.payload_type,
                        codec=p.codec,
                        dtmf_payload_type=p.dtmf_payload_type,
                    )
                    call.media.set_direction(p.direction)
                except (MediaError, ValueError) as exc:
                    log.warning("call %s: media setup failed: %s", call.call_id, exc)
            elif isinstance(action, StopMedia):
                call.media.close()
            elif isinstance(action, Answered):
                if not call.answered.done():
                    call.answered.set_result(None)
                if call.state.role == "uas":
                    self._start_handler(call)
            elif isinstance(action, DialFailure):
                if not call.answered.done():
                    call.answered.set_exception(DialFailed(action.status, action.reason))
            elif isinstance(action, Deliver):
                call.deliver(action.event)
            elif isinstance(action, Terminated):
                self._forget(call)

    def _arm(self, call: EngineCall, at: float | None) -> None:
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None
        if at is not None and self._loop is not None:
            call.timer = self._loop.call_at(at, lambda: self._tick(call))

    def _tick(self, call: EngineCall) -> None:
        call.timer = None
        if self.calls.get(call.call_id) is call:
            self.feed(call, Tick(self.now()))

    def _forget(self, call: EngineCall) -> None:
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None
        call.media.close()
        if self.calls.get(call.call_id) is call:
            del self.calls[call.call_id]
            self.finished_calls += 1
        if not call.answered.done():
            call.answered.set_exception(DialFailed(0, "call ended"))
            call.answered.exception()  # mark retrieved

    def _start_handler(self, call: EngineCall) -> None:
        if call.task is not None or self.handler is None:
            return
        if self.on_call_started is not None:
            self.on_call_started(call)
        call.task = asyncio.ensure_future(self._run_handler(call, self.handler(call)))
        self._tasks.add(call.task)
        call.task.add_done_callback(self._tasks.discard)

    async def _run_handler(self, call: EngineCall, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: application error", call.call_id)
        finally:
            if not call.ended:
                await call.hangup("application_done")

    # ------------------------------------------------------------------ CallEngine

    def refer_target(self, target: str) -> str:
        """A SIP URI for a transfer target: URIs as given, numbers / agent names via :meth:`resolve`."""
        if target.startswith(("sip:", "sips:", "tel:", "<")):
            return target
        return self.resolve(target) or f"sip:{target}@{self.public_host}"

    def resolve(self, aor: str) -> str | None:
        """Contact URI of a registered or statically configured agent (``1001`` or ``sip:1001@host``)."""
        return self.registrar.lookup(aor, self.now())

    async def dial(
        self, target: str, *, caller_id: str = "12345", timeout: float = 20.0, early_audio: bool = False
    ) -> Call:
        """Place an outgoing call; returns the answered leg or raises DialFailed."""
        if self.transports is None:
            raise DialFailed(0, "engine not started")
        is_uri = target.startswith(("sip:", "sips:"))
        uri = target if is_uri else self.resolve(target)
        if uri is None:
            raise DialFailed(0, f"no route to {target}")
        dest = uri_dest(uri)
        if dest is None:
            raise DialFailed(0, f"cannot route {uri}")
        try:
            media = self._open_media()
        except (MediaError, OSError) as exc:
            raise DialFailed(0, f"no media port: {exc}") from exc
        state, actions = new_uac(
            uri,
            dest,
            from_uri=f"sip:{caller_id}@{self.public_host}",
            display=caller_id,
            local_contact=self._contact(caller_id, dest.transport),
            local_media=self._local_media(media.port),
            local_tag=new_tag(),
            call_id=new_call_id(self.public_host),
            timers=self._timers(),
            now=self.now(),
            dial_timeout=timeout,
            credentials=None,
            to_uri=None if is_uri else f"sip:{target}@{self.public_host}",
        )
        call = EngineCall(self, state, media)
        self.calls[state.call_id] = call
        self._apply(call, actions)
        try:
            await asyncio.shield(call.answered)
        except asyncio.CancelledError:
            await call.hangup("cancelled")
            raise
        return call

    def bridge(self, a: Call, b: Call) -> MediaBridge:
        """Join two legs' media (audio both ways, digits passed through)."""
        if not isinstance(a, EngineCall) or not isinstance(b, EngineCall):
            raise TypeError("bridge() takes calls of this engine")
        return MediaBridge(a.media, b.media)
