"""Desk and API security against the real server (Twisted web on loopback): login lock-out, session expiry, CSRF,
security headers, the role of every endpoint (generated from bridge.rest.ROUTES), demo credentials refused."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.api import OrderDraft
from bridge.auth import DEMO_PASSWORD_HASHES, DEMO_PLATFORM_TOKEN_SHA256, DEMO_TOKEN_SECRET, hash_password
from bridge.openapi import openapi_document
from bridge.rest import PUBLIC, ROLES, ROUTES
from bridge.web import DemoCredentials, start_desk
from ivr.net.reactor import reactor_for_loop

PLATFORM = "test-platform-token"
ROOT = Path(__file__).resolve().parents[2]


class Resp:
    def __init__(self, status: int, headers: Any, raw: bytes) -> None:
        self.status, self.headers, self.raw = status, headers, raw

    @property
    def body(self) -> Any:
        return json.loads(self.raw or b"null")

    def cookie(self) -> str | None:
        """The session cookie's value set by this response ('' when cleared), None when not set."""
        for v in self.headers.get_all("set-cookie") or []:
            if v.startswith("hotline_desk="):
                return str(v.split(";", 1)[0].split("=", 1)[1])
        return None


def http(base: str, method: str, path: str, body: Any = None, *, token: str | None = None,
         cookie: str | None = None, csrf: str | None = None, headers: dict[str, str] | None = None) -> Resp:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                 method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    if cookie:
        req.add_header("cookie", f"hotline_desk={cookie}")
    if csrf:
        req.add_header("x-csrf-token", csrf)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return Resp(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers, e.read())


async def call(base: str, *a: Any, **kw: Any) -> Resp:
    return await asyncio.to_thread(http, base, *a, **kw)


def draft(number: str = "13900000001") -> OrderDraft:
    return OrderDraft(call_id=f"c-{number}", caller_number=number, request_type="投诉", category_code="noise",
                      category_name="噪声扰民", title="夜间施工", content="晚上十一点还在施工")


