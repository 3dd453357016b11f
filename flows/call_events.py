"""The one reader of a call's events: keys and the hang-up go to the runner, and while the hand-off has the caller
(a warm transfer, then the bridged call) to the hand-off instead.

The hand-off reads ``call.next_event()`` (bridge.api.Handoff.warm_transfer takes the call, and ``engine.bridge``
needs the engine's own call object, so it cannot be wrapped): the relay is attached to the call object as its
``next_event`` for that time and removed after.  A hang-up during the hand-off is the hand-off's; the flow hears it
after the hand-off's outcome (:meth:`CallEvents.unheard_hangup`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from flows.events import Event, Hangup, Key
from ivr.app import Call, CallEvent, DigitEvent, HangupEvent

log = logging.getLogger(__name__)


class _Relay:
    """The hand-off's share of the call's events (``next_event`` as ``ivr.app.Call`` promises it)."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self.hangup: HangupEvent | None = None

    async def next_event(self) -> CallEvent:
        if self.hangup is not None:  # after hang-up it keeps returning the HangupEvent
            return self.hangup
        event = await self.events.get()
        if isinstance(event, HangupEvent):
            self.hangup = event
        return event


class CallEvents:
    def __init__(self, call: Call, post: Callable[[Event], None]) -> None:
        self.call = call
        self.post = post
        self.read = call.next_event
        self.relay: _Relay | None = None
        self.hangup: HangupEvent | None = None
        self.hung_up = asyncio.Event()
        self._unheard = False

    async def pump(self) -> None:
        while True:
            try:
                event = await self.read()
            except Exception as exc:
                log.warning("call %s: call events failed: %s", self.call.call_id, exc)
                event = HangupEvent(reason=f"engine error: {exc}", by_remote=False)
            if self.relay is not None:
                self.relay.events.put_nowait(event)
            if isinstance(event, HangupEvent):
                self.hangup = event
                self.hung_up.set()
                if self.relay is None:
                    self.post(Hangup(event.reason))
                else:
                    self._unheard = True
                return
            if isinstance(event, DigitEvent) and self.relay is None:
                self.post(Key(event.digit))

    def attach(self) -> None:
        """From now on the hand-off reads the caller's events (``call.next_event()``) from the relay."""
        self.relay = _Relay()
        if self.hangup is not None:
            self.relay.events.put_nowait(self.hangup)
        setattr(self.call, "next_event", self.relay.next_event)  # noqa: B010 - an instance attribute, see detach

    def detach(self) -> None:
        if self.relay is not None:
            self.relay = None
            with contextlib.suppress(AttributeError):
                delattr(self.call, "next_event")

    def unheard_hangup(self) -> Hangup | None:
        """The caller's hang-up during the hand-off, once (for the flow, after the hand-off's outcome)."""
        if not self._unheard or self.hangup is None:
            return None
        self._unheard = False
        return Hangup(self.hangup.reason)
