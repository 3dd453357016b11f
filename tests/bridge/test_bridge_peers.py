"""Warm transfer over the real call engine with Debian baresip on both ends (caller, auto-answer agent).

Prompts are tones so the test can tell them apart in what each phone recorded: transfer.notice 440 Hz,
hold.music 520 Hz, whisper.agent 800 Hz.  The caller's phone sends 1 kHz, the agent's 660 Hz.
Checks: the agent hears the whisper (800 Hz) and then the caller (1 kHz), the caller never hears the whisper,
the desk got the screen pop before the bridge, the order is in the database assigned to the agent.
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

from bridge.api import OrderDraft, TransferOutcome
from tests.kit.call import SpyEngine
from tests.kit.prompts import TonePrompts

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip (Debian baresip-core) not installed")]

def segments(path: Path, rate_hint: int = 8000) -> list[tuple[float, float]]:
    """(start s, dominant Hz) for each loud 100 ms window of a recording."""
    from tests.ivr.peers.harness import dominant_frequency, read_wav

    samples, rate = read_wav(path)
    win = rate // 10
    out = []
    for i in range(len(samples) // win):
        chunk = samples[i * win:(i + 1) * win]
        if np.sqrt(np.mean(chunk ** 2)) > 500:
            out.append((i / 10, round(dominant_frequency(chunk, rate) / 20) * 20))
    return out


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Any]:
    from tests.ivr.peers.fixtures import BaresipPool

    pool = BaresipPool(tmp_path)
    yield pool
    pool.stop_all()


def test_warm_transfer_real_baresip_agent(tmp_path: Path, peers: Any, make_handoff: Callable[..., Any]) -> None:
    from ivr.engine import EngineThread
    from tests.ivr.peers.harness import wait_until, write_tone

    agent = peers("agent", user="a1001", auto_answer=True, audio_source=write_tone(tmp_path / "agent.wav", 660.0, 30))
    agent.start()
    events: list[tuple[float, str]] = []
    outcomes: list[TransferOutcome] = []
    state: dict[str, Any] = {}

    def factory(engine: Any) -> Any:
        prompts = TonePrompts()
        h = make_handoff(engine=SpyEngine(engine, lambda: events.append((time.monotonic(), "bridge"))), prompts=prompts,
                         agents=[{"id": "a1001", "name": "张敏", "sip_uri": agent.uri}],
                         transfer={"ring_timeout_s": 10, "wait_for_free_agent_s": 10, "announce": True})
        h.render_in_thread = True
        state["h"] = h
        h.hub.subscribe("a1001", lambda ev: events.append((time.monotonic(), ev.type)))

        async def handler(call: Any) -> None:
            if not state.get("started"):
                await h.start()
                await h.agents.set_presence("a1001", "available", time.time())
                state["started"] = True
            draft = OrderDraft(call_id=call.call_id, caller_number=call.caller, request_type="投诉",
                               category_code="noise", category_name="噪声扰民", district="朝阳区", content="施工噪声")
            ref = await h.create_order(draft)
            state["order_no"] = ref.order_no
            events.append((time.monotonic(), "order committed"))
            out = await h.warm_transfer(call, ref, draft)
            outcomes.append(out)
            await h.wait_done(call.call_id)

        return handler

    runner = EngineThread(factory, host="127.0.0.1", port=0).start()
    try:
        caller = peers("caller", user="13900000001")
        caller.start(dial=f"sip:12345@127.0.0.1:{runner.engine.port}", seconds=40)
        caller.wait_log("Call established")
        wait_until(lambda: bool(outcomes), 20, what="the transfer outcome")
        assert outcomes[0].status == "bridged" and outcomes[0].agent_id == "a1001", outcomes
        agent.wait_log("Call established")
        time.sleep(3.0)  # caller and agent talk
        caller.hangup()
        agent.wait_call_end(15)  # the IVR tears the agent leg down when the caller leaves
        caller.stop()
        agent.stop()
        kinds = [k for _t, k in sorted(events)]
        assert kinds.index("order committed") < kinds.index("pop") < kinds.index("bridge"), kinds
        h = state["h"]
        order = runner.run(asyncio.to_thread(h.store.get, state["order_no"]))
        assert order["agent_id"] == "a1001" and order["transfer_outcome"] == "bridged"
        agent_heard = segments(agent.recording())  # type: ignore[arg-type]
        freqs = [f for _t, f in agent_heard]
        assert 800 in freqs and 1000 in freqs, freqs
        assert freqs.index(800) < freqs.index(1000)  # the whisper first, then the caller
        assert freqs[-1] == 1000
        caller_heard = [f for _t, f in segments(caller.recording())]  # type: ignore[arg-type]
        assert 800 not in caller_heard, caller_heard  # the whisper is for the agent only
        assert caller_heard.index(440) < caller_heard.index(660) and caller_heard[-1] == 660
        assert 520 in caller_heard  # hold music while the agent's phone rang and heard the whisper
    finally:
        if "h" in state and state.get("started"):
            runner.run(state["h"].close())
        runner.stop()


def test_no_answer_then_next_agent_and_caller_hangup_while_ringing(tmp_path: Path, peers: Any,
                                                                    make_handoff: Callable[..., Any]) -> None:
    """Real phones: a1001 rings and never answers → a1002 (auto-answer) gets the call; then a second caller
    hangs up while only a1001's phone rings → the ringing leg is cancelled and the order marked abandoned."""
    from ivr.engine import EngineThread
    from tests.ivr.peers.harness import wait_until, write_tone

    silent = peers("silent", user="a1001", auto_answer=False, audio_source=write_tone(tmp_path / "s.wav", 660.0, 60))
    silent.start(seconds=120)
    answering = peers("agent", user="a1002", auto_answer=True, audio_source=write_tone(tmp_path / "a.wav", 660.0, 60))
    answering.start(seconds=120)
    outcomes: list[tuple[str, TransferOutcome]] = []
    state: dict[str, Any] = {}

    def factory(engine: Any) -> Any:
        h = make_handoff(engine=engine, prompts=TonePrompts(),
                         agents=[{"id": "a1001", "name": "张敏", "sip_uri": silent.uri},
                                 {"id": "a1002", "name": "李强", "sip_uri": answering.uri}],
                         transfer={"ring_timeout_s": 3, "wait_for_free_agent_s": 20, "announce": True})
        h.render_in_thread = True
        state["h"] = h

        async def handler(call: Any) -> None:
            if not state.get("started"):
                await h.start()
                await h.agents.set_presence("a1001", "available", time.time() - 10)  # longest idle: tried first
                await h.agents.set_presence("a1002", "available", time.time())
                state["started"] = True
            draft = OrderDraft(call_id=call.call_id, caller_number=call.caller, request_type="求助",
                               category_code="roads", district="海淀区", content="路灯不亮")
            ref = await h.create_order(draft)
            out = await h.warm_transfer(call, ref, draft)
            outcomes.append((ref.order_no, out))
            await h.wait_done(call.call_id)

        return handler

    runner = EngineThread(factory, host="127.0.0.1", port=0).start()
    h: Any = None
    try:
        caller = peers("caller", user="13900000002", audio_source=write_tone(tmp_path / "c.wav", 1000.0, 90))
        caller.start(dial=f"sip:12345@127.0.0.1:{runner.engine.port}", seconds=60)
        caller.wait_log("Call established")
        wait_until(lambda: bool(outcomes), 30, what="the first transfer")
        h = state["h"]
        assert outcomes[0][1].status == "bridged" and outcomes[0][1].agent_id == "a1002", outcomes
        assert "Incoming call" in silent.log() or "incoming call" in silent.log().lower()
        answering.wait_log("Call established")
        # second caller while a1002 talks: only a1001 (who never answers) is free; the caller gives up ringing
        runner.run(h.agents.set_presence("a1001", "available", time.time()))
        caller2 = peers("caller2", user="13900000003", audio_source=write_tone(tmp_path / "c2.wav", 1000.0, 90))
        n_incoming = silent.log().lower().count("incoming call")
        caller2.start(dial=f"sip:12345@127.0.0.1:{runner.engine.port}", seconds=60)
        caller2.wait_log("Call established")
        wait_until(lambda: silent.log().lower().count("incoming call") > n_incoming, 15, what="a1001 ringing again")
        caller2.hangup()
        wait_until(lambda: len(outcomes) == 2, 15, what="the second transfer's outcome")
        order_no, out = outcomes[1]
        assert out.status == "caller_hung_up", out
        order = runner.run(asyncio.to_thread(h.store.get, order_no))
        assert order["status"] == "abandoned" and order["transfer_outcome"] == "caller_hung_up"
        snap = runner.run(h.agents.snapshot())
        assert snap["a1001"].state == "idle" and snap["a1002"].state == "talking"
        caller.hangup()
        answering.wait_call_end(15)
    finally:
        if h is not None and state.get("started"):
            runner.run(h.close())
        runner.stop()


