"""The agent desk in headless Chromium (Debian chromium via Playwright): login, 示闲, the order pops on screen
before the audio is bridged, an edit is saved and audited."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bridge.api import OrderDraft
from bridge.web import start_desk
from ivr.net.reactor import reactor_for_loop
from tests.kit.call import AgentBehaviour, FakeCall, FakeEngine
from tests.kit.prompts import FakePrompts

pytestmark = pytest.mark.browser
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


async def wait_js(page: Any, expression: str, timeout: int = 5000) -> None:
    """Poll ``expression`` with page.evaluate: Playwright's wait_for_function evaluates strings with eval, which the
    desk's Content-Security-Policy (script-src 'self') forbids, as it should."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout / 1000
    while not await page.evaluate(expression):
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {expression}")
        await asyncio.sleep(0.05)


def test_desk_shows_popped_order_before_bridge(make_handoff: Callable[..., Any]) -> None:
    pw_api = pytest.importorskip("playwright.async_api")
    engine = FakeEngine({"sip:a1001@agents": AgentBehaviour(answer_after=0.2)})
    prompts = FakePrompts.transfer({"transfer.notice": 0.2, "hold.music": 0.5, "whisper.agent": 3.0})
    h = make_handoff(engine=engine, prompts=prompts)

    async def go() -> None:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        try:
            earlier = await h.create_order(OrderDraft(call_id="c0", caller_number="13900000001", request_type="咨询",
                                                      category_name="供水", title="停水咨询"))
            async with pw_api.async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = await browser.new_page()
                await page.goto(f"http://127.0.0.1:{srv.port}/desk/")
                await page.fill("#agent-id", "a1001")
                await page.fill("#password", "pw-1001")
                await page.click("#login-form button[type=submit]")
                await page.wait_for_selector("#conn.on")
                await page.click("#btn-available")
                await wait_js(page, "document.getElementById('presence').textContent === '空闲'")
                assert (await h.agents.snapshot())["a1001"].presence == "available"

                draft = OrderDraft(call_id="c1", caller_number="13900000001", request_type="投诉",
                                   category_code="noise", category_name="噪声扰民", district="朝阳区",
                                   address="望京西路1号", title="夜间施工噪声", content="晚上十一点还在施工",
                                   transcript=[("ivr", "请讲"), ("caller", "晚上十一点还在施工")])
                ref = await h.create_order(draft)
                caller = FakeCall(caller="13900000001")
                transfer = asyncio.ensure_future(h.warm_transfer(caller, ref, draft))
                await wait_js(page,
                    f"document.getElementById('order-no').textContent === '{ref.order_no}'", timeout=10000)
                assert engine.bridges == [] and not transfer.done()  # on screen before the audio is bridged
                assert await page.input_value("[name=address]") == "望京西路1号"
                assert await page.is_visible("#repeat-badge") and await page.text_content("#repeat-badge") == "老户"
                assert earlier.order_no in (await page.text_content("#history") or "")
                assert "晚上十一点还在施工" in (await page.text_content("#transcript") or "")
                out = await transfer
                assert out.status == "bridged" and len(engine.bridges) == 1
                await page.fill("[name=address]", "望京西路3号")
                await page.fill("[name=handling_unit]", "朝阳区城管委")
                await page.click("#save")
                await wait_js(page, "document.getElementById('msg').textContent.includes('已保存')")
                await browser.close()
            audit = {(a["actor"], a["field"], a["new"]) for a in h.store.audit(ref.order_no)}
            assert ("a1001", "address", "望京西路3号") in audit and ("a1001", "handling_unit", "朝阳区城管委") in audit
            caller.remote_hangup()
        finally:
            await srv.stop()
            await h.close()
    asyncio.run(go())



