"""One call for ``hotline serve``: build the hand-off from config, start it and the desk on the running loop."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bridge.handoff import HotlineHandoff
from bridge.web import DeskServer, TcpReactor, start_desk
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
                       reactor: TcpReactor | None = None) -> BridgeService:
    """Migrate the database, start agent state + journal replay, serve the desk/API (``cfg.desk.host:port``) on
    ``reactor`` when one is given (the Twisted reactor that drives the running asyncio loop)."""
    handoff = HotlineHandoff.from_config(engine, prompts, cfg)
    await handoff.start()
    try:
        server = start_desk(handoff, reactor) if reactor is not None else None
    except BaseException:  # e.g. config.ListenError, its port taken: stop the hand-off's tasks first
        await handoff.close()
        raise
    return BridgeService(handoff, server)
