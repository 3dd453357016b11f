"""End to end: a baresip caller goes through the hotline flow by keypad (no speech model), the order lands in the
database with the expected fields and deadline, an auto-answer baresip agent hears the whisper and then the
caller, and the agent desk in headless Chromium shows the order before the audio is bridged.

Real: call engine (ivr.engine), flow session (flows.session), prompts (espeak-ng TTS), database (SQLite WAL),
desk (Twisted web + SSE), Chromium, two baresip phones.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.kit.call import SpyEngine
from tests.kit.prompts import SpyPrompts

pytestmark = [pytest.mark.peers, pytest.mark.browser,
              pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip not installed")]
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


def wait_js(page: Any, expression: str, timeout: int = 5000) -> None:
    """Poll ``expression`` with page.evaluate (wait_for_function evaluates strings with eval, which the desk's
    Content-Security-Policy forbids)."""
    end = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.05)


def loud_freqs(path: Path) -> list[tuple[float, int]]:
    from tests.ivr.peers.harness import dominant_frequency, read_wav

    samples, rate = read_wav(path)
    win = rate // 10
    out = []
    for i in range(len(samples) // win):
        chunk = samples[i * win:(i + 1) * win]
        if np.sqrt(np.mean(chunk ** 2)) > 500:
            out.append((i / 10, int(round(dominant_frequency(chunk, rate) / 20) * 20)))
    return out


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Any]:
    from tests.ivr.peers.fixtures import BaresipPool

    pool = BaresipPool(tmp_path)
    yield pool
    pool.stop_all()


def test_keypad_call_order_whisper_desk_bridge(tmp_path: Path, peers: Any, make_handoff: Callable[..., Any]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    from bridge.auth import hash_password
    from flows.session import make_handler
    from flows.setup import session_deps
    from ivr.engine import EngineThread
    from prompts.service import PromptService
    from tests.ivr.peers.harness import wait_until, write_tone

    agent = peers("agent", user="a1001", auto_answer=True, audio_source=write_tone(tmp_path / "agent.wav", 660.0, 60))
    agent.start(seconds=240)  # baresip quits after -t seconds
    marks: dict[str, float] = {}
    played: list[str] = []
    state: dict[str, Any] = {}
    prompts = SpyPrompts(PromptService.from_config())

    def factory(engine: Any) -> Any:
        h = make_handoff(engine=SpyEngine(engine, lambda: marks.__setitem__("bridge", time.time())), prompts=prompts,
                         agents=[{"id": "a1001", "name": "张敏", "sip_uri": agent.uri, "skills": ["general"],
                                  "password_hash": hash_password("pw-1001")}],
                         deadlines={"policy_file": str(Path(__file__).resolve().parents[2] / "flows" / "policy.yaml")},
                         transfer={"ring_timeout_s": 10, "wait_for_free_agent_s": 15, "announce": False})
        h.render_in_thread = True
        state["h"] = h
        deps = session_deps(prompts, h, None)
        deps.observer = lambda a: played.append(getattr(a, "prompt_id", type(a).__name__))
        return make_handler(deps)

    runner = EngineThread(factory, host="127.0.0.1", port=0).start()
    h = state["h"]

    async def boot() -> int:
        from bridge.web import start_desk
        from ivr.net.reactor import reactor_for_loop

        await h.start()
        state["desk"] = start_desk(h, reactor_for_loop(), port=0)
        return int(state["desk"].port)

    port = runner.run(boot())
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/desk/")
            page.fill("#agent-id", "a1001")
            page.fill("#password", "pw-1001")
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#conn.on")
            page.click("#btn-available")  # the agent makes themself available on the desk
            wait_js(page, "document.getElementById('presence').textContent === '空闲'")
            page.evaluate("""() => { window.__shown = 0; new MutationObserver(() => {
                if (!window.__shown && document.getElementById('order-no').textContent) {
                  window.__shown = Date.now(); }
              }).observe(document.getElementById('order-no'),
                         {childList: true, characterData: true, subtree: true}); }""")

            caller = peers("caller", user="13900000001",  # baresip ends the call when its source file ends
                           audio_source=write_tone(tmp_path / "caller.wav", 1000.0, 150))
            caller.start(dial=f"sip:12345@127.0.0.1:{runner.engine.port}", seconds=90)
            caller.wait_log("Call established", timeout=15)
            wait_until(lambda: "menu.keypad" in played, 30, what="the keypad menu")
            caller.press("3")  # 3 = 投诉
            wait_until(lambda: "ask.phone_keypad" in played, 30, what="the phone question")
            for d in "13912345678#":
                caller.press(d)
                time.sleep(0.25)
            wait_until(lambda: "confirm.yes_no_keypad" in played and played[-1] == "Listen", 30,
                       what="the confirmation question")
            time.sleep(0.3)
            caller.press("1")
            wait_js(page, "window.__shown > 0", timeout=30000)
            shown_ms = page.evaluate("window.__shown")
            order_no = page.text_content("#order-no")
            wait_until(lambda: "bridge" in marks, 30, what="the bridge")
            assert shown_ms / 1000 < marks["bridge"], (shown_ms / 1000, marks["bridge"])  # desk before bridge
            assert page.input_value("[name=contact_number]") == "13912345678"
            assert page.input_value("[name=request_type]") == "投诉"
            browser.close()
        agent.wait_log("Call established")
        time.sleep(3.0)
        caller.hangup()
        agent.wait_call_end(15)
        caller.stop()
        agent.stop()

        order = runner.run(asyncio.to_thread(h.store.get, order_no))
        assert order["caller_number"] == "13900000001" and order["contact_number"] == "13912345678"
        assert order["request_type"] == "投诉" and order["agent_id"] == "a1001"
        assert order["transfer_outcome"] == "bridged" and order["status"] == "assigned"
        from datetime import datetime

        from bridge.deadlines import calendar_from_config, due_time

        call_time = datetime.fromisoformat(order["call_time"]).astimezone(h.tz)
        expect = due_time(h.deadlines, calendar_from_config(h.cfg.calendar),
                          h.category_rules, call_time, "投诉", order["urgency"], order["category_code"])
        assert datetime.fromisoformat(order["due_at"]) == expect
        whisper = [s for p, s in prompts.rendered if p == "whisper.agent"]
        assert whisper and whisper[0]["request_type"] == "投诉"
        heard = loud_freqs(agent.recording())  # type: ignore[arg-type]
        first_caller = next(t for t, f in heard if f == 1000)
        speech_before = [t for t, f in heard if t < first_caller and f not in (1000, 660)]
        assert len(speech_before) >= 5, heard[:40]  # ≥0.5 s of whisper speech before the caller's 1 kHz
        assert sum(1 for t, f in heard if t >= first_caller and f == 1000) >= 20  # then ≥2 s of the caller
    finally:
        if "desk" in state:
            runner.run(state["desk"].stop())
        runner.run(h.close())
        runner.stop()
