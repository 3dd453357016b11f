"""The work-order hand-off (bridge.api.Handoff) for session tests: a fake, and a real one that holds virtual time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bridge.api import Handoff, OrderDraft, OrderRef, TransferOutcome
from ivr.app import Call
from ivr.clock import VirtualClock
from tests.kit.call import FakeCall


@dataclass
class FakeHandoff:
    """Orders numbered F0001…, kept in ``orders``; a warm transfer ends in ``agent_status`` (a bridged fake call
    hangs up at once unless ``call_ends_after_bridge`` is False); ``fail_orders``: the order store is down."""

    agent_status: str = "bridged"
    fail_orders: bool = False
    orders: list[tuple[str, OrderDraft]] = field(default_factory=list)
    transfers: list[tuple[str, OrderDraft]] = field(default_factory=list)
    call_ends_after_bridge: bool = True
    bridged_calls: dict[str, FakeCall] = field(default_factory=dict)

    async def create_order(self, draft: OrderDraft) -> OrderRef:
        return self._store("order", draft)

    async def record_unreasonable(self, draft: OrderDraft) -> OrderRef:
        return self._store("unreasonable", draft)

    def _store(self, kind: str, draft: OrderDraft) -> OrderRef:
        if self.fail_orders:
            raise ConnectionError("order store down")
        self.orders.append((kind, draft))
        return OrderRef(order_no=f"F{len(self.orders):04d}", due_at=None, journaled=False)

    async def warm_transfer(self, call: Call, order: OrderRef, draft: OrderDraft) -> TransferOutcome:
        self.transfers.append((order.order_no, draft))
        if self.agent_status == "bridged" and isinstance(call, FakeCall):
            self.bridged_calls[call.call_id] = call
            if self.call_ends_after_bridge:
                call.remote_hangup("agent and caller finished")
        return TransferOutcome(self.agent_status)  # type: ignore[arg-type]

    async def wait_done(self, call_id: str) -> None:
        """Like the real hand-off: returns once the bridged call has ended."""
        call = self.bridged_calls.get(call_id)
        while call is not None and not call.ended:
            await asyncio.sleep(0.01)


class BusyHandoff:
    """A real hand-off whose calls (database work in threads) hold the virtual clock while they run."""

    def __init__(self, inner: Handoff, clock: VirtualClock) -> None:
        self.inner = inner
        self.clock = clock

    async def create_order(self, draft: OrderDraft) -> OrderRef:
        async with self.clock.busy():
            return await self.inner.create_order(draft)

    async def record_unreasonable(self, draft: OrderDraft) -> OrderRef:
        async with self.clock.busy():
            return await self.inner.record_unreasonable(draft)

    async def warm_transfer(self, call: Call, order: OrderRef, draft: OrderDraft) -> TransferOutcome:
        return await self.inner.warm_transfer(call, order, draft)

    async def wait_done(self, call_id: str) -> None:
        await self.inner.wait_done(call_id)
