"""Live agent state: presence, call state, waiting calls; longest-idle agent first; atomic claim.

:class:`AgentState` is the interface; :class:`MemoryAgentState` keeps it in the process, :class:`RedisAgentState`
in Redis (a Lua script claims atomically, so IVR processes sharing Redis never give one agent two calls), and
:class:`FailoverAgentState` uses Redis while it answers and falls back to an in-process copy (logged) when it
does not, so calls continue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

log = logging.getLogger(__name__)

QUEUE_STALE_S = 120.0  # a waiting call older than this is dropped from the queue (its IVR crashed)
Presence = Literal["available", "away", "offline"]
CallState = Literal["idle", "reserved", "ringing", "whisper", "talking", "wrapup"]


@dataclass
class AgentStatus:
    agent_id: str
    presence: Presence
    state: CallState
    call_id: str | None
    idle_since: float | None
    skills: tuple[str, ...]


class AgentState(Protocol):
    @property
    def name(self) -> str: ...

    async def register(self, agent_id: str, skills: Iterable[str]) -> None: ...
    async def set_presence(self, agent_id: str, presence: Presence, now: float) -> None: ...
    async def claim(self, call_id: str, skill: str | None, exclude: Iterable[str]) -> str | None:
        """Reserve the longest-idle available agent (with ``skill``) not in ``exclude``; None when nobody is free
        or when ``call_id`` waits in the queue behind an older call.  A successful claim leaves the queue."""
        ...
    async def set_call_state(self, agent_id: str, state: CallState, call_id: str | None) -> None: ...
    async def release(self, agent_id: str, now: float) -> None:
        """The agent is free again (idle since ``now``, so they go to the back of the line)."""
        ...
    async def snapshot(self) -> dict[str, AgentStatus]: ...
    async def enqueue(self, call_id: str, now: float) -> None: ...
    async def dequeue(self, call_id: str) -> None: ...
    async def waiting(self) -> list[str]: ...


class MemoryAgentState:
    name = "memory"

    def __init__(self) -> None:
        self.agents: dict[str, AgentStatus] = {}
        self.queue: dict[str, float] = {}

    async def register(self, agent_id: str, skills: Iterable[str]) -> None:
        a = self.agents.get(agent_id)
        if a is None:
            self.agents[agent_id] = AgentStatus(agent_id, "offline", "idle", None, None, tuple(skills))
        else:
            a.skills = tuple(skills)

    async def set_presence(self, agent_id: str, presence: Presence, now: float) -> None:
        a = self.agents[agent_id]
        if a.presence != presence:
            a.presence = presence
            a.idle_since = now if presence == "available" and a.state == "idle" else a.idle_since

    async def claim(self, call_id: str, skill: str | None, exclude: Iterable[str]) -> str | None:
        cutoff = time.time() - QUEUE_STALE_S
        for c in [c for c, t in self.queue.items() if t < cutoff]:
            del self.queue[c]
        if call_id in self.queue and min(self.queue, key=lambda c: self.queue[c]) != call_id:
            return None  # first come, first served among waiting calls
        ex = set(exclude)
        free = [a for a in self.agents.values() if a.presence == "available" and a.state == "idle"
                and a.agent_id not in ex and (not skill or skill in a.skills)]
        if not free:
            return None
        best = min(free, key=lambda a: (a.idle_since if a.idle_since is not None else 0.0, a.agent_id))
        best.state, best.call_id = "reserved", call_id
        self.queue.pop(call_id, None)
        return best.agent_id

    async def set_call_state(self, agent_id: str, state: CallState, call_id: str | None) -> None:
        a = self.agents[agent_id]
        a.state, a.call_id = state, call_id

    async def release(self, agent_id: str, now: float) -> None:
        a = self.agents[agent_id]
        a.state, a.call_id, a.idle_since = "idle", None, now

    async def snapshot(self) -> dict[str, AgentStatus]:
        return {k: AgentStatus(**vars(v)) for k, v in self.agents.items()}

    async def enqueue(self, call_id: str, now: float) -> None:
        self.queue.setdefault(call_id, now)

    async def dequeue(self, call_id: str) -> None:
        self.queue.pop(call_id, None)

    async def waiting(self) -> list[str]:
        return sorted(self.queue, key=lambda c: self.queue[c])


class FailoverAgentState:
    """Redis while it answers; the in-process mirror (written through on every change) when it does not."""

    def __init__(self, primary: AgentState, mirror: MemoryAgentState | None = None, *, retry_after_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.primary = primary
        self.mirror = mirror or MemoryAgentState()
        self.retry_after_s = retry_after_s
        self.clock = clock
        self.down_since: float | None = None

    @property
    def name(self) -> str:
        return "memory(fallback)" if self.down_since is not None else self.primary.name

    def _use_primary(self) -> bool:
        if self.down_since is None:
            return True
        if self.clock() - self.down_since >= self.retry_after_s:
            return True
        return False

    def _failed(self, exc: BaseException) -> None:
        if self.down_since is None:
            log.warning("agent state: Redis unreachable (%s); falling back to in-process state, calls continue", exc)
        self.down_since = self.clock()

    def _recovered(self) -> None:
        if self.down_since is not None:
            log.warning("agent state: Redis reachable again; using it")
            self.down_since = None

    async def _both(self, name: str, *args: object) -> None:
        await getattr(self.mirror, name)(*args)
        if self._use_primary():
            try:
                await getattr(self.primary, name)(*args)
                self._recovered()
            except (OSError, ConnectionError, TimeoutError) as exc:
                self._failed(exc)
            except Exception as exc:
                if _is_redis_error(exc):
                    self._failed(exc)
                else:
                    raise

    async def register(self, agent_id: str, skills: Iterable[str]) -> None:
        await self._both("register", agent_id, tuple(skills))

    async def set_presence(self, agent_id: str, presence: Presence, now: float) -> None:
        await self._both("set_presence", agent_id, presence, now)

    async def set_call_state(self, agent_id: str, state: CallState, call_id: str | None) -> None:
        await self._both("set_call_state", agent_id, state, call_id)

    async def release(self, agent_id: str, now: float) -> None:
        await self._both("release", agent_id, now)

    async def enqueue(self, call_id: str, now: float) -> None:
        await self._both("enqueue", call_id, now)

    async def dequeue(self, call_id: str) -> None:
        await self._both("dequeue", call_id)

    async def claim(self, call_id: str, skill: str | None, exclude: Iterable[str]) -> str | None:
        ex = tuple(exclude)
        if self._use_primary():
            try:
                got = await self.primary.claim(call_id, skill, ex)
                self._recovered()
                if got is not None and got in self.mirror.agents:
                    await self.mirror.set_call_state(got, "reserved", call_id)
                return got
            except Exception as exc:
                if not (isinstance(exc, OSError | ConnectionError | TimeoutError) or _is_redis_error(exc)):
                    raise
                self._failed(exc)
        return await self.mirror.claim(call_id, skill, ex)

    async def snapshot(self) -> dict[str, AgentStatus]:
        if self._use_primary():
            try:
                snap = await self.primary.snapshot()
                self._recovered()
                return snap
            except Exception as exc:
                if not (isinstance(exc, OSError | ConnectionError | TimeoutError) or _is_redis_error(exc)):
                    raise
                self._failed(exc)
        return await self.mirror.snapshot()

    async def waiting(self) -> list[str]:
        return await self.mirror.waiting()


def _is_redis_error(exc: BaseException) -> bool:
    try:
        from redis.exceptions import ConnectionError as RConn
        from redis.exceptions import TimeoutError as RTimeout
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, RConn | RTimeout)
