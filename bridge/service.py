"""One call for ``hotline serve``: build the hand-off from config, start it and the desk on the running loop."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bridge.handoff import HotlineHandoff
from bridge.web import DeskServer, start_desk
from config.bridge import BridgeConfig
from ivr.app import CallEngine
from prompts.api import PromptSource

log = logging.getLogger(__name__)


@dataclass
class BridgeService:
    handoff: HotlineHandoff
    desk: DeskServer | None

    async def stop(self) -> None:
        if self.desk is not None:
            await self.desk.stop()
        await self.handoff.close()


async def start_bridge(engine: CallEngine, prompts: PromptSource, cfg: BridgeConfig | None = None, *,
                       desk: bool = True) -> BridgeService:
    """Migrate the database, start agent state + journal replay, serve the desk/API (``cfg.desk.host:port``).

    Must run inside the asyncio loop that the Twisted asyncio reactor drives (as in ``hotline serve``).
    """
    handoff = HotlineHandoff.from_config(engine, prompts, cfg)
    await handoff.start()
    try:
        server = start_desk(handoff) if desk else None
    except BaseException:  # e.g. config.ListenError, its port taken: stop the hand-off's tasks first
        await handoff.close()
        raise
    return BridgeService(handoff, server)
