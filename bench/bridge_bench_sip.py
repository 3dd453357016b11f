"""Warm-transfer set-up over the real call engine with Debian baresip phones (caller + auto-answer agent).

    .venv/bin/python bench/bridge_bench_sip.py [--calls 10]

Per call: from warm_transfer() (the caller's confirmation) to the first whisper frame queued on the agent leg,
(a) total, including the SIP INVITE → 200 OK of an auto-answering phone, and (b) ring (dial) time excluded.
Prompts are tones (the TTS cost is in bench/bridge_bench.py --real-prompts).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.api import OrderDraft
from bridge.handoff import HotlineHandoff
from bridge.transfer import TransferMetrics
from config.bridge import BridgeConfig
from ivr.engine import EngineThread
from tests.ivr.peers.harness import Baresip, wait_until, write_tone
from tests.kit.prompts import TonePrompts


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=10)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bridge-bench-sip-"))
    agent = Baresip(tmp / "agent", user="a1001", auto_answer=True, audio_source=write_tone(tmp / "a.wav", 660, 600))
    agent.start(seconds=600)
    metrics: list[TransferMetrics] = []
    state: dict[str, Any] = {}

    def factory(engine: Any) -> Any:
        cfg = BridgeConfig.model_validate({
            "database_url": f"sqlite:///{tmp / 'b.db'}", "journal_path": str(tmp / "j"),
            "sequence_dir": str(tmp / "seq"), "agents": [{"id": "a1001", "name": "张敏", "sip_uri": agent.uri}],
            "deadlines": {"policy_file": None}, "transfer": {"announce": True}})
        h = HotlineHandoff.from_config(engine, TonePrompts(), cfg)
        state["h"] = h

        async def handler(call: Any) -> None:
            if not state.get("started"):
                await h.start()
                state["started"] = True
            await h.agents.set_presence("a1001", "available", time.time())
            d = OrderDraft(call_id=call.call_id, caller_number=call.caller, request_type="投诉", content="bench")
            ref = await h.create_order(d)
            await h.warm_transfer(call, ref, d)
            assert h.last_metrics is not None
            metrics.append(h.last_metrics)
            await h.wait_done(call.call_id)

        return handler

    runner = EngineThread(factory, host="127.0.0.1", port=0).start()
    try:
        source = write_tone(tmp / "c.wav", 1000, 60)
        for i in range(a.calls):
            caller = Baresip(tmp / f"caller{i}", user=f"1390000{i:04d}", audio_source=source)
            caller.start(dial=f"sip:12345@127.0.0.1:{runner.engine.port}", seconds=30)
            wait_until(lambda n=i: len(metrics) > n, 30, what="the transfer")
            time.sleep(2.0)  # whisper (1.5 s) + bridge
            caller.hangup()
            time.sleep(0.5)
            caller.stop()
    finally:
        if state.get("started"):
            runner.run(state["h"].close())
        runner.stop()
        agent.stop()
    metrics = metrics[1:]  # the first call warms up (thread pool, first DB writes)
    total = [(m.whisper_started - m.started) * 1000 for m in metrics]
    setup = [(m.setup_s or 0) * 1000 for m in metrics]
    dial = [m.ring_total * 1000 for m in metrics]
    print(f"real engine + baresip agent (auto-answer), n={len(metrics)} (after 1 warm-up call)")
    for name, xs in (("confirmation → whisper start, total", total), ("  of which dial INVITE→200 OK", dial),
                     ("confirmation → whisper start, dial excluded", setup)):
        print(f"{name:<46} p50={pct(xs, 50):7.2f} ms  p95={pct(xs, 95):7.2f} ms  max={max(xs):7.2f} ms")


if __name__ == "__main__":
    main()
