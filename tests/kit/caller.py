"""A caller who answers each question the session asks with the next scripted turn, on the session's clock."""

from __future__ import annotations

import asyncio

from asr import api as speech_api
from asr.api import Recognition
from flows.events import Listen
from ivr.clock import Clock
from tests.kit.call import FakeCall
from tests.kit.speech import FakeSpeech

Turn = tuple[str, str]  # ("say", text) | ("keys", "123#") | ("silence", "") | ("hangup", "") | ("barge", text)


class ScriptedCaller:
    """Answers each question (each Listen the session executes) with the next scripted turn."""

    def __init__(self, call: FakeCall, speech: FakeSpeech | None, turns: list[Turn], clock: Clock,
                 think: float = 1.0) -> None:
        self.think = think
        self.call = call
        self.speech = speech
        self.turns = list(turns)
        self.clock = clock
        self.actions: list[object] = []
        self.tasks: set[asyncio.Future[None]] = set()

    def observe(self, action: object) -> None:
        self.actions.append(action)
        if isinstance(action, Listen) and self.turns:
            self.tasks.add(asyncio.ensure_future(self._answer(self.turns.pop(0), action)))

    async def _answer(self, turn: Turn, listen: Listen) -> None:
        kind, value = turn
        listener = self.speech.listener if self.speech is not None else None
        if kind == "barge" and listener is not None:  # speaks over the prompt
            await self.clock.sleep(0.2)
            listener.events.put_nowait(speech_api.BargeIn(self.clock.now()))
            kind = "say"
        else:
            await self.clock.sleep(self.think if kind != "silence" else 0.0)
        if kind == "say" and listener is not None:
            result = Recognition(value, value, 0.9, False)
            now = self.clock.now()
            listener.events.put_nowait(speech_api.Recognized(result, now - 1.0, now))
        elif kind == "keys":
            for key in value:
                self.call.press(key)
                await self.clock.sleep(self.think / 3)
        elif kind == "silence" and listener is not None and listen.speech and listener.armed is not None:
            await self.clock.sleep(listener.armed.no_input_timeout)
            listener.events.put_nowait(speech_api.NoInput(self.clock.now()))
        elif kind == "hangup":
            self.call.remote_hangup()
