"""Desk + REST API over real HTTP (Twisted web on the asyncio reactor): auth, cross-agent refusal, bad input → 4xx
with nothing changed, audit of edits, SSE pops with Last-Event-ID replay after reconnect."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from bridge.api import OrderDraft
from bridge.web import start_desk
from ivr.net.reactor import reactor_for_loop

PW = {"a1001": "pw-1001", "a1002": "pw-1002"}
PLATFORM = "test-platform-token"


def http(base: str, method: str, path: str, body: Any = None, token: str | None = None,
         raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


async def call(base: str, *a: Any, **kw: Any) -> tuple[int, Any]:
    return await asyncio.to_thread(http, base, *a, **kw)


async def sse_read(port: int, token: str, last_id: int | None, want: int) -> list[dict[str, str]]:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    head = f"GET /api/events?token={token} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
    if last_id is not None:
        head += f"Last-Event-ID: {last_id}\r\n"
    w.write((head + "\r\n").encode())
    await w.drain()
    buf = b""
    events: list[dict[str, str]] = []
    while len(events) < want:
        chunk = await asyncio.wait_for(r.read(4096), 10)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.decode().splitlines()
                          if ": " in line and not line.startswith(":"))
            if "event" in fields:
                events.append(fields)
    w.close()
    return events


def draft(number: str = "13900000001", **kw: Any) -> OrderDraft:
    d = OrderDraft(call_id=f"c-{number}", caller_number=number, request_type="投诉", category_code="noise",
                   category_name="噪声扰民", district="朝阳区", address="望京西路1号", title="夜间施工",
                   content="晚上十一点还在施工", transcript=[("caller", "晚上十一点还在施工")])
    for k, v in kw.items():
        setattr(d, k, v)
    return d


@pytest.fixture
def desk(make_handoff: Callable[..., Any]) -> Any:
    return make_handoff()


def test_api_auth_cross_agent_and_bad_input(desk: Any) -> None:
    h = desk

    async def go() -> None:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        base = f"http://127.0.0.1:{srv.port}"
        try:
            mine = await h.create_order(draft())
            other = await h.create_order(draft("13700000000"))
            await h.mark(mine.order_no, status="assigned", agent_id="a1001")
            await h.mark(other.order_no, status="assigned", agent_id="a1002")
            assert (await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": "wrong"}))[0] == 401
            assert (await call(base, "POST", "/api/login", raw=b"{not json"))[0] == 400
            st, body = await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": PW["a1001"]})
            assert st == 200 and body["agent"]["name"] == "张敏"
            tok = body["token"]
            assert (await call(base, "GET", "/api/orders"))[0] == 401
            assert (await call(base, "GET", "/api/orders", token=tok + "x"))[0] == 401
            assert (await call(base, "GET", "/api/orders", token="forged.token"))[0] == 401
            st, body = await call(base, "GET", "/api/orders", token=tok)
            assert st == 200 and [o["order_no"] for o in body["orders"]] == [mine.order_no]
            assert (await call(base, "GET", f"/api/orders/{other.order_no}", token=tok))[0] == 403
            assert (await call(base, "GET", "/api/orders?agent_id=a1002", token=tok))[0] == 403
            before = h.store.get(other.order_no)
            assert (await call(base, "PATCH", f"/api/orders/{other.order_no}", {"title": "x"}, token=tok))[0] == 403
            assert (await call(base, "POST", f"/api/orders/{other.order_no}/status", {"status": "closed"},
                               token=tok))[0] == 403
            assert h.store.get(other.order_no) == before
            # invalid fields → 422 and no change, no audit row
            audit0 = h.store.audit(mine.order_no)
            for bad in ({"request_type": "闲聊"}, {"no_such_field": 1}, {"contact_number": "abc"},
                        {"urgency": "whenever"}, {"title": "长" * 500}):
                st, body = await call(base, "PATCH", f"/api/orders/{mine.order_no}", bad, token=tok)
                assert st == 422 and body["error"] and body["details"], bad
            assert (await call(base, "PATCH", f"/api/orders/{mine.order_no}", raw=b"[1,2", token=tok))[0] == 400
            assert (await call(base, "POST", f"/api/orders/{mine.order_no}/status", {"status": "gone"},
                               token=tok))[0] == 422
            assert (await call(base, "POST", f"/api/orders/{mine.order_no}/followup", {"solved": True},
                               token=tok))[0] == 422
            assert (await call(base, "GET", "/api/orders?limit=abc", token=tok))[0] == 400
            assert (await call(base, "GET", "/api/orders?since=yesterday", token=tok))[0] == 400
            assert (await call(base, "GET", "/api/orders?colour=red", token=tok))[0] == 400
            assert (await call(base, "GET", "/api/orders/nope", token=tok))[0] == 404
            assert h.store.audit(mine.order_no) == audit0
            # valid edit → audited with the agent as actor
            st, body = await call(base, "PATCH", f"/api/orders/{mine.order_no}",
                                  {"address": "望京西路9号", "handling_unit": "朝阳区城管委"}, token=tok)
            assert st == 200 and body["address"] == "望京西路9号"
            st, body = await call(base, "POST", f"/api/orders/{mine.order_no}/direct", {"result": "已告知办理流程"},
                                  token=tok)
            assert st == 200 and body["status"] == "handled_directly" and body["handling_mode"] == "直办"
            audit = {(a["actor"], a["field"], a["new"]) for a in h.store.audit(mine.order_no)}
            assert {("a1001", "address", "望京西路9号"), ("a1001", "status", "handled_directly")} <= audit
            # the platform token sees everything and records 回访 results
            st, body = await call(base, "GET", "/api/orders?status=assigned", token=PLATFORM)
            assert st == 200 and [o["order_no"] for o in body["orders"]] == [other.order_no]
            st, body = await call(base, "POST", f"/api/orders/{other.order_no}/followup",
                                  {"contacted": True, "solved": True, "satisfied": False, "final_rating": "不满意"},
                                  token=PLATFORM)
            assert st == 200 and (body["fu_contacted"], body["fu_solved"], body["fu_satisfied"]) == (True, True, False)
            st, doc = await call(base, "GET", "/api/openapi.json")
            assert st == 200 and doc["openapi"].startswith("3.") and "/api/orders/{order_no}/followup" in doc["paths"]
            assert "FollowUp" in doc["components"]["schemas"]
        finally:
            await srv.stop()
            await h.close()
    asyncio.run(go())


def test_sse_pop_and_replay_after_reconnect(desk: Any) -> None:
    h = desk

    async def go() -> None:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        try:
            tok = h_token(h, "a1001")
            reader = asyncio.ensure_future(sse_read(srv.port, tok, None, 1))
            for _ in range(100):
                if h.hub.listener_count("a1001"):
                    break
                await asyncio.sleep(0.02)
            first = await h.hub.publish("a1001", "pop", {"order": {"order_no": "X1"}})
            got = await reader
            assert got[0]["event"] == "pop" and json.loads(got[0]["data"])["order"]["order_no"] == "X1"
            assert int(got[0]["id"]) == first.id
            # desk offline: two events happen; on reconnect with Last-Event-ID both are replayed, in order
            await h.hub.publish("a1001", "pop", {"order": {"order_no": "X2"}})
            await h.hub.publish("a1002", "pop", {"order": {"order_no": "NOT-MINE"}})
            await h.hub.publish("a1001", "order", {"order_no": "X2", "status": "assigned"})
            again = await sse_read(srv.port, tok, first.id, 2)
            assert [(e["event"], json.loads(e["data"])["order_no"] if e["event"] == "order"
                     else json.loads(e["data"])["order"]["order_no"]) for e in again] == [("pop", "X2"),
                                                                                          ("order", "X2")]
            st, _ = await call(f"http://127.0.0.1:{srv.port}", "GET", "/api/events?token=bad")
            assert st == 401
        finally:
            await srv.stop()
            await h.close()
    asyncio.run(go())


def h_token(h: Any, agent_id: str) -> str:
    from bridge.rest import Api

    return Api(h).signer.issue(agent_id)
