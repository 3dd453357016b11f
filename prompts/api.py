"""What the rest of the IVR sees of the prompt catalogue and TTS.

Audio is PCM16 mono 8 kHz (see audio.pcm).  Catalogue files live in ``prompts/catalogue/*.yaml`` (all files are
merged; an id defined twice is an error naming both files)::

    prompts:
      greeting:
        text: "您好，这里是12345政务服务便民热线……"
        audio: null          # optional recorded override (path relative to prompts/recordings/)
        slots: []            # names used as {name} in text
        barge_in: true       # hint for flows; the legal notice is false

File ownership: ``call.yaml`` (whole-call prompts: greeting, questions, reprompts, transfer, hold, goodbye,
agent whisper) belongs to the prompts component; ``policy.yaml`` (scope explanation, redirect.*, decline.*,
emergency.*) to the flows component, next to the policy it voices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class UnknownPrompt(KeyError):
    """No prompt with that id in the catalogue."""


class PromptSource(Protocol):
    def has(self, prompt_id: str) -> bool: ...

    def text(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> str:
        """The zh-CN text with slots filled (raises UnknownPrompt, or KeyError for a missing slot)."""
        ...

    def audio(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> bytes:
        """PCM16 8 kHz audio of the prompt (recorded override, cache, or synthesized once and cached)."""
        ...

    def say(self, text: str) -> bytes:
        """PCM16 8 kHz audio of arbitrary text (normalized, cached)."""
        ...
