"""REST/JSON handlers of the desk and the platform API (framework-free: request data in, (status, body) out).

``ROUTES`` is the one table of endpoints and the roles allowed on each (``bridge.web`` enforces it before a
handler runs).  Agents see and change only orders assigned to them; supervisors and the platform (bearer API
token) see all; operators see login lock-outs, no order content.  Bad input is refused with a 4xx before anything
is written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError

from bridge.auth import LoginGuard, Principal, TokenSigner, platform_principal, verify_password
from bridge.models import STATUSES, Agent
from bridge.orders import OrderNotFound
from bridge.validation import DirectResult, FollowUp, OrderEdit, StatusUpdate

if TYPE_CHECKING:
    from bridge.handoff import HotlineHandoff

log = logging.getLogger(__name__)
Reply = tuple[int, Any]
ROLES = ("agent", "supervisor", "operator", "platform")
WRONG_LOGIN = "工号或密码错误"


class HttpError(Exception):
    def __init__(self, status: int, message: str, details: Any = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message}
        if self.details is not None:
            out["details"] = self.details
        return out


def parse_json(raw: bytes, model: type[BaseModel]) -> Any:
    try:
        data = json.loads(raw or b"null")
    except ValueError as exc:
        raise HttpError(400, f"请求体不是有效的 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HttpError(400, "请求体必须是 JSON 对象")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise HttpError(422, "字段无效", details) from exc


class Api:
    def __init__(self, handoff: HotlineHandoff) -> None:
        self.h = handoff
        d = handoff.cfg.desk
        self.signer = TokenSigner(d.token_secret, d.token_ttl_s, d.session_idle_s)
        self.guard = LoginGuard(d.lockout_failures, d.lockout_address_failures, d.lockout_window_s, d.lockout_s)
        self.roles = {a.id: a.role for a in handoff.cfg.agents}
        self.revoked: dict[str, int] = {}  # session id → its absolute end (logged out in this process)

    # -- auth -----------------------------------------------------------------------------------------------------
    def principal(self, token: str | None) -> Principal:
        if not token:
            raise HttpError(401, "需要登录（Bearer 令牌）")
        s = self.signer.session(token)
        if s is not None and s.sid in self.revoked:
            raise HttpError(401, "令牌无效或已过期")
        if s is not None:
            return Principal("agent", s.agent_id, self.roles.get(s.agent_id, "agent"), s)
        p = platform_principal(token, self.h.cfg.desk.api_tokens)
        if p is None:
            raise HttpError(401, "令牌无效或已过期")
        return p

    def _agent_hash(self, agent_id: str) -> tuple[str | None, str | None]:
        try:
            with self.h.store.sessions() as s:
                row = s.get(Agent, agent_id)
                if row is not None and row.password_hash:
                    return row.password_hash, row.name
        except (OperationalError, DBAPIError, OSError):
            pass
        a = self.h.directory.get(agent_id)
        return (a.password_hash, a.name) if a else (None, None)

    async def login(self, raw: bytes, address: str = "-") -> Reply:
        """A locked agent id or source address is answered like a wrong password, plus Retry-After."""
        try:
            data = json.loads(raw or b"{}")
        except ValueError as exc:
            raise HttpError(400, "请求体不是有效的 JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("agent_id"), str) or \
                not isinstance(data.get("password"), str):
            raise HttpError(400, "需要 agent_id 和 password")
        user = data["agent_id"][:64]
        now = float(self.signer.now())
        wait = self.guard.retry_after(user, address, now)
        if wait is not None:
            raise HttpError(401, WRONG_LOGIN, headers={"Retry-After": str(wait)})
        stored, name = await asyncio.to_thread(self._agent_hash, user)
        ok = await asyncio.to_thread(verify_password, data["password"], stored)
        if not ok:
            for kind, key in self.guard.failed(user, address, now):
                log.warning("desk login locked for %d s: %s %s after repeated failures", self.guard.lock_s,
                            "agent id" if kind == "user" else "address", key)
            wait = self.guard.retry_after(user, address, now)
            raise HttpError(401, WRONG_LOGIN, headers={"Retry-After": str(wait)} if wait else None)
        self.guard.succeeded(user)
        token = self.signer.issue(user)
        s = self.signer.session(token)
        assert s is not None
        role = self.roles.get(user, "agent")
        return 200, {"token": token, "csrf": self.signer.csrf(s), "agent": {"id": user, "name": name, "role": role},
                     "idle_s": self.signer.idle_s, "expires_at": s.issued + self.signer.absolute_s}

    async def logout(self, p: Principal) -> Reply:
        if p.session is not None:
            now = self.signer.now()
            self.revoked = {k: end for k, end in self.revoked.items() if end >= now}
            self.revoked[p.session.sid] = p.session.issued + self.signer.absolute_s
        return 200, {"ok": True}

    async def locks(self, p: Principal) -> Reply:
        return 200, {"locks": self.guard.locks(float(self.signer.now()))}

    async def unlock(self, p: Principal, kind: str, key: str) -> Reply:
        if kind not in ("user", "address") or not self.guard.unlock(kind, key):
            raise HttpError(404, "没有这个锁定")
        log.warning("desk login lock of %s %s lifted by %s", kind, key, _actor(p))
        return 200, {"unlocked": {"kind": kind, "key": key}}

    # -- orders ---------------------------------------------------------------------------------------------------
    async def _order(self, p: Principal, order_no: str) -> dict[str, Any]:
        try:
            o = await asyncio.to_thread(self.h.store.get, order_no)
        except OrderNotFound as exc:
            raise HttpError(404, f"工单 {order_no} 不存在") from exc
        if p.role == "agent" and o.get("agent_id") != p.id:
            raise HttpError(403, "无权访问其他坐席的工单")
        return o

    async def list_orders(self, p: Principal, q: Mapping[str, str]) -> Reply:
        allowed = {"status", "caller_number", "category_code", "agent_id", "since", "until", "limit", "offset"}
        unknown = set(q) - allowed
        if unknown:
            raise HttpError(400, f"未知的查询参数: {', '.join(sorted(unknown))}")
        kw: dict[str, Any] = {}
        for k in ("status", "caller_number", "category_code", "agent_id"):
            if k in q:
                kw[k] = q[k]
        if "status" in kw and kw["status"] not in STATUSES:
            raise HttpError(400, f"status 无效，可选: {', '.join(STATUSES)}")
        for k in ("since", "until"):
            if k in q:
                try:
                    t = datetime.fromisoformat(q[k])
                except ValueError as exc:
                    raise HttpError(400, f"{k} 必须是 ISO 8601 时间") from exc
                kw[k] = t if t.tzinfo else t.replace(tzinfo=UTC)
        for k, hi in (("limit", 500), ("offset", 10**9)):
            if k in q:
                if not q[k].isdigit() or not (0 <= int(q[k]) <= hi) or (k == "limit" and int(q[k]) == 0):
                    raise HttpError(400, f"{k} 必须是 {1 if k == 'limit' else 0}..{hi} 的整数")
                kw[k] = int(q[k])
        if p.role == "agent":
            if kw.get("agent_id", p.id) != p.id:
                raise HttpError(403, "无权查看其他坐席的工单")
            kw["agent_id"] = p.id
        rows = await asyncio.to_thread(lambda: self.h.store.search(**kw))
        return 200, {"orders": rows, "count": len(rows)}

    async def get_order(self, p: Principal, order_no: str) -> Reply:
        return 200, await self._order(p, order_no)

    async def audit(self, p: Principal, order_no: str) -> Reply:
        await self._order(p, order_no)
        return 200, {"audit": await asyncio.to_thread(self.h.store.audit, order_no)}

    async def _after(self, order_no: str, out: dict[str, Any], actor: str) -> Reply:
        if out.get("agent_id"):
            await self.h.hub.publish(out["agent_id"], "order", {"order_no": order_no, "order": out, "by": actor})
        return 200, out

    async def edit(self, p: Principal, order_no: str, raw: bytes) -> Reply:
        edit = parse_json(raw, OrderEdit)
        await self._order(p, order_no)
        out = await asyncio.to_thread(self.h.store.update, order_no, edit, _actor(p), _now())
        return await self._after(order_no, out, _actor(p))

    async def status(self, p: Principal, order_no: str, raw: bytes) -> Reply:
        upd = parse_json(raw, StatusUpdate)
        await self._order(p, order_no)
        out = await asyncio.to_thread(self.h.store.set_status, order_no, upd, _actor(p), _now())
        return await self._after(order_no, out, _actor(p))

    async def followup(self, p: Principal, order_no: str, raw: bytes) -> Reply:
        fu = parse_json(raw, FollowUp)
        await self._order(p, order_no)
        out = await asyncio.to_thread(self.h.store.add_followup, order_no, fu, _actor(p), _now())
        return await self._after(order_no, out, _actor(p))

    async def direct(self, p: Principal, order_no: str, raw: bytes) -> Reply:
        res = parse_json(raw, DirectResult)
        await self._order(p, order_no)
        out = await asyncio.to_thread(self.h.store.mark, order_no, _actor(p), _now(), status="handled_directly",
                                      note="直办", handling_mode="直办", direct_result=res.result)
        return await self._after(order_no, out, _actor(p))

    async def presence(self, p: Principal, raw: bytes) -> Reply:
        try:
            data = json.loads(raw or b"{}")
        except ValueError as exc:
            raise HttpError(400, "请求体不是有效的 JSON") from exc
        pres = data.get("presence") if isinstance(data, dict) else None
        if pres not in ("available", "away", "offline"):
            raise HttpError(422, "presence 必须是 available / away / offline")
        if p.id not in self.h.directory:
            await self.h.agents.register(p.id, [])
        await self.h.agents.set_presence(p.id, pres, _now().timestamp())
        return 200, {"agent_id": p.id, "presence": pres}

    async def me(self, p: Principal) -> Reply:
        snap = await self.h.agents.snapshot() if not p.is_platform else {}
        st = snap.get(p.id)
        return 200, {"kind": p.kind, "role": p.role, "id": p.id, "presence": st.presence if st else None,
                     "state": st.state if st else None, "agent_state_backend": self.h.agents.name}


def _actor(p: Principal) -> str:
    return p.id if not p.is_platform else f"platform:{p.id}"


def _now() -> datetime:
    return datetime.now(UTC)


# -- the endpoint table -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """What a handler gets: who, path parameters, query, body."""

    p: Principal
    params: dict[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


Handler = Callable[[Api, Call], Awaitable[Reply]]
PUBLIC: frozenset[str] = frozenset({"anonymous", *ROLES})
DESK_STAFF = frozenset({"agent", "supervisor"})
ORDERS = frozenset({"agent", "supervisor", "platform"})


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # "/api/orders/{order_no}"; {name} matches one path segment
    allow: frozenset[str]  # roles allowed (PUBLIC: no login needed); there is no default, every route names its own
    handler: Handler | None  # None: served by bridge.web itself (login, SSE, OpenAPI document)

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$")

    @property
    def changes_state(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/openapi.json", PUBLIC, None),
    Route("POST", "/api/login", PUBLIC, None),
    Route("POST", "/api/logout", frozenset({"agent", "supervisor", "operator"}), lambda a, c: a.logout(c.p)),
    Route("GET", "/api/me", frozenset(ROLES), lambda a, c: a.me(c.p)),
    Route("POST", "/api/presence", DESK_STAFF, lambda a, c: a.presence(c.p, c.body)),
    Route("GET", "/api/events", DESK_STAFF, None),
    Route("GET", "/api/orders", ORDERS, lambda a, c: a.list_orders(c.p, c.query)),
    Route("GET", "/api/orders/{order_no}", ORDERS, lambda a, c: a.get_order(c.p, c.params["order_no"])),
    Route("PATCH", "/api/orders/{order_no}", ORDERS, lambda a, c: a.edit(c.p, c.params["order_no"], c.body)),
    Route("POST", "/api/orders/{order_no}/status", ORDERS,
          lambda a, c: a.status(c.p, c.params["order_no"], c.body)),
    Route("POST", "/api/orders/{order_no}/followup", ORDERS,
          lambda a, c: a.followup(c.p, c.params["order_no"], c.body)),
    Route("POST", "/api/orders/{order_no}/direct", ORDERS,
          lambda a, c: a.direct(c.p, c.params["order_no"], c.body)),
    Route("GET", "/api/orders/{order_no}/audit", ORDERS, lambda a, c: a.audit(c.p, c.params["order_no"])),
    Route("GET", "/api/security/locks", frozenset({"operator"}), lambda a, c: a.locks(c.p)),
    Route("DELETE", "/api/security/locks/{kind}/{key}", frozenset({"operator"}),
          lambda a, c: a.unlock(c.p, c.params["kind"], c.params["key"])),
)
_COMPILED = [(r, r.regex) for r in ROUTES]


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route of ``method path`` and its path parameters; HttpError 404 (no such path) or 405 (other method)."""
    methods = []
    for r, rx in _COMPILED:
        m = rx.match(path)
        if m:
            if r.method == method:
                return r, m.groupdict()
            methods.append(r.method)
    if methods:
        raise HttpError(405, "不支持的请求", headers={"Allow": ", ".join(sorted(set(methods)))})
    raise HttpError(404, "未找到")
