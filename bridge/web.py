"""Agent desk and REST API over Twisted web on the asyncio reactor (one port, default 127.0.0.1:8345).

- ``/desk/``               the agent desk (plain HTML/JS, zh-CN)
- ``/api/login``           POST {agent_id, password} → {token}
- ``/api/events``          server-sent events (``?token=``; replay after ``Last-Event-ID``)
- ``/api/orders[...]``     REST (bearer token), see ``/api/openapi.json``
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from twisted.internet.error import CannotListenError
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from bridge.hub import DeskEvent
from bridge.openapi import openapi_document
from bridge.rest import Api, HttpError, Reply
from config.loader import ListenError

if TYPE_CHECKING:
    from bridge.handoff import HotlineHandoff

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "desk" / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "application/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8"}
HEARTBEAT_S = 15.0


def _bearer(request: Request) -> str | None:
    h = request.getHeader("authorization")
    if h and h.lower().startswith("bearer "):
        return h[7:].strip()
    return None


def _send(request: Request, status: int, body: Any) -> None:
    if request.finished or getattr(request, "_disconnected", False):
        return
    request.setResponseCode(status)
    request.setHeader("content-type", "application/json; charset=utf-8")
    request.setHeader("cache-control", "no-store")
    request.write(json.dumps(body, ensure_ascii=False).encode())
    request.finish()


class Root(Resource):
    isLeaf = True

    def __init__(self, handoff: HotlineHandoff) -> None:
        super().__init__()
        self.h = handoff
        self.api = Api(handoff)
        self._pending: set[asyncio.Future[None]] = set()
        self.streams: set[Request] = set()  # open SSE connections (closed on stop)

    def render(self, request: Request) -> bytes | int:
        path = unquote(request.path.decode("utf-8", "replace"))
        method = request.method.decode()
        if path in ("/", "/desk"):
            request.redirect(b"/desk/")
            return b""
        if path.startswith("/desk/"):
            return self._static(request, path[len("/desk/"):] or "index.html")
        if path == "/api/openapi.json" and method == "GET":
            request.setHeader("content-type", "application/json; charset=utf-8")
            return json.dumps(openapi_document(), ensure_ascii=False).encode()
        if path == "/api/events" and method == "GET":
            return self._sse(request)
        self._run(request, self._route(request, method, path))
        return NOT_DONE_YET

    def _static(self, request: Request, name: str) -> bytes:
        f = STATIC / name
        if "/" in name or not f.is_file():
            request.setResponseCode(404)
            return b"not found"
        request.setHeader("content-type", _TYPES.get(f.suffix, "application/octet-stream"))
        request.setHeader("cache-control", "no-cache")
        return f.read_bytes()

    def _run(self, request: Request, coro: Awaitable[Reply]) -> None:
        async def go() -> None:
            try:
                status, body = await coro
            except HttpError as exc:
                status, body = exc.status, exc.body()
            except Exception:
                log.exception("API error")
                status, body = 503, {"error": "服务暂时不可用（数据库？），请稍后重试"}
            _send(request, status, body)

        request.notifyFinish().addErrback(lambda _f: setattr(request, "_disconnected", True))
        task = asyncio.ensure_future(go())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _route(self, request: Request, method: str, path: str) -> Reply:
        body = request.content.read() if request.content is not None else b""
        if path == "/api/login" and method == "POST":
            return await self.api.login(body)
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] != "api":
            raise HttpError(404, "未找到")
        p = self.api.principal(_bearer(request))
        args: dict[bytes, list[bytes]] = request.args or {}
        query = {k.decode("utf-8", "replace"): v[-1].decode("utf-8", "replace") for k, v in args.items()}
        if parts == ["api", "me"] and method == "GET":
            return await self.api.me(p)
        if parts == ["api", "presence"] and method == "POST":
            return await self.api.presence(p, body)
        if parts[:2] == ["api", "orders"]:
            if len(parts) == 2 and method == "GET":
                return await self.api.list_orders(p, query)
            if len(parts) == 3:
                if method == "GET":
                    return await self.api.get_order(p, parts[2])
                if method == "PATCH":
                    return await self.api.edit(p, parts[2], body)
            if len(parts) == 4 and method == "POST":
                handler: dict[str, Callable[[Any, str, bytes], Awaitable[Reply]]] = {
                    "status": self.api.status, "followup": self.api.followup, "direct": self.api.direct}
                if parts[3] in handler:
                    return await handler[parts[3]](p, parts[2], body)
            if len(parts) == 4 and parts[3] == "audit" and method == "GET":
                return await self.api.audit(p, parts[2])
        raise HttpError(405 if parts[:2] == ["api", "orders"] else 404, "不支持的请求")

    def _sse(self, request: Request) -> bytes | int:
        args: dict[bytes, list[bytes]] = request.args or {}
        token = _bearer(request) or (args.get(b"token", [b""])[-1].decode("utf-8", "replace") or None)
        try:
            p = self.api.principal(token)
        except HttpError as exc:
            request.setResponseCode(exc.status)
            request.setHeader("content-type", "application/json; charset=utf-8")
            return json.dumps(exc.body(), ensure_ascii=False).encode()
        if p.is_platform:
            request.setResponseCode(403)
            return json.dumps({"error": "仅坐席可订阅"}, ensure_ascii=False).encode()
        raw_last = request.getHeader("last-event-id") or args.get(b"last_id", [b"0"])[-1].decode("utf-8", "replace")
        last = int(raw_last) if raw_last.isdigit() else 0
        request.setHeader("content-type", "text/event-stream; charset=utf-8")
        request.setHeader("cache-control", "no-cache")
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
            if not request.finished:
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
