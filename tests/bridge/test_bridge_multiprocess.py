"""Two IVR processes sharing Redis and PostgreSQL: agents taken longest-idle first, never one agent on two calls,
order numbers unique."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.bridge.conftest import PG_URL, REDIS_URL, bridge_config, unique_schema

HERE = Path(__file__).resolve().parent


@pytest.mark.services
def test_two_ivr_processes_share_agents(tmp_path: Path) -> None:
    from bridge.agents_redis import RedisAgentState
    from bridge.db import drop_schema, make_engine, upgrade

    schema = unique_schema()
    eng = make_engine(PG_URL, schema)
    upgrade(eng)
    agents = ["a1001", "a1002", "a1003"]
    base = bridge_config(tmp_path, PG_URL, schema, REDIS_URL,
                         transfer={"ring_timeout_s": 3, "wait_for_free_agent_s": 20, "poll_interval_s": 0.1})
    prefix = base.redis_prefix

    async def presence() -> None:  # a1001 idle longest, then a1002, then a1003
        st = RedisAgentState.from_url(REDIS_URL, prefix)
        for i, a in enumerate(agents):
            await st.register(a, ["general"])
            await st.set_presence(a, "available", time.time() - 100 + i)
        await st.close()

    asyncio.run(presence())
    start = time.time() + 4.0
    procs = []
    for node, offsets in ((1, [0.0, 1.2, 2.4]), (2, [0.6, 1.8])):
        cfg = base.model_dump(mode="json")
        cfg.update(node_id=node, sequence_dir=str(tmp_path / f"seq{node}"), journal_path=str(tmp_path / f"j{node}"))
        arg = {"bridge": cfg, "start": start, "offsets": offsets, "hold_s": 2.5, "node": node}
        procs.append(subprocess.Popen([sys.executable, str(HERE / "bridge_node.py"), json.dumps(arg)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results: list[dict[str, Any]] = []
    for p in procs:
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    try:
        assert all(r["agent_state"] == "redis" for r in results)
        calls = sorted((c | {"node": r["node"]} for r in results for c in r["calls"]), key=lambda c: c["offset"])
        assert all(c["status"] == "bridged" for c in calls), calls
        # three agents, calls every 0.6 s held 2.5 s: the first three take a1001, a1002, a1003 in idle order;
        # the 4th and 5th wait and get whoever was freed first (a1001, then a1002)
        assert [c["agent"] for c in calls] == ["a1001", "a1002", "a1003", "a1001", "a1002"], calls
        assert {c["node"] for c in calls[:2]} == {1, 2}
        for a in agents:  # never one agent on two calls at once, across processes
            mine = sorted((c for c in calls if c["agent"] == a), key=lambda c: c["bridged"])
            for prev, nxt in itertools.pairwise(mine):
                assert nxt["bridged"] >= prev["hung_up"], (a, prev, nxt)
        nos = [c["order_no"] for c in calls]
        assert len(set(nos)) == 5 and {n[8:10] for n in nos} == {"01", "02"}
        from sqlalchemy import text

        with eng.connect() as c:
            rows = dict(c.execute(text("SELECT order_no, agent_id FROM work_orders")).all())
        assert rows == {c["order_no"]: c["agent"] for c in calls}
    finally:
        drop_schema(eng, schema)
        eng.dispose()

        async def clear() -> None:
            st = RedisAgentState.from_url(REDIS_URL, prefix)
            await st.clear()
            await st.close()

        asyncio.run(clear())
