"""Agent desk and REST API over Twisted web on the asyncio reactor (one port, default 127.0.0.1:8345).

- ``/desk/``               the agent desk (plain HTML/JS, zh-CN)
- ``/api/login``           POST {agent_id, password} → {token, csrf} and the session cookie
- ``/api/events``          server-sent events (cookie, bearer or ``?token=``; replay after ``Last-Event-ID``)
- ``/api/orders[...]``     REST (session cookie + ``X-CSRF-Token`` from the desk, or a bearer token), see
  ``/api/openapi.json``; the roles allowed on each endpoint: ``bridge.rest.ROUTES``

Every response carries the security headers (CSP, nosniff, frame denial, no referrer); API answers are no-store.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit

from twisted.internet.error import CannotListenError
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from bridge.auth import Principal, demo_credentials
from bridge.hub import DeskEvent
from bridge.openapi import openapi_document
from bridge.rest import Api, Call, HttpError, Reply, match
from config.loader import ConfigError, ListenError

if TYPE_CHECKING:
    from bridge.handoff import HotlineHandoff

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "desk" / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "application/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8"}
HEARTBEAT_S = 15.0


COOKIE = "hotline_desk"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


class DemoCredentials(ConfigError):
    """The demo credentials of config/bridge.yaml are in effect and the demo mode is off."""


def _bearer(request: Request) -> str | None:
    h = request.getHeader("authorization")
    if h and h.lower().startswith("bearer "):
        return h[7:].strip()
    return None


def _cookie(request: Request) -> str | None:
    v = request.getCookie(COOKIE.encode())
    return v.decode("ascii", "replace") if v else None


def _client(request: Request) -> str:
    peer = request.getClientAddress()
    return str(getattr(peer, "host", "-"))


def _send(request: Request, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    if request.finished or getattr(request, "_disconnected", False):
        return
    request.setResponseCode(status)
    for k, v in (headers or {}).items():
        request.setHeader(k, v)
    request.setHeader("content-type", "application/json; charset=utf-8")
    request.setHeader("cache-control", "no-store")
    request.write(json.dumps(body, ensure_ascii=False).encode())
    request.finish()


def _same_origin(request: Request) -> bool:
    """A request with an Origin header must come from this host (a browser always sends it on cross-site POSTs)."""
    origin = request.getHeader("origin")
    if origin is None:
        return True
    host = request.getHeader("host") or ""
    return urlsplit(origin).netloc.lower() == host.lower() if origin != "null" else False


class Root(Resource):
    isLeaf = True

    def __init__(self, handoff: HotlineHandoff) -> None:
        super().__init__()
        self.h = handoff
        self.api = Api(handoff)
        self._pending: set[asyncio.Future[None]] = set()
        self.streams: set[Request] = set()  # open SSE connections (closed on stop)
        self.activity: dict[str, int] = {}  # session id → last request seen by this process (for open SSE streams)

    def render(self, request: Request) -> bytes | int:
        for k, v in SECURITY_HEADERS.items():
            request.setHeader(k, v)
        path = unquote(request.path.decode("utf-8", "replace"))
        method = request.method.decode()
        if path in ("/", "/desk"):
            request.redirect(b"/desk/")
            return b""
        if path.startswith("/desk/"):
            return self._static(request, path[len("/desk/"):] or "index.html")
        request.setHeader("cache-control", "no-store")
        if path == "/api/openapi.json" and method == "GET":
            request.setHeader("content-type", "application/json; charset=utf-8")
            return json.dumps(openapi_document(), ensure_ascii=False).encode()
        if path == "/api/events" and method == "GET":
            return self._sse(request)
        self._run(request, method, path)
        return NOT_DONE_YET

    def _static(self, request: Request, name: str) -> bytes:
        f = STATIC / name
        if "/" in name or not f.is_file():
            request.setResponseCode(404)
            return b"not found"
        request.setHeader("content-type", _TYPES.get(f.suffix, "application/octet-stream"))
        request.setHeader("cache-control", "no-cache")
        return f.read_bytes()

    def _set_session_cookie(self, request: Request, token: str | None) -> None:
        d = self.h.cfg.desk
        attrs = f"Path=/api; HttpOnly; SameSite=Strict; Max-Age={d.token_ttl_s if token else 0}"
        if d.cookie_secure:
            attrs += "; Secure"
        request.setHeader("set-cookie", f"{COOKIE}={token or ''}; {attrs}")

    def _run(self, request: Request, method: str, path: str) -> None:
        async def go() -> None:
            headers: dict[str, str] = {}
            try:
                status, body = await self._route(request, method, path, headers)
            except HttpError as exc:
                status, body = exc.status, exc.body()
                headers.update(exc.headers)
            except Exception:
                log.exception("API error")
                status, body = 503, {"error": "服务暂时不可用（数据库？），请稍后重试"}
            _send(request, status, body, headers)

        request.notifyFinish().addErrback(lambda _f: setattr(request, "_disconnected", True))
        task = asyncio.ensure_future(go())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def authenticate(self, request: Request, *, query_token: bool = False) -> tuple[Principal, bool]:
        """(who, whether by the session cookie); HttpError 401.  A bearer header wins over the cookie."""
        token, by_cookie = _bearer(request), False
        if token is None and query_token:
            args: dict[bytes, list[bytes]] = request.args or {}
            token = args.get(b"token", [b""])[-1].decode("utf-8", "replace") or None
        if token is None:
            token, by_cookie = _cookie(request), True
        try:
            return self.api.principal(token), by_cookie and token is not None
        except HttpError:
            if by_cookie and token:
                self._set_session_cookie(request, None)  # expired or forged: drop it
            raise

    async def _route(self, request: Request, method: str, path: str, headers: dict[str, str]) -> Reply:
        body = request.content.read() if request.content is not None else b""
        route, params = match(method, path)
        if route.changes_state and not _same_origin(request):
            raise HttpError(403, "跨站请求被拒绝")
        if path == "/api/login":
            status, out = await self.api.login(body, _client(request))
            self._set_session_cookie(request, out["token"])
            return status, out
        p, by_cookie = self.authenticate(request)
        if p.role not in route.allow:
            raise HttpError(403, "无权访问")
        s = p.session
        if s is not None:
            if route.changes_state and by_cookie and not hmac.compare_digest(
                    (request.getHeader("x-csrf-token") or "").encode(), self.api.signer.csrf(s).encode()):
                raise HttpError(403, "CSRF 校验失败，请重新登录")
            now = self.api.signer.now()
            if len(self.activity) > 10_000:
                self.activity = {k: t for k, t in self.activity.items() if now - t <= self.api.signer.idle_s}
            self.activity[s.sid] = now
            fresh = self.api.signer.issue(s.agent_id, s)  # sliding idle expiry
            if by_cookie:
                self._set_session_cookie(request, None if path == "/api/logout" else fresh)
            elif path != "/api/logout":
                headers["x-session-token"] = fresh
        args: dict[bytes, list[bytes]] = request.args or {}
        query = {k.decode("utf-8", "replace"): v[-1].decode("utf-8", "replace") for k, v in args.items()}
        assert route.handler is not None
        return await route.handler(self.api, Call(p, params, query, body))

    def _sse(self, request: Request) -> bytes | int:
        args: dict[bytes, list[bytes]] = request.args or {}
        try:
            p, _ = self.authenticate(request, query_token=True)
            if p.role not in match("GET", "/api/events")[0].allow:
                raise HttpError(403, "仅坐席可订阅")
        except HttpError as exc:
            request.setResponseCode(exc.status)
            request.setHeader("content-type", "application/json; charset=utf-8")
            return json.dumps(exc.body(), ensure_ascii=False).encode()
        session = p.session
        raw_last = request.getHeader("last-event-id") or args.get(b"last_id", [b"0"])[-1].decode("utf-8", "replace")
        last = int(raw_last) if raw_last.isdigit() else 0
        request.setHeader("content-type", "text/event-stream; charset=utf-8")
        request.setHeader("x-accel-buffering", "no")
        request.write(b"retry: 1000\n: connected\n\n")
        missed = self.h.hub.since(p.id, last)
        if last:
            log.info("desk %s reconnected after event %d: replaying %d", p.id, last, len(missed))
        for ev in missed:
            request.write(ev.sse())

        def push(ev: DeskEvent) -> None:
            if not request.finished:
                request.write(ev.sse())

        unsubscribe = self.h.hub.subscribe(p.id, push)
        loop = asyncio.get_running_loop()
        beat: list[asyncio.TimerHandle] = []

        def heartbeat() -> None:
            if request.finished:
                return
            if session is not None and not self.api.signer.alive(session, self.activity.get(session.sid)):
                transport: Any = request.channel.transport if request.channel is not None else None
                if transport is not None:  # session over: the desk's reconnect gets 401 and shows the login
                    transport.loseConnection()
                return
            request.write(b": ping\n\n")
            beat[:] = [loop.call_later(HEARTBEAT_S, heartbeat)]

        beat.append(loop.call_later(HEARTBEAT_S, heartbeat))

        self.streams.add(request)

        def gone(_: object) -> None:
            self.streams.discard(request)
            unsubscribe()
            for b in beat:
                b.cancel()

        request.notifyFinish().addBoth(gone)
        return NOT_DONE_YET


class DeskServer:
    def __init__(self, port: Any, root: Root) -> None:
        self.listening = port  # twisted IListeningPort
        self.root = root

    @property
    def port(self) -> int:
        return int(self.listening.getHost().port)

    def drop_streams(self) -> int:
        """Close every open SSE connection (desks reconnect with Last-Event-ID)."""
        streams = list(self.root.streams)
        for r in streams:
            transport: Any = r.channel.transport if r.channel is not None else None
            if transport is not None:
                transport.loseConnection()  # flushes what was written, then closes
        return len(streams)

    async def stop(self) -> None:
        self.drop_streams()
        d = self.listening.stopListening()
        if d is not None:
            await d.asFuture(asyncio.get_running_loop())


class TcpReactor(Protocol):
    """What the desk needs of a Twisted reactor (``IReactorTCP.listenTCP``)."""

    def listenTCP(self, port: int, factory: Any, backlog: int = ..., interface: str = ...) -> Any: ...


def start_desk(
    handoff: HotlineHandoff, reactor: TcpReactor, host: str | None = None, port: int | None = None
) -> DeskServer:
    """Listen on ``reactor``, the Twisted reactor that drives the running asyncio loop (the composition root passes
    the call engine's, so one loop serves SIP and HTTP); returns the server (``.port``)."""
    cfg = handoff.cfg.desk
    check_demo(handoff)
    root = Root(handoff)
    site = Site(root)
    site.displayTracebacks = False
    host, port = cfg.host if host is None else host, cfg.port if port is None else port
    try:
        lp = reactor.listenTCP(port, site, interface=host)
    except CannotListenError as exc:
        raise ListenError("agent desk", host, port, exc.socketError, "bridge.yaml desk.port") from None
    log.info("agent desk on http://%s:%d/desk/", host, lp.getHost().port)
    return DeskServer(lp, root)


def check_demo(handoff: HotlineHandoff) -> None:
    """Refuse (DemoCredentials, one line) while the demo credentials of config/bridge.yaml are in effect, unless
    ``desk.demo`` or HOTLINE_DEMO=1; in demo mode log a warning instead."""
    cfg = handoff.cfg.desk
    hashes = [_effective_hash(handoff, a.id, a.password_hash) for a in handoff.cfg.agents]
    found = demo_credentials(hashes, cfg.token_secret, cfg.api_tokens)
    if not found:
        return
    what = ", ".join(found)
    if cfg.demo or os.environ.get("HOTLINE_DEMO", "") not in ("", "0"):
        log.warning("agent desk in demo mode with the demo credentials of config/bridge.yaml (%s): change them "
                    "before production", what)
        return
    raise DemoCredentials(f"the agent desk refuses the demo credentials of config/bridge.yaml ({what}): change them "
                          "(hotline agents passwd ID, desk.token_secret, desk.api_tokens) or set desk.demo: true / "
                          "HOTLINE_DEMO=1 for a demo")


def _effective_hash(handoff: HotlineHandoff, agent_id: str, configured: str | None) -> str | None:
    """The hash a login is checked against: the database's (a password set with the CLI wins), else the config's."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from bridge.models import Agent

    try:
        with handoff.store.sessions() as s:
            row = s.get(Agent, agent_id)
            if row is not None and row.password_hash:
                return str(row.password_hash)
    except (OperationalError, DBAPIError, OSError):
        pass
    return configured
