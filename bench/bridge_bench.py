"""Benchmark of the work-order side: order commit latency (SQLite, PostgreSQL) and warm-transfer set-up time.

    .venv/bin/python bench/bridge_bench.py [--orders 300] [--transfers 40] [--no-pg] [--real-prompts]

Order commit = HotlineHandoff.create_order (number with fsync'd counter, deadline, repeat-caller lookup, insert of
order + history + transcript + call record + audit, commit).  Transfer set-up = from warm_transfer() (the caller's
confirmation) to the first whisper frame queued on the agent leg, ring time excluded; the agent leg is the fake
engine (answers after ``--ring`` s, default 0.3), the claim, DB marks, pop payload and desk publish are real.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.api import OrderDraft
from bridge.handoff import HotlineHandoff
from config.bridge import BridgeConfig
from tests.kit.call import AgentBehaviour, FakeCall, FakeEngine
from tests.kit.prompts import FakePrompts

PG = "postgresql+psycopg://127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/15"
RING = [0.3]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def fmt(name: str, xs: list[float]) -> str:
    ms = [x * 1000 for x in xs]
    return f"{name:<62} n={len(ms):<4} p50={pct(ms, 50):7.2f} ms  p95={pct(ms, 95):7.2f} ms  max={max(ms):7.2f} ms"


def config(tmp: Path, url: str, schema: str | None, redis: str | None) -> BridgeConfig:
    agents = [{"id": f"b{i}", "name": f"坐席{i}", "sip_uri": f"sip:b{i}@agents"} for i in range(4)]
    return BridgeConfig.model_validate({
        "database_url": url, "db_schema": schema, "journal_path": str(tmp / "j"), "sequence_dir": str(tmp / "seq"),
        "redis_url": redis, "redis_prefix": f"bench:{uuid.uuid4().hex[:8]}:", "agents": agents,
        "deadlines": {"policy_file": None}})


def draft(i: int) -> OrderDraft:
    return OrderDraft(call_id=f"bench-{i}", caller_number=f"139{i % 50:08d}", request_type="投诉",
                      category_code="noise", category_name="噪声扰民", district=["朝阳区", "海淀区", "东城区"][i % 3],
                      address=f"望京西路{i}号", title="夜间施工", content="晚上十一点还在施工" * 5,
                      transcript=[("ivr", "请讲"), ("caller", "晚上十一点还在施工")] * 3)


async def bench(label: str, url: str, schema: str | None, redis: str | None, n_orders: int, n_transfers: int,
                prompts: Any) -> list[str]:
    with tempfile.TemporaryDirectory() as d:
        engine = FakeEngine({f"sip:b{i}@agents": AgentBehaviour(answer_after=RING[0]) for i in range(4)})
        h = await asyncio.to_thread(HotlineHandoff.from_config, engine, prompts, config(Path(d), url, schema, redis))
        await h.start()
        try:
            lat = []
            for i in range(n_orders):
                t = time.perf_counter()
                await h.create_order(draft(i))
                lat.append(time.perf_counter() - t)
            out = [fmt(f"order commit ({label})", lat)]
            for i in range(4):
                await h.agents.set_presence(f"b{i}", "available", time.time() + i)
            setup, pop = [], []
            for i in range(n_transfers):
                dr = draft(10_000 + i)
                dr.district = f"第{i}区"  # a fresh whisper text every call (no TTS cache hit)
                ref = await h.create_order(dr)
                call = FakeCall(caller=dr.caller_number)
                res = await h.warm_transfer(call, ref, dr)
                assert res.status == "bridged", res
                assert h.last_metrics is not None and h.last_metrics.setup_s is not None
                setup.append(h.last_metrics.setup_s)
                pop.append(h.last_metrics.popped - h.last_metrics.answered)
                call.remote_hangup()
                await h.wait_done(call.call_id)
            out.append(fmt(f"transfer set-up, ring excluded ({label})", setup))
            out.append(fmt(f"agent answer → screen pop delivered ({label})", pop))
            return out
        finally:
            await h.close()
            if schema:
                from bridge.db import drop_schema, make_engine

                eng = make_engine(PG)
                drop_schema(eng, schema)
                eng.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--transfers", type=int, default=40)
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--ring", type=float, default=0.3, help="fake agent answer delay (s); 0 shows TTS cost")
    ap.add_argument("--real-prompts", action="store_true", help="espeak-ng TTS via prompts.service.PromptService")
    a = ap.parse_args()
    RING[0] = a.ring
    if a.real_prompts:
        from prompts.service import PromptService

        prompts: Any = PromptService.from_config()
    else:
        prompts = FakePrompts.transfer({"transfer.notice": 0.05, "hold.music": 0.2, "whisper.agent": 0.05})
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as d:
        lines += asyncio.run(bench("SQLite WAL, in-process agents", f"sqlite:///{d}/bench.db", None, None,
                                   a.orders, a.transfers, prompts))
    if not a.no_pg:
        lines += asyncio.run(bench("PostgreSQL, Redis agents", PG, f"bench_{uuid.uuid4().hex[:8]}", REDIS,
                                   a.orders, a.transfers, prompts))
    print(f"prompts: {'PromptService (espeak-ng)' if a.real_prompts else 'fake'}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
