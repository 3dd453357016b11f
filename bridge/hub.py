"""Desk event hub: per-agent live events (screen pops, order updates) with ids for SSE Last-Event-ID replay.

In-process by default; with Redis, :class:`RedisRelay` fans events out to every IVR process so an agent's desk
connected to one process sees pops for calls handled by another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeskEvent:
    id: int
    agent_id: str
    type: str  # "pop" | "order" | "presence"
    data: dict[str, Any]

    def sse(self) -> bytes:
        body = json.dumps(self.data, ensure_ascii=False)
        return f"id: {self.id}\nevent: {self.type}\ndata: {body}\n\n".encode()


Listener = Callable[[DeskEvent], None]


class DeskHub:
    def __init__(self, replay: int = 200) -> None:
        self.replay = replay
        self._events: dict[str, deque[DeskEvent]] = {}
        self._listeners: dict[str, set[Listener]] = {}
        self._last_id = 0
        self.relay: RedisRelay | None = None

    def _next_id(self) -> int:
        self._last_id = max(self._last_id + 1, int(time.time() * 1000) * 1000)
        return self._last_id

    async def publish(self, agent_id: str, type_: str, data: dict[str, Any]) -> DeskEvent:
        ev = DeskEvent(self._next_id(), agent_id, type_, data)
        if self.relay is not None and await self.relay.send(ev):
            return ev  # delivered to every process (this one included) by the relay
        self.deliver(ev)
        return ev

    def deliver(self, ev: DeskEvent) -> None:
        buf = self._events.setdefault(ev.agent_id, deque(maxlen=self.replay))
        if any(e.id == ev.id for e in buf):
            return
        buf.append(ev)
        self._last_id = max(self._last_id, ev.id)
        for fn in list(self._listeners.get(ev.agent_id, ())):
            try:
                fn(ev)
            except Exception:
                log.exception("desk listener failed")

    def since(self, agent_id: str, last_id: int) -> list[DeskEvent]:
        return [e for e in self._events.get(agent_id, ()) if e.id > last_id]

    def latest(self, agent_id: str, type_: str) -> DeskEvent | None:
        for e in reversed(self._events.get(agent_id, ())):
            if e.type == type_:
                return e
        return None

    def subscribe(self, agent_id: str, fn: Listener) -> Callable[[], None]:
        self._listeners.setdefault(agent_id, set()).add(fn)
        return lambda: self._listeners.get(agent_id, set()).discard(fn)

    def listener_count(self, agent_id: str) -> int:
        return len(self._listeners.get(agent_id, ()))


class RedisRelay:
    """Publish desk events on a Redis channel; a reader task delivers every process's events to the local hub."""

    def __init__(self, hub: DeskHub, redis: Any, channel: str) -> None:
        self.hub, self.r, self.channel = hub, redis, channel
        self._task: asyncio.Task[None] | None = None

    async def send(self, ev: DeskEvent) -> bool:
        if self._task is None or self._task.done():
            return False
        try:
            await self.r.publish(self.channel, json.dumps({"id": ev.id, "agent_id": ev.agent_id, "type": ev.type,
                                                           "data": ev.data}, ensure_ascii=False))
            return True
        except Exception as exc:
            log.warning("desk relay: Redis publish failed (%s); delivering locally only", exc)
            return False

    async def start(self) -> None:
        self.hub.relay = self
        ps = self.r.pubsub()
        await ps.subscribe(self.channel)
        self._task = asyncio.ensure_future(self._read(ps))

    async def _read(self, ps: Any) -> None:
        try:
            while True:
                msg = await ps.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if msg is None:
                    continue
                d = json.loads(msg["data"])
                self.hub.deliver(DeskEvent(int(d["id"]), d["agent_id"], d["type"], d["data"]))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("desk relay stopped (%s); desk events stay in this process", exc)
        finally:
            with contextlib.suppress(Exception):
                await ps.aclose()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
