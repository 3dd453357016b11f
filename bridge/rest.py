"""REST/JSON handlers of the desk and the platform API (framework-free: request data in, (status, body) out).

Agents see and change only orders assigned to them; the platform (bearer API token) sees all.  Bad input is
refused with a 4xx before anything is written.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError

from bridge.auth import Principal, TokenSigner, platform_principal, verify_password
from bridge.models import STATUSES, Agent
from bridge.orders import OrderNotFound
from bridge.validation import DirectResult, FollowUp, OrderEdit, StatusUpdate

if TYPE_CHECKING:
    from bridge.handoff import HotlineHandoff

Reply = tuple[int, Any]


class HttpError(Exception):
    def __init__(self, status: int, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details

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
        self.signer = TokenSigner(d.token_secret, d.token_ttl_s)

    # -- auth -----------------------------------------------------------------------------------------------------
    def principal(self, token: str | None) -> Principal:
        if not token:
            raise HttpError(401, "需要登录（Bearer 令牌）")
        agent = self.signer.verify(token)
        if agent is not None:
            return Principal("agent", agent)
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

    async def login(self, raw: bytes) -> Reply:
        try:
            data = json.loads(raw or b"{}")
        except ValueError as exc:
            raise HttpError(400, "请求体不是有效的 JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("agent_id"), str) or \
                not isinstance(data.get("password"), str):
            raise HttpError(400, "需要 agent_id 和 password")
        stored, name = await asyncio.to_thread(self._agent_hash, data["agent_id"])
        ok = await asyncio.to_thread(verify_password, data["password"], stored)
        if not ok:
            raise HttpError(401, "工号或密码错误")
        return 200, {"token": self.signer.issue(data["agent_id"]), "agent": {"id": data["agent_id"], "name": name}}

    # -- orders ---------------------------------------------------------------------------------------------------
    async def _order(self, p: Principal, order_no: str) -> dict[str, Any]:
        try:
            o = await asyncio.to_thread(self.h.store.get, order_no)
        except OrderNotFound as exc:
            raise HttpError(404, f"工单 {order_no} 不存在") from exc
        if not p.is_platform and o.get("agent_id") != p.id:
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
        if not p.is_platform:
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
        if p.is_platform:
            raise HttpError(403, "仅坐席可设置状态")
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
        return 200, {"kind": p.kind, "id": p.id, "presence": st.presence if st else None,
                     "state": st.state if st else None, "agent_state_backend": self.h.agents.name}


def _actor(p: Principal) -> str:
    return p.id if not p.is_platform else f"platform:{p.id}"


def _now() -> datetime:
    return datetime.now(UTC)
