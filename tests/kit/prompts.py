"""Prompt sources for tests: :class:`FakePrompts` (silence labelled with its prompt id), :class:`TonePrompts`, and
:class:`SpyPrompts` (a real source whose renderings are logged).

Audio from :class:`FakePrompts` carries its prompt id in a small header so :class:`tests.kit.call.FakeCall` can
log what each party heard and when; its length follows the prompt's duration (PCM16, 8 kHz).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ivr.app import SAMPLE_RATE
from prompts.api import UnknownPrompt

_HDR = b"PROMPT:"

TRANSFER = {"transfer.notice": 2.0, "hold.music": 4.0, "whisper.agent": 2.5}
"""Durations (s) of the warm-transfer prompts as the transfer tests assume them (others 1.5 s there)."""


def fake_pcm(label: str, seconds: float) -> bytes:
    """``seconds`` of PCM16 8 kHz audio (even length) whose first bytes name ``label``."""
    head = _HDR + label.encode() + b"\n"
    n = max(len(head) + len(head) % 2, int(seconds * SAMPLE_RATE) * 2)
    return head + b"\x00" * (n - len(head))


def label_of(pcm: bytes) -> str:
    if pcm.startswith(_HDR):
        return pcm[len(_HDR): pcm.index(b"\n")].decode()
    return "audio"


class FakePrompts:
    """Every prompt id exists except those in ``broken`` (``"*"``: every one), which raise :class:`UnknownPrompt`.

    Audio lasts ``durations[id]`` seconds (default ``seconds``) and is labelled with its id; texts are ``[id]``
    (``[id k=v …]`` with slots); ``rendered`` logs the ``(id, slots)`` of every audio asked for.
    """

    def __init__(self, durations: Mapping[str, float] | None = None, *, seconds: float = 0.5,
                 broken: tuple[str, ...] = ()) -> None:
        self.durations = dict(durations or {})
        self.seconds = seconds
        self.broken = broken
        self.rendered: list[tuple[str, dict[str, str]]] = []

    @classmethod
    def transfer(cls, durations: Mapping[str, float] | None = None) -> FakePrompts:
        """The warm-transfer prompts at :data:`TRANSFER` lengths (overridden by ``durations``), others 1.5 s."""
        return cls({**TRANSFER, **(durations or {})}, seconds=1.5)

    @property
    def rendered_ids(self) -> list[str]:
        return [prompt_id for prompt_id, _slots in self.rendered]

    def has(self, prompt_id: str) -> bool:
        return prompt_id not in self.broken

    def text(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> str:
        if prompt_id in self.broken or "*" in self.broken:
            raise UnknownPrompt(prompt_id)
        return f"[{prompt_id}" + "".join(f" {k}={v}" for k, v in sorted((slots or {}).items())) + "]"

    def audio(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> bytes:
        self.text(prompt_id, slots)
        self.rendered.append((prompt_id, dict(slots or {})))
        return fake_pcm(prompt_id, self.durations.get(prompt_id, self.seconds))

    def say(self, text: str) -> bytes:
        return fake_pcm("say:" + text, self.seconds)


def tone(freq: float, seconds: float, amplitude: float = 0.5) -> bytes:
    """PCM16 8 kHz sine tone."""
    import numpy as np

    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return bytes((np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype("<i2").tobytes())


TONES = {"transfer.notice": (440.0, 1.0), "hold.music": (520.0, 1.0), "whisper.agent": (800.0, 1.5),
         "transfer.no_agent_callback": (300.0, 1.0), "callback.promise": (300.0, 1.0),
         "transfer.agent_unavailable_retry": (350.0, 1.0)}


class TonePrompts:
    """Prompts as distinct tones (notice 440 Hz, hold 520 Hz, whisper 800 Hz) so a test or bench on real phones can
    tell in a recording who heard what."""

    def __init__(self) -> None:
        self.rendered: list[str] = []

    def has(self, prompt_id: str) -> bool:
        return prompt_id in TONES

    def text(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> str:
        return prompt_id

    def audio(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> bytes:
        self.rendered.append(prompt_id)
        f, s = TONES.get(prompt_id, (300.0, 0.5))
        return tone(f, s)

    def say(self, text: str) -> bytes:
        return tone(300.0, 0.5)


class SpyPrompts:
    """Delegates to a real prompt source; ``rendered`` logs the ``(id, slots)`` of every audio asked for."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.rendered: list[tuple[str, dict[str, str]]] = []

    def has(self, prompt_id: str) -> bool:
        return bool(self.inner.has(prompt_id))

    def text(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> str:
        return str(self.inner.text(prompt_id, slots))

    def audio(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> bytes:
        self.rendered.append((prompt_id, dict(slots or {})))
        return bytes(self.inner.audio(prompt_id, slots))

    def say(self, text: str) -> bytes:
        return bytes(self.inner.say(text))
