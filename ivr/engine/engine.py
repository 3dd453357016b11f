"""Engine: the I/O shell around the sans-IO UA core (implements :class:`ivr.app.CallEngine`).

It hands what the transports deliver to :class:`~ivr.engine.core.UaCore`, sends what the core says, keeps one
timer for the core, opens an RTP port (:class:`~ivr.media.MediaSession`) for every new call, drives the media
sessions from the calls' actions, and runs the application as one asyncio task per answered call.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable

from config.ivr import IvrConfig
from ivr.app import Call, CallHandler, DialFailed
from ivr.clock import LoopClock
from ivr.engine.call import EngineCall
from ivr.engine.core import CallOutput, NewCall, Output, Transmit, UaCore
from ivr.engine.model import (
    Answered,
    CallKey,
    Deliver,
    DialFailure,
    Event,
    HangupCmd,
    LocalMedia,
    StartMedia,
    StopMedia,
    Terminated,
    Timers,
    UpdateMedia,
)
from ivr.engine.registrar import BindingStore, Registrar
from ivr.engine.sipmsg import bare_uri, local_contact, uri_dest, user_of
from ivr.engine.uac import new_uac
from ivr.engine.upstream import UpstreamRegistrar
from ivr.media import MediaBridge, MediaError, MediaSession, Pacer
from ivr.net import NetStats, SipTransports, TlsOptions, reactor_for_loop
from ivr.net.resolve import SipResolver
from ivr.sip import Request, StreamFramer, new_call_id, new_tag
from ivr.sip.address import Endpoint
from ivr.sip.resolve import is_numeric
from ivr.sip.tx_common import TimerConfig

log = logging.getLogger(__name__)
MEDIA_CODECS = ("PCMU", "PCMA")  # what ivr.media encodes
UPSTREAM_RERESOLVE = 30.0  # seconds between RFC 3263 look-ups of an upstream registrar given by name


class Engine:
    """SIP endpoint: answers calls with ``handler``, places outgoing legs, bridges, registrar."""

    def __init__(
        self,
        config: IvrConfig | None = None,
        handler: CallHandler | None = None,
        binding_store: BindingStore | None = None,
    ) -> None:
        """``binding_store`` keeps REGISTER bindings (default: in memory; e.g. a Redis-backed store)."""
        self.config = config or IvrConfig()
        self.handler = handler
        t = self.config.timers
        self.registrar = Registrar(self.config, binding_store)
        self.core = UaCore(TimerConfig(t1=t.t1, t2=t.t2, t4=t.t4), self.registrar)
        self.port = 0
        self.tls_port = 0  # the TLS listener when transports has tls
        self.transports: SipTransports | None = None
        self.pacer: Pacer | None = None
        self.answer_delay = 0.0
        self.finished_calls = 0
        self.on_call_started: Callable[[EngineCall], None] | None = None  # hook for tests / monitoring
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._housekeeping: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._route_cache: dict[str, str] = {}
        self._upstream_reresolve_at: float | None = None  # a registrar by name is resolved again then
        d = self.config.dns
        self.resolver = SipResolver(
            d.nameservers, timeout=d.timeout, negative_ttl=d.negative_ttl, supported=tuple(self.config.transports)
        )

    # ------------------------------------------------------------------ lifecycle

    def set_handler(self, handler: CallHandler) -> None:
        self.handler = handler

    @property
    def public_host(self) -> str:
        return self.config.public_host()

    def host_toward(self, peer_host: str) -> str:
        """The address to put in Contact/SDP for a peer: ``advertised_host``, the listen address, or — when
        listening on a wildcard — the local address the kernel routes to ``peer_host`` from (cached)."""
        if self.config.advertised_host or self.config.host not in ("0.0.0.0", "", "::"):
            return self.public_host
        cached = self._route_cache.get(peer_host)
        if cached is None:
            try:
                with socket.socket(socket.AF_INET6 if ":" in peer_host else socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.connect((peer_host, 9))  # no packet is sent: this only asks the routing table
                    cached = str(s.getsockname()[0])
            except OSError:
                cached = self.public_host
            if len(self._route_cache) > 1000:
                self._route_cache.clear()
            self._route_cache[peer_host] = cached
        return cached

    @property
    def calls(self) -> dict[CallKey, EngineCall]:
        """The live call legs (the UA core's registry, :attr:`UaCore.legs`, holds them)."""
        return {leg.key: leg.handle for leg in self.core.legs if isinstance(leg.handle, EngineCall)}

    @property
    def upstream(self) -> UpstreamRegistrar | None:
        return self.core.upstream

    @property
    def stats(self) -> NetStats:
        """Transport counters plus what the SIP layer dropped (garbage) or answered 400."""
        assert self.transports is not None
        stats = self.transports.stats
        layer = self.core.layer.stats
        stats.bad_requests = layer["bad_request_answered"]
        stats.garbage_dropped = layer["parse_errors"] - layer["bad_request_answered"]
        stats.extra.update({f"sip_{k}": int(v) for k, v in layer.items()})
        return stats

    async def start(self) -> int:
        """Listen on the configured host/port (port 0 picks one); returns the SIP port."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.pacer = Pacer(LoopClock(loop))
        tc = self.config.tls
        tls = TlsOptions(tc.cert_file, tc.key_file, tc.ca_file, tc.verify_server) if "tls" in self.config.transports \
            else None
        self.transports = SipTransports(
            reactor_for_loop(loop), self.on_message, StreamFramer, max_datagram=self.config.max_datagram, tls=tls
        )
        self.transports.on_unreachable = self._unreachable
        plain: list[str] = [t for t in self.config.transports if t != "tls"]
        self.port = self.transports.listen(self.config.host, self.config.port, plain) if plain else 0
        if tls is not None:
            self.tls_port = self.transports.listen_tls(self.config.host, tc.port)
            if not plain:
                self.port = self.tls_port
            log.info("SIP over TLS listening on %s:%d", self.config.host, self.tls_port)
        log.info("SIP listening on %s:%d (%s)", self.config.host, self.port, "/".join(self.config.transports))
        up = self.config.upstream
        if up.enabled:
            contact = self._contact(up.username, "udp" if "udp" in self.config.transports else "tcp")
            upstream = UpstreamRegistrar(up, contact, self.public_host, self.port)
            if not is_numeric(upstream.dest.host):  # the PBX by name: its RFC 3263 targets, in failover order
                targets = await self.resolver.targets(bare_uri(up.registrar))
                if targets:
                    upstream.use_targets(targets)
                else:
                    log.warning("upstream registrar %s does not resolve (RFC 3263) yet; asked again every %.0f s",
                                up.registrar, UPSTREAM_RERESOLVE)
                self._upstream_reresolve_at = self.now() + UPSTREAM_RERESOLVE
            self._run(self.core.start_upstream(upstream, self.now()))
        self._housekeeping = loop.call_later(1.0, self._housekeep)
        return self.port

    async def stop(self, grace: float = 2.0) -> None:
        """Hang up every call (BYE / final response), un-REGISTER, wait up to ``grace`` s, close sockets."""
        for call in list(self.calls.values()):
            if not call.ended:
                self.feed(call, HangupCmd(self.now(), "shutdown", 503))
        self._run(self.core.stop_upstream(self.now()))
        deadline = self.now() + grace
        while self.calls and self.now() < deadline:
            await asyncio.sleep(0.05)
        for handle in (self._timer, self._housekeeping):
            if handle is not None:
                handle.cancel()
        self._timer = self._housekeeping = None
        for task in list(self._tasks):
            task.cancel()
        for call in list(self.calls.values()):
            self.core.forget(call.key)
            self._forget(call)
        if self.transports is not None:
            self.transports.close()
        if self.pacer is not None:
            self.pacer.stop()

    def now(self) -> float:
        loop = self._loop or asyncio.get_running_loop()
        return loop.time()

    # ------------------------------------------------------------------ core glue

    def on_message(self, data: bytes, source: Endpoint) -> None:
        self._run(self.core.receive(data, source, self.now()))

    def feed(self, call: EngineCall, event: Event) -> None:
        self._run(self.core.feed(call.key, event))

    def _run(self, outputs: list[Output]) -> None:
        assert self.transports is not None
        for output in outputs:
            if isinstance(output, Transmit):
                if is_numeric(output.endpoint.host):
                    self.transports.send(output.data, output.endpoint)
                else:  # e.g. a BYE to a Contact or Record-Route given by name
                    self._spawn(self._send_named(output.data, output.endpoint))
            elif isinstance(output, NewCall):
                self._new_call(output.request, output.source)
            else:
                self._call_action(output)
        self._arm()

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_named(self, data: bytes, dest: Endpoint) -> None:
        """A message whose destination is a host name: its address (A/AAAA, cached by TTL), then send."""
        address = await self.resolver.host(dest.host)
        if self.transports is None:
            return
        if address is None:
            self.transports.stats.send_errors += 1
            log.warning("cannot send to %s:%d: the name does not resolve", dest.host, dest.port)
            return
        self.transports.send(data, Endpoint(dest.transport, address, dest.port))

    def _unreachable(self, dest: Endpoint) -> None:
        """A connection to ``dest`` was refused: outgoing calls still waiting for any answer from it give up now
        (their dial moves on to the next RFC 3263 target), not at Timer B."""
        for leg in list(self.core.legs):
            call, state = leg.handle, leg.state
            if (isinstance(call, EngineCall) and state.role == "uac" and state.phase == "calling"
                    and not state.provisional_seen and state.remote_endpoint == dest):
                self.feed(call, HangupCmd(self.now(), "unreachable"))

    def _arm(self) -> None:
        at = self.core.next_wakeup()
        if at == self._timer_at or self._loop is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._tick) if at is not None else None

    def _tick(self) -> None:
        self._timer = self._timer_at = None
        self._run(self.core.tick(self.now()))

    def _call_action(self, output: CallOutput) -> None:
        call = output.handle
        if not isinstance(call, EngineCall) or call.forgotten:
            return
        action = output.action
        if isinstance(action, (StartMedia, UpdateMedia)):
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
                if p.srtp is not None:
                    call.media.set_srtp(p.srtp.local, p.srtp.remote)
                else:
                    call.media.clear_srtp()
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

    # ------------------------------------------------------------------ new calls

    def _new_call(self, invite: Request, source: Endpoint) -> None:
        now = self.now()
        if self.handler is None or len(self.core.legs) >= self.config.max_calls:
            self._run(self.core.reject(invite, 503, now, headers=[("Retry-After", "5")]))
            return
        try:
            media = self._open_media()
        except (MediaError, OSError) as exc:
            log.warning("no RTP port for a new call: %s", exc)
            self._run(self.core.reject(invite, 503, now, "No Media Port", [("Retry-After", "5")]))
            return
        tag = new_tag()
        call = EngineCall(self, (invite.call_id, tag), media)
        self._run(
            self.core.start_uas(
                invite,
                source,
                local_media=self._local_media(media.port, self.host_toward(source.host), source.host),
                local_contact=self._contact(user_of(invite.uri), source.transport, self.host_toward(source.host)),
                timers=self._timers(),
                now=now,
                local_tag=tag,
                handle=call,
            )
        )

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

    def _local_media(self, port: int, host: str, peer: str) -> LocalMedia:
        codecs = tuple(c for c in self.config.codecs if c in MEDIA_CODECS) or MEDIA_CODECS
        srtp = self.config.srtp.mode_for(peer)
        key = secrets.token_bytes(30) if srtp != "off" else b""
        return LocalMedia(host, port, codecs, self.config.dtmf_payload_type, secrets.randbits(31), srtp, key)

    def _timers(self) -> Timers:
        t = self.config.timers
        return Timers(t1=t.t1, t2=t.t2, t4=t.t4, answer_delay=self.answer_delay)

    def _contact(self, user: str, transport: str, host: str | None = None) -> str:
        port = self.tls_port if transport == "tls" else self.port
        return local_contact(user, host or self.public_host, port, transport)

    def _forget(self, call: EngineCall) -> None:
        call.media.close()
        if not call.forgotten:
            call.forgotten = True
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

    def _housekeep(self) -> None:
        """Once a second: hang up calls without RTP for ``rtp_timeout`` or older than ``max_call_seconds``."""
        assert self._loop is not None
        now = self.now()
        timers = self.config.timers
        for leg in self.core.legs:
            call, state = leg.handle, leg.state
            if not isinstance(call, EngineCall) or call.ended or state.phase not in ("answering", "confirmed"):
                continue
            last_rtp = call.media.last_rtp_at or call.started_at
            if timers.rtp_timeout > 0 and now - last_rtp > timers.rtp_timeout:
                self.feed(call, HangupCmd(now, "rtp_timeout"))
            elif now - call.started_at > timers.max_call_seconds:
                self.feed(call, HangupCmd(now, "max_duration"))
        if self._upstream_reresolve_at is not None and now >= self._upstream_reresolve_at:
            self._upstream_reresolve_at = now + UPSTREAM_RERESOLVE
            self._spawn(self.refresh_upstream_targets())
        self._housekeeping = self._loop.call_later(1.0, self._housekeep)

    async def refresh_upstream_targets(self) -> None:
        """Resolve a registrar given by name again (cheap while its records' TTL runs: from the cache); the next
        REGISTER goes to the new best target when the answer changed."""
        upstream = self.core.upstream
        if upstream is None:
            return
        targets = await self.resolver.targets(bare_uri(self.config.upstream.registrar))
        if targets and targets != upstream.targets:
            log.info("upstream registrar %s now resolves to %s", self.config.upstream.registrar,
                     ", ".join(f"{t.transport}:{t.host}:{t.port}" for t in targets))
            upstream.use_targets(targets)

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
        """Place an outgoing call; returns the answered leg or raises DialFailed.

        A target host given by name is resolved by RFC 3263 (NAPTR/SRV/A/AAAA); when one target gives no
        response at all within ``dns.failover_timeout`` (or times out, or answers 503) the next one is tried,
        all within ``timeout``."""
        if self.transports is None:
            raise DialFailed(0, "engine not started")
        is_uri = target.startswith(("sip:", "sips:"))
        uri = target if is_uri else self.resolve(target)
        dest = uri_dest(uri) if uri is not None else None
        if uri is None or dest is None:
            raise DialFailed(0, f"no route to {target}")
        dests = [dest]
        if not is_numeric(dest.host):
            dests = await self.resolver.targets(bare_uri(uri))
            if not dests:
                log.warning("call to %s: cannot resolve %s (RFC 3263: no NAPTR/SRV/A/AAAA usable)", target, uri)
                raise DialFailed(0, f"cannot resolve {dest.host}")
        deadline = self.now() + timeout
        failed: DialFailed | None = None
        for i, dest in enumerate(dests):
            remaining = deadline - self.now()
            if remaining <= 0:
                break
            last = i == len(dests) - 1
            try:
                return await self._dial_to(
                    uri, dest, target, is_uri, caller_id, remaining, None if last else self.config.dns.failover_timeout
                )
            except DialFailed as exc:
                failed = exc
                if last or exc.status not in (0, 503):
                    raise
                log.info("call to %s: %s %s:%d failed (%s), trying the next target",
                         target, dest.transport, dest.host, dest.port, exc)
        raise failed or DialFailed(0, "timeout")

    async def _dial_to(
        self,
        uri: str,
        dest: Endpoint,
        target: str,
        is_uri: bool,
        caller_id: str,
        timeout: float,
        failover_after: float | None,
    ) -> Call:
        try:
            media = self._open_media()
        except (MediaError, OSError) as exc:
            raise DialFailed(0, f"no media port: {exc}") from exc
        up = self.config.upstream
        state, actions = new_uac(
            uri,
            dest,
            from_uri=f"sip:{caller_id}@{self.public_host}",
            display=caller_id,
            local_contact=self._contact(caller_id, dest.transport, self.host_toward(dest.host)),
            local_media=self._local_media(media.port, self.host_toward(dest.host), dest.host),
            local_tag=new_tag(),
            call_id=new_call_id(self.public_host),
            timers=self._timers(),
            now=self.now(),
            dial_timeout=timeout,
            credentials=(up.username, up.password) if up.password else None,
            to_uri=None if is_uri else f"sip:{target}@{self.public_host}",
        )
        call = EngineCall(self, state.key, media)
        self._run(self.core.start_uac(state, actions, self.now(), handle=call))
        try:
            if failover_after is not None:
                done, _ = await asyncio.wait({call.answered}, timeout=failover_after)
                leg = self.core.state_of(call.key)
                if not done and leg is not None and not leg.provisional_seen:
                    await call.hangup("no_response")  # nothing heard: stop waiting (no CANCEL before a provisional)
                    if call.answered.done() and not call.answered.cancelled():
                        call.answered.exception()  # retrieved: this attempt's failure is the one raised here
                    raise DialFailed(0, f"no response from {dest.host}:{dest.port}")
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
