"""HotlineHandoff: the bridge.api.Handoff the flows call — orders (DB or journal), repeat callers, warm transfer.

Build with :meth:`HotlineHandoff.from_config` then ``await handoff.start()`` on the running loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError, OperationalError

from bridge import transfer_sm as sm
from bridge.agents import AgentState, FailoverAgentState, MemoryAgentState
from bridge.api import OrderDraft, OrderRef, TransferOutcome
from bridge.db import make_engine, upgrade
from bridge.deadlines import calendar_from_config, due_time, merge_policy, warn_uncovered
from bridge.hub import DeskHub
from bridge.journal import Journal
from bridge.numbering import OrderNumberer
from bridge.orders import OrderNotFound, OrderNumberTaken, OrderStore
from bridge.transfer import TransferDriver, TransferMetrics
from config import load_config
from config.bridge import AgentConfig, BridgeConfig
from ivr.app import Call, CallEngine
from prompts.api import PromptSource

log = logging.getLogger(__name__)
_DB_DOWN = (OperationalError, DBAPIError, OSError)
_URGENCY_ZH = {"normal": "一般", "urgent": "紧急", "emergency": "特急"}
_ROOT = Path(__file__).resolve().parent.parent


def _path(p: str) -> Path:
    q = Path(p)
    return q if q.is_absolute() else _ROOT / q


class HotlineHandoff:
    def __init__(self, cfg: BridgeConfig, engine: CallEngine, prompts: PromptSource, *, store: OrderStore,
                 agents: AgentState, hub: DeskHub | None = None, clock: Callable[[], datetime] | None = None,
                 redis: Any = None) -> None:
        self.cfg = cfg
        self.engine = engine
        self.prompts = prompts
        self.store = store
        self.agents = agents
        self.hub = hub or DeskHub(cfg.desk.sse_replay)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.redis = redis
        self.tz = ZoneInfo(cfg.timezone)
        self.journal = Journal(_path(cfg.journal_path))
        self.numberer = OrderNumberer(_path(cfg.sequence_dir), cfg.node_id)
        self.calendar = calendar_from_config(cfg.calendar)
        pf = cfg.deadlines.policy_file
        self.deadlines, self.category_rules = merge_policy(cfg.deadlines, _path(pf) if pf else None)
        self.directory = {a.id: a for a in cfg.agents}
        self.last_metrics: TransferMetrics | None = None
        self.render_in_thread = True
        self._replayer: asyncio.Task[None] | None = None
        self._transfers: dict[str, TransferDriver] = {}
        self.migrated = True  # False when the database was down at start: migrate before the first replay
        self._renamed: dict[str, str] = {}  # journaled order numbers that had to be changed on replay

    @classmethod
    def from_config(cls, engine: CallEngine, prompts: PromptSource, cfg: BridgeConfig | None = None, *,
                    migrate: bool = True) -> HotlineHandoff:
        cfg = cfg or load_config(BridgeConfig, "bridge")
        url = cfg.database_url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            url = "sqlite:///" + str(_path(url[len("sqlite:///"):]))
        db = make_engine(url, cfg.db_schema)
        migrated = not migrate
        if migrate:
            try:
                upgrade(db)
                migrated = True
            except _DB_DOWN as exc:
                log.error("database unreachable at start (%s): orders go to the journal until it returns", exc)
        store = OrderStore(db, repeat_window_days=cfg.repeat_window_days, repeat_match=cfg.repeat_match)
        agents: AgentState
        redis = None
        if cfg.redis_url:
            from bridge.agents_redis import RedisAgentState

            primary = RedisAgentState.from_url(cfg.redis_url, cfg.redis_prefix)
            redis = primary.r
            agents = FailoverAgentState(primary)
        else:
            agents = MemoryAgentState()
        log.info("bridge: database %s, agent state %s", db.url.render_as_string(hide_password=True), agents.name)
        h = cls(cfg, engine, prompts, store=store, agents=agents, redis=redis)
        h.migrated = migrated
        return h

    # -- life cycle -----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        warn_uncovered(self.calendar, self.clock().astimezone(self.tz).date())
        for a in self.cfg.agents:
            await self.agents.register(a.id, a.skills)
        try:
            extra = await asyncio.to_thread(self._sync_agents)
        except _DB_DOWN as exc:
            log.warning("agents from the database not loaded (%s); config agents only", exc.__class__.__name__)
            extra = []
        for a in extra:  # agents added with `hotline agents passwd`
            self.directory[a.id] = a
            await self.agents.register(a.id, a.skills)
        if self.redis is not None:
            from bridge.hub import RedisRelay

            try:
                await RedisRelay(self.hub, self.redis, self.cfg.redis_prefix + "desk").start()
            except Exception as exc:
                log.warning("desk relay unavailable (%s): desk events stay in this process", exc)
        self._replayer = asyncio.ensure_future(self._replay_loop())

    async def close(self) -> None:
        if self._replayer:
            self._replayer.cancel()
            with contextlib.suppress(BaseException):
                await self._replayer
        if self.hub.relay:
            await self.hub.relay.stop()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()
        self.store.engine.dispose()

    def _sync_agents(self) -> list[AgentConfig]:
        """Config agents into the database; returns the agents known only to the database."""
        from sqlalchemy import select

        from bridge.models import Agent

        with self.store.sessions() as s:
            for a in self.cfg.agents:
                row = s.get(Agent, a.id) or Agent(id=a.id)
                row.name, row.sip_uri, row.skills = a.name, a.sip_uri, ",".join(a.skills)
                if a.password_hash and not row.password_hash:
                    row.password_hash = a.password_hash  # a password set with the CLI wins over the config
                s.add(row)
            s.commit()
            return [AgentConfig(id=r.id, name=r.name, sip_uri=r.sip_uri, skills=[x for x in r.skills.split(",") if x])
                    for r in s.scalars(select(Agent).where(Agent.active.is_(True))) if r.id not in self.directory]

    async def _replay_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.replay_interval_s)
            with contextlib.suppress(Exception):
                await self.replay_journal()

    async def replay_journal(self) -> tuple[int, int]:
        if not self.migrated:
            try:
                await asyncio.to_thread(upgrade, self.store.engine)
                self.migrated = True
                log.warning("database reachable again: migrated")
                for a in await asyncio.to_thread(self._sync_agents):
                    self.directory[a.id] = a
                    await self.agents.register(a.id, a.skills)
            except _DB_DOWN:
                return 0, len(self.journal.pending())
        if not self.journal.pending():
            return 0, 0
        applied, left = await asyncio.to_thread(self.journal.replay, self._apply)
        if applied:
            log.warning("journal replay: %d entries written to the database, %d left", applied, left)
        return applied, left

    def _apply(self, entry: dict[str, Any]) -> None:
        if entry.get("kind") == "mark":
            if entry["order_no"] in self._renamed:
                entry = {**entry, "order_no": self._renamed[entry["order_no"]]}
            try:
                self.store.mark(entry["order_no"], entry.get("actor", "ivr"), datetime.fromisoformat(entry["at"]),
                                status=entry.get("status"), note=entry.get("note"), **entry.get("fields", {}))
            except OrderNotFound:
                log.error("journal mark for unknown order %s dropped", entry["order_no"])
            return
        try:
            self.store.create(entry, actor=entry.get("actor", "ivr"))
        except OrderNumberTaken as exc:  # journaled on two nodes with the same node id while the DB was down
            new_no = self.numberer.next(datetime.fromisoformat(entry["call_time"]).astimezone(self.tz).date())
            log.error("%s: journaled order of call %s stored as %s", exc, entry["call_id"], new_no)
            self._renamed[entry["order_no"]] = new_no
            self.store.create({**entry, "order_no": new_no}, actor=entry.get("actor", "ivr"))

    # -- orders ---------------------------------------------------------------------------------------------------
    def _entry(self, draft: OrderDraft, **extra: Any) -> dict[str, Any]:
        now = self.clock()
        local = now.astimezone(self.tz)
        order_no = self.numberer.next(local.date())
        due = due_time(self.deadlines, self.calendar, self.category_rules, local, draft.request_type,
                       draft.urgency, draft.category_code)
        entry = dataclasses.asdict(draft)
        entry["transcript"] = [list(t) for t in draft.transcript]
        entry.update(kind="order", order_no=order_no, call_time=now.isoformat(),
                     due_at=due.astimezone(UTC).isoformat(), **extra)
        return entry

    async def _commit(self, entry: dict[str, Any]) -> OrderRef:
        try:
            for _ in range(5):
                try:
                    c = await asyncio.to_thread(self.store.create, entry)
                    break
                except OrderNumberTaken as exc:
                    log.error("%s — is node_id %d configured on two IVR nodes? taking the next number",
                              exc, self.cfg.node_id)
                    entry["order_no"] = self.numberer.next(datetime.fromisoformat(entry["call_time"])
                                                           .astimezone(self.tz).date())
            else:
                raise OrderNumberTaken(f"no free order number after 5 tries (node_id {self.cfg.node_id})")
            return OrderRef(c.order_no, entry["due_at"], False, c.repeat_caller, c.previous_orders)
        except _DB_DOWN as exc:
            log.error("database unreachable (%s): order %s journaled", exc.__class__.__name__, entry["order_no"])
            await asyncio.to_thread(self.journal.append, entry)
            return OrderRef(entry["order_no"], entry["due_at"], True)

    async def create_order(self, draft: OrderDraft) -> OrderRef:
        return await self._commit(self._entry(draft))

    async def record_unreasonable(self, draft: OrderDraft) -> OrderRef:
        reason = self.prompts.text(f"decline.{draft.rule_id}") if draft.rule_id and self.prompts.has(
            f"decline.{draft.rule_id}") else (draft.rule_id or "")
        return await self._commit(self._entry(draft, unreasonable=True, reason=reason))

    async def mark(self, order_no: str, *, status: str | None, note: str | None = None, **fields: Any) -> None:
        now = self.clock()
        try:
            await asyncio.to_thread(self.store.mark, order_no, "ivr", now, status=status, note=note, **fields)
        except (*_DB_DOWN, OrderNotFound) as exc:  # journaled order not in the DB yet, or DB down
            log.warning("order %s mark journaled (%s)", order_no, exc.__class__.__name__)
            await asyncio.to_thread(self.journal.append, {"kind": "mark", "order_no": order_no, "status": status,
                                                          "note": note, "fields": fields, "at": now.isoformat()})
            return
        rec = self.hub.latest(fields.get("agent_id") or "", "pop")
        if rec is not None and rec.data.get("order", {}).get("order_no") == order_no:
            await self.hub.publish(rec.agent_id, "order", {"order_no": order_no, "status": status})

    # -- transfer -------------------------------------------------------------------------------------------------
    async def _resolve(self, agent_id: str) -> str | None:
        a = self.directory.get(agent_id)
        if a is not None and a.sip_uri:
            return a.sip_uri
        fn = getattr(self.engine, "resolve", None)
        if fn is None:
            return None
        got = fn(a.aor if a is not None and a.aor else agent_id)
        if inspect.isawaitable(got):
            got = await got
        return got if isinstance(got, str) else None

    async def pop_payload(self, order: OrderRef, draft: OrderDraft) -> dict[str, Any]:
        try:
            data = await asyncio.to_thread(self.store.get, order.order_no)
        except (*_DB_DOWN, OrderNotFound):
            data = dataclasses.asdict(draft) | {"order_no": order.order_no, "due_at": order.due_at,
                                                "status": "new", "previous_orders": [], "journaled": True}
            data["transcript"] = [{"speaker": s, "text": t} for s, t in draft.transcript]
        count = 1 + len(data.get("previous_orders") or [])
        return {"order": data, "call_count": count, "repeat_caller": order.repeat_caller or count > 1}

    def whisper_slots(self, order: OrderRef, draft: OrderDraft) -> dict[str, str]:
        note = f"老户来电，近期已有{len(order.previous_orders)}张工单" if order.repeat_caller else ""
        return {"request_type": draft.request_type, "category": draft.category_name or draft.category_code or "其他",
                "district": draft.district or "未知区域", "urgency": _URGENCY_ZH.get(draft.urgency, "一般"),
                "repeat_note": note}

    async def warm_transfer(self, call: Call, order: OrderRef, draft: OrderDraft) -> TransferOutcome:
        t = self.cfg.transfer
        payload: dict[str, Any] = {}

        async def pop(agent_id: str) -> None:
            await self.mark(order.order_no, status=None, agent_id=agent_id)  # the desk may now open it
            if not payload:
                payload.update(await self.pop_payload(order, draft))
            await self.hub.publish(agent_id, "pop", {**payload, "call_id": call.call_id})

        async def mark(m: sm.MarkOrder) -> None:
            fields: dict[str, Any] = {"transfer_outcome": m.outcome}
            if m.agent_id:
                fields["agent_id"] = m.agent_id
            if m.status == "callback_pending":
                fields["callback_requested"] = True
            await self.mark(order.order_no, status=m.status, note=m.note, **fields)

        driver = TransferDriver(call=call, engine=self.engine, prompts=self.prompts, agents=self.agents,
                                resolve=self._resolve, pop=pop, mark=mark,
                                whisper_slots=self.whisper_slots(order, draft),
                                prompt_slots={"order_no": order.order_no},
                                settings=sm.Settings(max_agents=t.max_agents_tried, wait_s=t.wait_for_free_agent_s,
                                                     poll_s=t.poll_interval_s, choice_s=t.agent_retry_prompt_timeout_s,
                                                     announce=t.announce),
                                ring_timeout_s=t.ring_timeout_s, caller_id=t.caller_id,
                                render_in_thread=self.render_in_thread)
        self._transfers[call.call_id] = driver
        fin = await driver.run()
        self.last_metrics = driver.metrics
        return TransferOutcome(fin.status, fin.agent_id, fin.detail)

    async def wait_done(self, call_id: str) -> None:
        """After ``bridged``: wait until the transfer is over (both legs gone, or callback/retry finished)."""
        d = self._transfers.get(call_id)
        if d is not None:
            await d.done.wait()
            self._transfers.pop(call_id, None)