def test_registered_agent_phone_reached_through_the_registrar(tmp_path: Path, peers: Any,
                                                              make_handoff: Callable[..., Any]) -> None:
    """An agent phone with no static URI: it REGISTERs to the IVR (digest) and the transfer finds it there."""
    from config.ivr import RegistrarUser
    from ivr.engine import EngineThread
    from tests.ivr.peers.harness import wait_until, write_tone

    outcomes: list[TransferOutcome] = []
    state: dict[str, Any] = {}

    def factory(engine: Any) -> Any:
        h = make_handoff(engine=engine, prompts=TonePrompts(),
                         agents=[{"id": "a1009", "name": "赵六", "aor": "1009"}])
        h.render_in_thread = True
        state["h"] = h

        async def handler(call: Any) -> None:
            if not state.get("started"):
                await h.start()
                await h.agents.set_presence("a1009", "available", time.time())
                state["started"] = True
            d = OrderDraft(call_id=call.call_id, caller_number=call.caller, request_type="咨询", content="社保咨询")
            ref = await h.create_order(d)
            outcomes.append(await h.warm_transfer(call, ref, d))
            await h.wait_done(call.call_id)

        return handler

    runner = EngineThread(factory, host="127.0.0.1", port=0,
                          registrar_users=[RegistrarUser(username="1009", password="agent-pw")]).start()
    try:
        agent = peers("agent", user="1009", auto_answer=True, audio_source=write_tone(tmp_path / "a.wav", 660.0, 60),
                      extra_account=f';auth_pass=agent-pw;outbound="sip:127.0.0.1:{runner.engine.port}";regint=60')
        agent.start(seconds=60)
        wait_until(lambda: runner.call(lambda: runner.engine.resolve("1009")) is not None, 10, what="registration")
        caller = peers("caller", user="13900000004", audio_source=write_tone(tmp_path / "c.wav", 1000.0, 60))
        caller.start(dial=f"sip:12345@127.0.0.1:{runner.engine.port}", seconds=40)
        wait_until(lambda: bool(outcomes), 20, what="the transfer")
        assert outcomes[0].status == "bridged" and outcomes[0].agent_id == "a1009", outcomes
        agent.wait_log("Call established")
        caller.hangup()
        agent.wait_call_end(15)
    finally:
        if state.get("started"):
            runner.run(state["h"].close())
        runner.stop()
