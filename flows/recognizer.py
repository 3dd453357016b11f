"""The call's speech recognizer (an asr.api.Listener): armed per question, fed from the call's audio.

A recognizer failure is never the call's: it is logged and the keypad still works.  Its results are tagged with
the question they answer (``gen``): the session drops answers to an earlier question.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from asr import api as speech_api
from flows.events import BargeIn, Event, Listen, NoInput, NoMatch, Recognized
from ivr.clock import Clock

log = logging.getLogger(__name__)


class Recognizer:
    def __init__(self, listener: speech_api.Listener, call_id: str, clock: Clock,
                 post: Callable[[Event, int], None]) -> None:
        self.listener, self.call_id, self.clock, self.post = listener, call_id, clock, post
        self.gen = 0  # the question being listened to

    def _safely(self, what: str, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:
            log.warning("call %s: speech %s failed: %s", self.call_id, what, exc)

    def feed(self, frame: bytes) -> None:
        self._safely("feed", self.listener.feed, frame, self.clock.now())

    def listen(self, action: Listen, remaining: float) -> None:
        """A new question: its no-input timer is stretched by the ``remaining`` prompt audio still queued."""
        self.cancel()
        self.gen += 1
        if action.speech:
            spec = replace(action.spec, no_input_timeout=action.spec.no_input_timeout + remaining)
            self.listener.listen(spec, self.clock.now())

    def cancel(self) -> None:
        self._safely("cancel", self.listener.cancel)

    def prompt_playing(self, playing: bool) -> None:
        """Backchannels (嗯/对) over a prompt are dropped and the no-input timer starts when the prompt ends —
        if the listener is told whether a prompt plays."""
        if isinstance(self.listener, speech_api.PromptAwareListener):
            self._safely("prompt mark", self.listener.set_prompt, playing, self.clock.now())

    def close(self) -> None:
        self._safely("close", self.listener.close)

    async def pump(self) -> None:
        while True:
            try:
                event = await self.listener.next_event()
            except Exception as exc:
                log.warning("call %s: recognizer failed: %s", self.call_id, exc)
                self.post(NoMatch(), self.gen)
                await self.clock.sleep(0.5)
                continue
            if isinstance(event, speech_api.BargeIn):
                self.post(BargeIn(), self.gen)
            elif isinstance(event, speech_api.Recognized):
                r = event.result
                self.post(Recognized(r.text, r.normalized, r.confidence, r.low_confidence), self.gen)
            elif isinstance(event, speech_api.NoInput):
                self.post(NoInput(), self.gen)
            elif isinstance(event, speech_api.NoMatch):
                self.post(NoMatch(event.text), self.gen)
