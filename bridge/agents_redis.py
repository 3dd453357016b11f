"""Redis implementation of :class:`bridge.agents.AgentState` (redis.asyncio).

Keys (all under ``prefix``): ``agents:idle`` sorted set of free available agents scored by idle-since time;
``agent:<id>`` hash with presence, state, call_id, idle_since, skills; ``queue`` sorted set of waiting calls.
Waiting calls are served first come, first served: a call in the queue may claim only when it is the oldest
(entries older than ``QUEUE_STALE_S`` are dropped, so a crashed IVR cannot block the queue).
The claim is one Lua script: pick the lowest score that matches skill and exclusions, remove it from the idle set
and mark it reserved, atomically — two IVR processes can never reserve the same agent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from redis.asyncio import Redis

from bridge.agents import QUEUE_STALE_S, AgentStatus, CallState, Presence

_CLAIM = """
local qhead = nil
if ARGV[4] ~= '' then
  local t = redis.call('TIME')
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(t[1]) - tonumber(ARGV[4]))
  if redis.call('ZSCORE', KEYS[3], ARGV[2]) then
    qhead = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
    if qhead ~= ARGV[2] then return false end
  end
end
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local exclude = ',' .. ARGV[3] .. ','
for _, id in ipairs(ids) do
  if not string.find(exclude, ',' .. id .. ',', 1, true) then
    local h = KEYS[2] .. id
    local skills = redis.call('HGET', h, 'skills') or ''
    local presence = redis.call('HGET', h, 'presence')
    local state = redis.call('HGET', h, 'state')
    if presence == 'available' and state == 'idle' and
       (ARGV[1] == '' or string.find(',' .. skills .. ',', ',' .. ARGV[1] .. ',', 1, true)) then
      redis.call('ZREM', KEYS[1], id)
      redis.call('HSET', h, 'state', 'reserved', 'call_id', ARGV[2])
      redis.call('ZREM', KEYS[3], ARGV[2])
      return id
    end
  end
end
return false
"""

_PRESENCE = """
local h = KEYS[2] .. ARGV[1]
local old = redis.call('HGET', h, 'presence')
redis.call('HSET', h, 'presence', ARGV[2])
local state = redis.call('HGET', h, 'state') or 'idle'
if ARGV[2] == 'available' then
  if state == 'idle' and old ~= 'available' then
    redis.call('HSET', h, 'idle_since', ARGV[3])
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  end
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
"""

_RELEASE = """
local h = KEYS[2] .. ARGV[1]
redis.call('HSET', h, 'state', 'idle', 'call_id', '', 'idle_since', ARGV[2])
if redis.call('HGET', h, 'presence') == 'available' then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
return 1
"""


class RedisAgentState:
    name = "redis"

    def __init__(self, redis: Redis, prefix: str = "hotline:") -> None:
        self.r = redis
        self.prefix = prefix
        self.k_idle = prefix + "agents:idle"
        self.k_agent = prefix + "agent:"
        self.k_all = prefix + "agents:all"
        self.k_queue = prefix + "queue"
        self._claim = redis.register_script(_CLAIM)
        self._presence = redis.register_script(_PRESENCE)
        self._release = redis.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, prefix: str = "hotline:", timeout: float = 1.0) -> RedisAgentState:
        r = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True)
        return cls(r, prefix)

    async def register(self, agent_id: str, skills: Iterable[str]) -> None:
        h = self.k_agent + agent_id
        await self.r.sadd(self.k_all, agent_id)
        await self.r.hset(h, "skills", ",".join(skills))
        await self.r.hsetnx(h, "presence", "offline")
        await self.r.hsetnx(h, "state", "idle")

    async def set_presence(self, agent_id: str, presence: Presence, now: float) -> None:
        await self._presence(keys=[self.k_idle, self.k_agent], args=[agent_id, presence, repr(now)])

    async def claim(self, call_id: str, skill: str | None, exclude: Iterable[str]) -> str | None:
        got = await self._claim(keys=[self.k_idle, self.k_agent, self.k_queue],
                                args=[skill or "", call_id, ",".join(exclude), repr(QUEUE_STALE_S)])
        return cast(str, got) if got else None

    async def set_call_state(self, agent_id: str, state: CallState, call_id: str | None) -> None:
        await self.r.hset(self.k_agent + agent_id, mapping={"state": state, "call_id": call_id or ""})

    async def release(self, agent_id: str, now: float) -> None:
        await self._release(keys=[self.k_idle, self.k_agent], args=[agent_id, repr(now)])

    async def snapshot(self) -> dict[str, AgentStatus]:
        ids = sorted(cast("set[str]", await self.r.smembers(self.k_all)))
        out: dict[str, AgentStatus] = {}
        for i in ids:
            h = cast("dict[str, Any]", await self.r.hgetall(self.k_agent + i))
            idle = h.get("idle_since")
            out[i] = AgentStatus(i, h.get("presence", "offline"), h.get("state", "idle"), h.get("call_id") or None,
                                 float(idle) if idle else None,
                                 tuple(s for s in h.get("skills", "").split(",") if s))
        return out

    async def enqueue(self, call_id: str, now: float) -> None:
        await self.r.zadd(self.k_queue, {call_id: now}, nx=True)

    async def dequeue(self, call_id: str) -> None:
        await self.r.zrem(self.k_queue, call_id)

    async def waiting(self) -> list[str]:
        return cast("list[str]", await self.r.zrange(self.k_queue, 0, -1))

    async def clear(self) -> None:
        """Remove every key under the prefix (tests)."""
        async for key in self.r.scan_iter(match=self.prefix + "*"):
            await self.r.delete(key)

    async def close(self) -> None:
        await self.r.aclose()