def test_desk_reconnects_and_replays_missed_pop(make_handoff: Callable[..., Any],
                                                caplog: pytest.LogCaptureFixture) -> None:
    """The desk's connection drops and the server is away for a moment; a pop published meanwhile shows up after
    the browser's EventSource reconnects with Last-Event-ID."""
    pw_api = pytest.importorskip("playwright.async_api")
    h = make_handoff()

    async def go() -> None:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        port = srv.port
        try:
            ref = await h.create_order(OrderDraft(call_id="c1", caller_number="13900000009", request_type="求助",
                                                  title="路灯不亮", address="学院路5号"))
            async with pw_api.async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = await browser.new_page()
                await page.goto(f"http://127.0.0.1:{port}/desk/")
                await page.fill("#agent-id", "a1001")
                await page.fill("#password", "pw-1001")
                await page.click("#login-form button[type=submit]")
                await page.wait_for_selector("#conn.on")
                first = await h.hub.publish("a1001", "order", {"order_no": "none", "status": "new"})
                await wait_js(page, f"window.deskLastEventId === '{first.id}'")
                await srv.stop()  # server away: the desk shows it is reconnecting
                await page.wait_for_selector("#conn.off")
                payload = await h.pop_payload(ref, OrderDraft(call_id="c1", caller_number="13900000009"))
                await h.hub.publish("a1001", "pop", payload)  # missed while disconnected
                srv = start_desk(h, reactor_for_loop(), port=port)
                await wait_js(page,
                    f"document.getElementById('order-no').textContent === '{ref.order_no}'", timeout=15000)
                assert await page.is_visible("#conn.on") and first.id > 0
                assert await page.input_value("[name=address]") == "学院路5号"
                await browser.close()
        finally:
            await srv.stop()
            await h.close()
    with caplog.at_level("INFO", logger="bridge.web"):
        asyncio.run(go())
    assert "reconnected after event" in caplog.text and "replaying 1" in caplog.text  # Last-Event-ID was sent


def test_desk_session_cookie_csrf_and_expiry(make_handoff: Callable[..., Any]) -> None:
    """Under the desk's CSP (violations fail the test): the session is an HttpOnly cookie the page cannot read, a
    change goes through with the CSRF token, a request without it is refused; once the session is idle too long the
    next click shows the login again."""
    pw_api = pytest.importorskip("playwright.async_api")
    h = make_handoff()

    async def go() -> None:
        await h.start()
        srv = start_desk(h, reactor_for_loop(), port=0)
        base = f"http://127.0.0.1:{srv.port}"
        try:
            async with pw_api.async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = await browser.new_page()
                console: list[str] = []
                page.on("console", lambda m: console.append(m.text))
                await page.goto(f"{base}/desk/")
                await page.fill("#agent-id", "a1001")
                await page.fill("#password", "pw-1001")
                await page.click("#login-form button[type=submit]")
                await page.wait_for_selector("#conn.on")
                assert "hotline_desk" not in await page.evaluate("document.cookie")  # HttpOnly
                assert "token" not in " ".join(await page.evaluate("Object.keys(sessionStorage)"))
                await page.click("#btn-available")
                await wait_js(page, "document.getElementById('presence').textContent === '空闲'")
                # the same request from the page's context without the CSRF header: refused
                status = await page.evaluate("""fetch('/api/presence', {method: 'POST', headers:
                    {'content-type': 'application/json'}, body: '{"presence": "away"}'}).then(r => r.status)""")
                assert status == 403 and (await h.agents.snapshot())["a1001"].presence == "available"
                # idle too long: the next action gets 401 and the login shows
                real = srv.root.api.signer.clock
                srv.root.api.signer.clock = lambda: real() + h.cfg.desk.session_idle_s + 5
                await page.click("#btn-away")
                await page.wait_for_selector("#login-form", state="visible")
                assert await page.is_hidden("#desk")
                assert "登录已过期" in (await page.text_content("#msg") or "")
                assert (await h.agents.snapshot())["a1001"].presence == "available"
                assert not [m for m in console if "Content Security Policy" in m], console
                await browser.close()
        finally:
            await srv.stop()
            await h.close()
    asyncio.run(go())
