"""One IVR node for the multi-process test: a HotlineHandoff on PostgreSQL + Redis with a fake call engine.

Usage: python bridge_node.py CONFIG_JSON  → prints one JSON result line.
Each call starts at ``start + offset`` (wall clock), is transferred, stays bridged ``hold_s`` then the caller hangs up.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bridge.api import OrderDraft
from bridge.handoff import HotlineHandoff
from config.bridge import BridgeConfig
from tests.kit.call import AgentBehaviour, FakeCall, FakeEngine
from tests.kit.prompts import FakePrompts


async def one(h: HotlineHandoff, start: float, offset: float, hold_s: float, n: int) -> dict[str, Any]:
    await asyncio.sleep(max(0.0, start + offset - time.time()))
    number = f"1390000{n:04d}"
    caller = FakeCall(caller=number)
    draft = OrderDraft(call_id=caller.call_id, caller_number=number, request_type="求助", category_code="roads",
                       district="海淀区", content="路灯不亮")
    ref = await h.create_order(draft)
    t0 = time.time()
    out = await h.warm_transfer(caller, ref, draft)
    t_bridged = time.time()
    await asyncio.sleep(hold_s)
    t_end = time.time()
    caller.remote_hangup()
    await h.wait_done(caller.call_id)
    return {"offset": offset, "order_no": ref.order_no, "status": out.status, "agent": out.agent_id,
            "asked": t0, "bridged": t_bridged, "released": time.time(), "hung_up": t_end}


async def main(cfg: dict[str, Any]) -> None:
    bc = BridgeConfig.model_validate(cfg["bridge"])
    engine = FakeEngine({f"sip:{a['id']}@agents": AgentBehaviour(answer_after=0.05) for a in cfg["bridge"]["agents"]})
    prompts = FakePrompts.transfer({"transfer.notice": 0.05, "hold.music": 0.2, "whisper.agent": 0.05})
    h = HotlineHandoff.from_config(engine, prompts, bc)
    h.render_in_thread = False
    await h.start()
    res = await asyncio.gather(*(one(h, cfg["start"], off, cfg["hold_s"], cfg["node"] * 100 + i)
                                 for i, off in enumerate(cfg["offsets"])))
    await h.close()
    print(json.dumps({"node": cfg["node"], "agent_state": h.agents.name, "calls": res}))


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
