"""The prompts of one call: rendered one after the other and queued on the call in the order the flow asked.

The runner hears (``post``): ``Rendering`` when a prompt's synthesis begins (its render deadline runs),
``PromptStarted`` once its audio is queued, ``PromptDone`` when it was played or stopped; ``Failed`` then
``PromptDone(completed=False)`` when its audio cannot be had; ``PromptDone(completed=False)`` when it is dropped
before it was queued (barge-in, first key, render deadline).  Synthesis runs in a thread that cannot be cancelled
and fills the cache anyway, so a slow one is waited for: the runner's deadline decides when to give up on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from flows.events import Event, Failed, Play, PromptDone, PromptStarted, Rendering
from ivr.app import FRAME_MS, SAMPLE_RATE, Call
from ivr.clock import Clock
from prompts.api import PromptSource

log = logging.getLogger(__name__)
FRAME_SECONDS = FRAME_MS / 1000
Spawn = Callable[[Awaitable[None]], "asyncio.Task[None]"]


class Playout:
    def __init__(self, call: Call, prompts: PromptSource, clock: Clock, post: Callable[[Event], None], spawn: Spawn,
                 hung_up: asyncio.Event, *, in_thread: bool, slow_after: float,
                 playing: Callable[[bool], None]) -> None:
        self.call, self.prompts, self.clock, self.post, self.spawn = call, prompts, clock, post, spawn
        self.hung_up = hung_up
        self.in_thread = in_thread  # prompt audio may need synthesis: keep it off the event loop
        self.slow_after = slow_after  # a render slower than this is logged when it lands
        self.playing = playing  # told whether a prompt plays (a prompt-aware recognizer)
        self.unqueued: dict[int, tuple[asyncio.Task[None], bool]] = {}  # play id -> (its task, barge_in)
        self.last: asyncio.Task[None] | None = None
        self.playing_until = 0.0
        self.slots_used: dict[str, dict[str, str]] = {}  # prompt id -> slots it was last played with

    def play(self, action: Play) -> None:
        if self.call.ended:
            return
        self.slots_used[action.prompt_id] = dict(action.slots)
        task = self.spawn(self._in_turn(self.last, action))
        self.unqueued[action.play_id] = (task, action.barge_in)
        self.last = task

    def remaining(self) -> float:
        """Seconds of audio still queued on the call."""
        return max(0.0, self.playing_until - self.clock.now())

    def stop(self) -> None:
        """Barge-in / first key: interruptible audio stops, interruptible prompts not yet queued are dropped."""
        self.drop(interruptible_only=True)
        self.call.stop_playback()
        self.playing_until = self.clock.now()
        self.playing(False)

    def drop(self, interruptible_only: bool = False) -> None:
        for task, barge_in in list(self.unqueued.values()):
            if barge_in or not interruptible_only:
                task.cancel()

    async def _in_turn(self, before: asyncio.Task[None] | None, action: Play) -> None:
        try:
            if before is not None:
                await asyncio.wait({before})
            self.post(Rendering(action.play_id))
            audio = await self._render(action)
        except asyncio.CancelledError:
            self.post(PromptDone(action.play_id, False))
            raise
        except Exception as exc:
            log.warning("call %s: Play failed: %r", self.call.call_id, exc)
            self.post(Failed(f"Play: {exc!r}"))
            self.post(PromptDone(action.play_id, False))
            return
        finally:
            self.unqueued.pop(action.play_id, None)
        if audio is None or self.call.ended:
            return
        log.debug("call %s: play %s %s", self.call.call_id, action.prompt_id, dict(action.slots) or "")
        playback = self.call.play(audio, interruptible=action.barge_in)
        self.playing_until = max(self.playing_until, self.clock.now()) + len(audio) / (2 * SAMPLE_RATE)
        self.playing(True)
        self.post(PromptStarted(action.play_id))
        self.spawn(self._played(action, playback.done))

    async def _played(self, action: Play, done: Awaitable[bool]) -> None:
        completed = await done
        if self.clock.now() >= self.playing_until - FRAME_SECONDS:  # nothing else queued behind it
            self.playing(False)
        self.post(PromptDone(action.play_id, bool(completed)))

    async def _render(self, action: Play) -> bytes | None:
        """The prompt's audio; None if the caller hung up while it was being synthesized."""
        if not self.in_thread:
            return self.prompts.audio(action.prompt_id, action.slots)
        render = asyncio.ensure_future(asyncio.to_thread(self.prompts.audio, action.prompt_id, action.slots))
        render.add_done_callback(lambda f: f.cancelled() or f.exception())  # a given-up render's error: retrieved
        hung_up = asyncio.ensure_future(self.hung_up.wait())
        started = self.clock.now()
        try:
            await asyncio.wait({render, hung_up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hung_up.cancel()
        if not render.done():
            return None
        took = self.clock.now() - started
        if took >= self.slow_after and render.exception() is None:
            log.warning("call %s: prompt %s rendered after %.1f s", self.call.call_id, action.prompt_id, took)
        return render.result()