# -- login lock-out -------------------------------------------------------------------------------------------------
def test_lockout_per_agent_id_same_answer_retry_after_logged_once(make_handoff: Callable[..., Any],
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    h = make_handoff(desk={"port": 0, "token_secret": "s", "lockout_failures": 3, "lockout_address_failures": 100,
                           "lockout_s": 60})

    async def go() -> None:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        base = f"http://127.0.0.1:{srv.port}"
        t = [1_000_000.0]
        srv.root.api.signer.clock = lambda: t[0]
        try:
            wrong = [await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": "bad"})
                     for _ in range(3)]
            assert [r.status for r in wrong] == [401, 401, 401]
            assert "Retry-After" not in wrong[0].headers and wrong[2].headers["Retry-After"] == "60"
            # locked: the right password gets the same answer as a wrong one, plus Retry-After
            locked = await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": "pw-1001"})
            assert (locked.status, locked.body) == (401, wrong[0].body) and locked.cookie() is None
            assert locked.headers["Retry-After"] == "60"
            # an unknown agent id is locked the same way: the lock tells no ids apart
            ghost = [await call(base, "POST", "/api/login", {"agent_id": "nobody", "password": "bad"})
                     for _ in range(4)]
            assert [(r.status, r.body, r.headers.get("Retry-After")) for r in ghost] == \
                [(r.status, r.body, r.headers.get("Retry-After")) for r in (*wrong, locked)]
            # other agents from the same address are not affected (address limit 100)
            assert (await call(base, "POST", "/api/login", {"agent_id": "a1002", "password": "pw-1002"})).status == 200
            t[0] += 30
            again = await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": "pw-1001"})
            assert again.status == 401 and again.headers["Retry-After"] == "30"
            t[0] += 31  # the lock is over
            assert (await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": "pw-1001"})).status == 200
        finally:
            await srv.stop()
            await h.close()

    with caplog.at_level(logging.WARNING, logger="bridge.rest"):
        asyncio.run(go())
    locks = [r.getMessage() for r in caplog.records if "desk login locked" in r.getMessage()]
    assert locks == ["desk login locked for 60 s: agent id a1001 after repeated failures",
                     "desk login locked for 60 s: agent id nobody after repeated failures"]


def test_lockout_per_source_address(make_handoff: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    h = make_handoff(desk={"port": 0, "token_secret": "s", "lockout_failures": 10, "lockout_address_failures": 4,
                           "lockout_s": 120})

    async def go() -> None:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        base = f"http://127.0.0.1:{srv.port}"
        try:
            for i in range(4):  # a spray over many ids from one address
                r = await call(base, "POST", "/api/login", {"agent_id": f"x{i}", "password": "bad"})
                assert r.status == 401
            assert r.headers["Retry-After"] == "120"
            r = await call(base, "POST", "/api/login", {"agent_id": "a1002", "password": "pw-1002"})
            assert r.status == 401 and r.headers["Retry-After"] and r.body == {"error": "工号或密码错误"}
            # the operator lifts it
            srv.root.api.roles["a1003"] = "operator"
            tok = srv.root.api.signer.issue("a1003")
            got = await call(base, "GET", "/api/security/locks", token=tok)
            assert got.status == 200 and {"kind": "address", "key": "127.0.0.1"} in \
                [{k: v for k, v in lk.items() if k != "retry_after_s"} for lk in got.body["locks"]]
            assert (await call(base, "DELETE", "/api/security/locks/address/127.0.0.1", token=tok)).status == 200
            assert (await call(base, "POST", "/api/login", {"agent_id": "a1002", "password": "pw-1002"})).status == 200
        finally:
            await srv.stop()
            await h.close()

    with caplog.at_level(logging.WARNING, logger="bridge.rest"):
        asyncio.run(go())
    assert [r.getMessage() for r in caplog.records if "desk login locked" in r.getMessage()] == \
        ["desk login locked for 120 s: address 127.0.0.1 after repeated failures"]


# -- sessions, CSRF, headers ----------------------------------------------------------------------------------------
def test_session_idle_and_absolute_expiry_and_sse_closed(make_handoff: Callable[..., Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import bridge.web

    monkeypatch.setattr(bridge.web, "HEARTBEAT_S", 0.05)
    h = make_handoff(desk={"port": 0, "token_secret": "s", "session_idle_s": 100, "token_ttl_s": 250})

    async def go() -> None:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        base = f"http://127.0.0.1:{srv.port}"
        t = [1_000_000.0]
        srv.root.api.signer.clock = lambda: t[0]
        try:
            r = await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": "pw-1001"})
            cookie = r.cookie()
            assert r.status == 200 and cookie
            for _ in range(2):  # each request slides the idle limit: 180 s after login, still in
                t[0] += 90
                r = await call(base, "GET", "/api/me", cookie=cookie)
                assert r.status == 200, r.body
                cookie = r.cookie() or ""
            t[0] += 101  # idle too long
            r = await call(base, "GET", "/api/me", cookie=cookie)
            assert r.status == 401 and r.cookie() == ""  # and the cookie is dropped
            # absolute: 250 s after login even with steady use
            r = await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": "pw-1001"})
            cookie = r.cookie() or ""
            for _ in range(3):
                t[0] += 80
                r = await call(base, "GET", "/api/me", cookie=cookie)
                assert r.status == 200
                cookie = r.cookie() or ""
            t[0] += 20
            assert (await call(base, "GET", "/api/me", cookie=cookie)).status == 401
            # an open event stream ends when its session goes idle; the reconnect is refused
            r = await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": "pw-1001"})
            cookie = r.cookie() or ""
            rd, wr = await asyncio.open_connection("127.0.0.1", srv.port)
            wr.write(f"GET /api/events HTTP/1.1\r\nHost: x\r\nCookie: hotline_desk={cookie}\r\n\r\n".encode())
            head = await asyncio.wait_for(rd.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200")
            await asyncio.sleep(0.2)
            assert srv.root.streams  # still open while the session lives
            t[0] += 101
            await asyncio.wait_for(rd.read(), 5)  # returns at EOF only: the server closed it
            wr.close()
            assert not srv.root.streams
            assert (await call(base, "GET", "/api/events", cookie=cookie)).status == 401
        finally:
            await srv.stop()
            await h.close()

    asyncio.run(go())


def test_csrf_cookie_attributes_origin_and_bearer(make_handoff: Callable[..., Any]) -> None:
    h = make_handoff()

    async def go() -> None:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        base = f"http://127.0.0.1:{srv.port}"
        try:
            ref = await h.create_order(draft())
            await h.mark(ref.order_no, status="assigned", agent_id="a1001")
            r = await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": "pw-1001"})
            set_cookie = next(v for v in r.headers.get_all("set-cookie") if v.startswith("hotline_desk="))
            attrs = {a.strip().split("=")[0].lower() for a in set_cookie.split(";")[1:]}
            assert {"httponly", "path", "max-age", "samesite"} <= attrs and "SameSite=Strict" in set_cookie
            cookie, csrf, token = r.cookie(), r.body["csrf"], r.body["token"]
            other = (await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": "pw-1001"})).body["csrf"]
            assert other != csrf
            path = f"/api/orders/{ref.order_no}"
            before = h.store.get(ref.order_no)
            for bad in (None, "", "x" * 24, other):  # none, empty, guessed, another session's
                r = await call(base, "PATCH", path, {"title": "伪造"}, cookie=cookie, csrf=bad)
                assert r.status == 403, bad
                r = await call(base, "POST", "/api/presence", {"presence": "available"}, cookie=cookie, csrf=bad)
                assert r.status == 403, bad
            r = await call(base, "PATCH", path, {"title": "伪造"}, cookie=cookie, csrf=csrf,
                           headers={"origin": "http://evil.example"})
            assert r.status == 403
            assert h.store.get(ref.order_no) == before
            assert (await h.agents.snapshot())["a1001"].presence != "available"
            assert (await call(base, "GET", path, cookie=cookie)).status == 200  # reads need no CSRF token
            r = await call(base, "PATCH", path, {"title": "真修改"}, cookie=cookie, csrf=csrf,
                           headers={"origin": base})
            assert r.status == 200 and r.body["title"] == "真修改"
            # a bearer token is never sent by a browser on its own: no CSRF token needed (platform, scripts)
            r = await call(base, "PATCH", path, {"title": "平台修改"}, token=PLATFORM)
            assert r.status == 200
            r = await call(base, "PATCH", path, {"title": "脚本修改"}, token=token)
            assert r.status == 200 and r.headers["x-session-token"]
            # logout drops the cookie
            r = await call(base, "POST", "/api/logout", cookie=cookie, csrf=csrf)
            assert r.status == 200 and r.cookie() == ""
            assert (await call(base, "GET", "/api/me", cookie=cookie)).status == 401  # and the session is revoked
        finally:
            await srv.stop()
            await h.close()

    asyncio.run(go())


def test_security_headers_on_every_response(make_handoff: Callable[..., Any]) -> None:
    h = make_handoff()

    async def go() -> None:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        base = f"http://127.0.0.1:{srv.port}"
        try:
            tok = srv.root.api.signer.issue("a1001")
            got = {
                "page": await call(base, "GET", "/desk/"), "js": await call(base, "GET", "/desk/desk.js"),
                "missing": await call(base, "GET", "/desk/nope.html"),
                "openapi": await call(base, "GET", "/api/openapi.json"),
                "401": await call(base, "GET", "/api/orders"), "404": await call(base, "GET", "/api/nope"),
                "405": await call(base, "PUT", "/api/orders", {}, token=tok),
                "login": await call(base, "POST", "/api/login", {"agent_id": "a1001", "password": "x"}),
                "orders": await call(base, "GET", "/api/orders", token=tok),
                "events-refused": await call(base, "GET", "/api/events?token=bad"),
            }
            assert [k for k, r in got.items() if r.status >= 500] == []
            for name, r in got.items():
                csp = r.headers["content-security-policy"]
                assert "default-src 'none'" in csp and "script-src 'self'" in csp, name
                assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, name
                assert r.headers["x-content-type-options"] == "nosniff", name
                assert r.headers["x-frame-options"] == "DENY", name
                assert r.headers["referrer-policy"] == "no-referrer", name
                if name not in ("page", "js", "missing"):
                    assert r.headers["cache-control"] == "no-store", name
            assert got["405"].status == 405 and got["405"].headers["allow"] == "GET"
        finally:
            await srv.stop()
            await h.close()

    asyncio.run(go())


# -- roles: every endpoint × every role, generated from the route table ---------------------------------------------
# The intended policy, written out once more: a route added to bridge.rest.ROUTES without a line here fails.
A, S, O, P = "agent", "supervisor", "operator", "platform"  # noqa: E741
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/openapi.json"): {"anonymous", A, S, O, P},
    ("POST", "/api/login"): {"anonymous", A, S, O, P},
    ("POST", "/api/logout"): {A, S, O},
    ("GET", "/api/me"): {A, S, O, P},
    ("POST", "/api/presence"): {A, S},
    ("GET", "/api/events"): {A, S},
    ("GET", "/api/orders"): {A, S, P},
    ("GET", "/api/orders/{order_no}"): {A, S, P},
    ("PATCH", "/api/orders/{order_no}"): {A, S, P},
    ("POST", "/api/orders/{order_no}/status"): {A, S, P},
    ("POST", "/api/orders/{order_no}/followup"): {A, S, P},
    ("POST", "/api/orders/{order_no}/direct"): {A, S, P},
    ("GET", "/api/orders/{order_no}/audit"): {A, S, P},
    ("GET", "/api/security/locks"): {O},
    ("DELETE", "/api/security/locks/{kind}/{key}"): {O},
}
WHO = ("anonymous", *ROLES)


def test_route_table_matches_policy_and_openapi() -> None:
    assert {(r.method, r.path) for r in ROUTES} == set(EXPECTED)
    for r in ROUTES:
        assert set(r.allow) == EXPECTED[(r.method, r.path)], (r.method, r.path)
        assert r.allow <= PUBLIC
    documented = {(m.upper(), p) for p, ops in openapi_document()["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in ROUTES}


@pytest.fixture(scope="module")
def matrix_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One desk on its own loop thread for the whole matrix: a1001 agent, a1002 supervisor, a1003 operator."""
    from bridge.handoff import HotlineHandoff
    from tests.bridge.conftest import bridge_config
    from tests.kit.call import FakeEngine
    from tests.kit.prompts import FakePrompts

    tmp = tmp_path_factory.mktemp("matrix")
    agents = [{"id": i, "name": i, "sip_uri": f"sip:{i}@agents", "password_hash": hash_password(f"pw-{i}"),
               "role": role} for i, role in (("a1001", A), ("a1002", S), ("a1003", O))]
    cfg = bridge_config(tmp, f"sqlite:///{tmp / 'h.db'}", agents=agents)
    h = HotlineHandoff.from_config(FakeEngine(), FakePrompts.transfer({}), cfg)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def on_loop(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

    async def setup() -> Any:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        ref = await h.create_order(draft())
        await h.mark(ref.order_no, status="assigned", agent_id="a1001")
        return srv, ref.order_no

    srv, order_no = on_loop(setup())
    base = f"http://127.0.0.1:{srv.port}"

    def login(who: str) -> dict[str, str]:
        if who in ("anonymous", P):
            return {} if who == "anonymous" else {"token": PLATFORM}
        agent_id = {A: "a1001", S: "a1002", O: "a1003"}[who]
        r = http(base, "POST", "/api/login", {"agent_id": agent_id, "password": f"pw-{agent_id}"})
        assert r.status == 200 and r.body["agent"]["role"] == who
        return {"cookie": r.cookie() or "", "csrf": r.body["csrf"]}

    creds = {who: login(who) for who in WHO}
    yield {"port": srv.port, "creds": creds, "login": login,
           "params": {"order_no": order_no, "kind": "user", "key": "nobody"}}

    async def teardown() -> None:
        await srv.stop()
        await h.close()

    on_loop(teardown())
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def raw_status(port: int, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
    """The status line only (the event stream stays open: read up to the end of the headers, then close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n" + \
            "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + f"Content-Length: {len(body)}\r\n\r\n"
        s.sendall(head.encode() + body)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return int(buf.split(b" ", 2)[1])


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
def test_every_endpoint_every_role(matrix_server: dict[str, Any], route: Any, who: str) -> None:
    allowed = who in EXPECTED[(route.method, route.path)]  # KeyError: a new endpoint has no rule here
    path = route.path.format(**matrix_server["params"])
    # logout revokes its session: a session of its own
    c = matrix_server["login"](who) if route.path == "/api/logout" else matrix_server["creds"][who]
    headers = {"content-type": "application/json"}
    if "token" in c:
        headers["authorization"] = f"Bearer {c['token']}"
    if "cookie" in c:
        headers["cookie"] = f"hotline_desk={c['cookie']}"
        headers["x-csrf-token"] = c["csrf"]
    body = b"{}" if route.changes_state else b""  # never a valid change: allowed → 4xx of the input, not of access
    status = raw_status(matrix_server["port"], route.method, path, headers, body)
    if allowed:
        assert status not in (401, 403, 404, 405) or (status == 404 and "{kind}" in route.path), status
        assert status < 500, status
    else:
        assert status == (401 if who == "anonymous" else 403), status


def test_agent_sees_only_own_orders_supervisor_all(make_handoff: Callable[..., Any]) -> None:
    h = make_handoff(agents=[
        {"id": "a1001", "name": "张敏", "password_hash": hash_password("pw-1001")},
        {"id": "s1", "name": "组长", "password_hash": hash_password("pw-s1"), "role": "supervisor"}])

    async def go() -> None:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        base = f"http://127.0.0.1:{srv.port}"
        try:
            other = await h.create_order(draft("13700000000"))
            await h.mark(other.order_no, status="assigned", agent_id="a1002")
            agent = srv.root.api.signer.issue("a1001")
            sup = srv.root.api.signer.issue("s1")
            assert (await call(base, "GET", f"/api/orders/{other.order_no}", token=agent)).status == 403
            assert (await call(base, "GET", "/api/orders?agent_id=a1002", token=agent)).status == 403
            r = await call(base, "GET", "/api/orders?agent_id=a1002", token=sup)
            assert r.status == 200 and [o["order_no"] for o in r.body["orders"]] == [other.order_no]
            r = await call(base, "PATCH", f"/api/orders/{other.order_no}", {"title": "组长改"}, token=sup)
            assert r.status == 200
            assert ("s1", "title", "组长改") in {(a["actor"], a["field"], a["new"])
                                                 for a in h.store.audit(other.order_no)}
        finally:
            await srv.stop()
            await h.close()

    asyncio.run(go())


# -- demo credentials -----------------------------------------------------------------------------------------------
def test_demo_credentials_refused_unless_demo(make_handoff: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    demo_hash = sorted(DEMO_PASSWORD_HASHES)[0]
    monkeypatch.delenv("HOTLINE_DEMO", raising=False)

    async def start(**desk: Any) -> None:
        h = make_handoff(agents=[{"id": "a1001", "name": "张敏", "password_hash": demo_hash}],
                         desk={"port": 0, "token_secret": "s", **desk})
        await h.start()
        try:
            srv = start_desk(h, reactor_for_loop(), port=0)
            await srv.stop()
        finally:
            await h.close()

    with pytest.raises(DemoCredentials, match="demo agent passwords"):
        asyncio.run(start())
    with pytest.raises(DemoCredentials, match=r"desk\.token_secret"):
        asyncio.run(start(token_secret=DEMO_TOKEN_SECRET))
    with pytest.raises(DemoCredentials, match="demo platform token"):
        asyncio.run(start(api_tokens={"city": DEMO_PLATFORM_TOKEN_SHA256}))
    with caplog.at_level(logging.WARNING, logger="bridge.web"):
        asyncio.run(start(demo=True))
    assert "demo mode" in caplog.text
    monkeypatch.setenv("HOTLINE_DEMO", "1")
    asyncio.run(start())


def test_demo_password_changed_with_cli_starts(make_handoff: Callable[..., Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`hotline agents passwd` writes the database's hash, which wins over the config's: no longer the demo."""
    from bridge.models import Agent

    monkeypatch.delenv("HOTLINE_DEMO", raising=False)
    h = make_handoff(agents=[{"id": "a1001", "name": "张敏", "password_hash": sorted(DEMO_PASSWORD_HASHES)[0]}])

    async def go() -> None:
        await h.start()
        with h.store.sessions() as s:
            row = s.get(Agent, "a1001")
            row.password_hash = hash_password("a-real-password")
            s.commit()
        srv = start_desk(h, reactor_for_loop(), port=0)
        await srv.stop()
        await h.close()

    asyncio.run(go())


def test_desk_serve_on_shipped_config_one_line(tmp_path: Path) -> None:
    """`hotline desk serve` on config/bridge.yaml as shipped: refused with one line, exit 2; HOTLINE_DEMO=1 starts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(HOTLINE_BRIDGE__DATABASE_URL=f"sqlite:///{tmp_path / 'h.db'}", PYTHONPATH=str(ROOT),
               HOTLINE_BRIDGE__JOURNAL_PATH=str(tmp_path / "orders.journal"),
               HOTLINE_BRIDGE__SEQUENCE_DIR=str(tmp_path))
    cmd = [sys.executable, "-m", "hotline", "desk", "serve", "--port", "0"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("hotline:")]
    assert len(errors) == 1 and "refuses the demo credentials" in errors[0] and "HOTLINE_DEMO=1" in errors[0]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**env, "HOTLINE_DEMO": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("agent desk: http://127.0.0.1:"), line
    finally:
        proc.terminate()
        proc.wait(10)


def test_login_guard_window_and_signer_tamper() -> None:
    from bridge.auth import LoginGuard, TokenSigner

    g = LoginGuard(user_limit=3, address_limit=50, window_s=100, lock_s=30)
    assert g.failed("a", "1.2.3.4", 0) == [] and g.failed("a", "1.2.3.4", 50) == []
    assert g.failed("a", "1.2.3.4", 120) == []  # the first failure is out of the window: 2 counted
    assert g.retry_after("a", "1.2.3.4", 120) is None
    assert g.failed("a", "1.2.3.4", 121) == [("user", "a")]
    assert g.retry_after("a", "9.9.9.9", 121) == 30 and g.retry_after("b", "1.2.3.4", 121) is None
    assert g.retry_after("a", "1.2.3.4", 151.5) is None
    t = [1000.0]
    s = TokenSigner("k", absolute_s=60, idle_s=10, clock=lambda: t[0])
    tok = s.issue("a1001")
    sess = s.session(tok)
    assert sess is not None and s.verify(tok) == "a1001"
    _p64, sig = tok.split(".")
    import base64

    forged = base64.urlsafe_b64encode(b"a1002|" + sess.sid.encode() + b"|1000|1000").decode().rstrip("=")
    assert s.session(f"{forged}.{sig}") is None and TokenSigner("other", 60).session(tok) is None
    assert s.csrf(sess) != s.csrf(s.session(s.issue("a1001")) or sess)  # per session
    t[0] += 11
    assert s.session(tok) is None
