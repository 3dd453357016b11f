"""Order writes of one call that are never cancelled by their guard (see flows/session.py).

A write the flow stops waiting for goes on (the hand-off still journals it if the database fails); when it lands
the session is told (``late=True``), and a later write of the same kind waits for it instead of writing a second
order.  Every write stays referenced until it ends, even past the end of its call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bridge.api import OrderRef

log = logging.getLogger(__name__)
_RUNNING: set[asyncio.Task[OrderRef]] = set()  # writes outliving their guard (or their call) stay referenced


class OrderWrites:
    def __init__(self, call_id: str, guard: Callable[[Awaitable[OrderRef]], Awaitable[OrderRef]], timeout: float,
                 landed: Callable[[OrderRef, bool], None]) -> None:
        self.call_id = call_id
        self.guard = guard  # raises TimeoutError when the flow stops waiting (the awaitable is cancelled)
        self.timeout = timeout  # only for the log line
        self.landed = landed  # (ref, late): a write's result, once, whether waited for or late
        self.late: dict[asyncio.Task[OrderRef], str] = {}  # writes the guard gave up on -> kind

    async def write(self, kind: str, start: Callable[[], Coroutine[Any, Any, OrderRef]]) -> OrderRef:
        """Commit an order (``kind`` "order") or an unreasonable-demand record within the guard, never cancelling
        the write; a write of the same kind still running from an earlier step is waited for instead."""
        running = [t for t, k in self.late.items() if k == kind and not t.done()]
        if running:
            task = running[0]
            log.warning("call %s: an earlier %s write is still running; waiting for it instead of writing a "
                        "second one", self.call_id, kind)
        else:
            task = asyncio.ensure_future(start())
            _RUNNING.add(task)
            task.add_done_callback(_RUNNING.discard)
        try:
            ref = await self.guard(asyncio.shield(task))
        except TimeoutError:
            if task not in self.late:
                self.late[task] = kind
                task.add_done_callback(self._late_done)
            log.warning("call %s: order write not done after %.0f s; the flow goes on, the write too",
                        self.call_id, self.timeout)
            raise
        self.late.pop(task, None)  # claimed here: no late report for it
        self.landed(ref, False)
        return ref

    def _late_done(self, task: asyncio.Task[OrderRef]) -> None:
        if self.late.pop(task, None) is None:
            return
        if task.cancelled() or task.exception() is not None:
            log.error("call %s: order write failed after its guard had given up: %r", self.call_id,
                      None if task.cancelled() else task.exception())
            return
        ref = task.result()
        log.warning("call %s: order %s written after its guard had given up; the call goes on with it",
                    self.call_id, ref.order_no)
        self.landed(ref, True)
