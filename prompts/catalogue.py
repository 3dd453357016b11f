"""The prompt catalogue: every ``*.yaml`` file of a directory merged into one id → :class:`Prompt` map.

File format (see prompts/api.py)::

    prompts:
      ask.phone:
        text: "请说出您的联系电话，或在拨号盘上输入，以井号键结束。"
        audio: null                  # recorded override, relative to the recordings directory
        slots: []                    # names, or {name: phone, kind: phone} (kinds: prompts.normalize.SLOT_KINDS)
        barge_in: true
        generator: null              # "hold_music": non-speech audio made when no recording is given

Errors are :class:`CatalogueError` naming the file (and line for broken YAML, both files for a duplicate id).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from prompts.api import UnknownPrompt
from prompts.normalize import SLOT_KINDS

SLOT_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
ID_RE = re.compile(r"^[a-z0-9_]+(?:[.][a-z0-9_]+)*$")
GENERATORS = ("hold_music",)
_KEYS = {"text", "audio", "slots", "barge_in", "generator"}


class CatalogueError(ValueError):
    """A catalogue file is unreadable or invalid; the message names the file (and line or prompt id)."""


@dataclass(frozen=True)
class Prompt:
    prompt_id: str
    text: str
    source: Path
    audio: str | None = None
    slots: tuple[tuple[str, str], ...] = ()  # (name, kind)
    barge_in: bool = True
    generator: str | None = None

    @property
    def slot_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.slots)

    def fill(self, values: Mapping[str, str] | None) -> str:
        """The text with ``{slot}`` replaced literally by ``values`` (KeyError naming a missing slot)."""
        values = values or {}

        def sub(m: re.Match[str]) -> str:
            name = m[1]
            if name not in values:
                raise KeyError(f"prompt {self.prompt_id!r}: slot {name!r} has no value")
            return str(values[name])

        return SLOT_RE.sub(sub, self.text)


def _slots(pid: str, raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CatalogueError(f"{where}: prompt {pid!r}: slots must be a list")
    out: list[tuple[str, str]] = []
    for item in raw:
        if isinstance(item, str):
            name, kind = item, "text"
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            name, kind = item["name"], str(item.get("kind", "text"))
        else:
            raise CatalogueError(f"{where}: prompt {pid!r}: a slot is a name or {{name: ..., kind: ...}}, got {item!r}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise CatalogueError(f"{where}: prompt {pid!r}: invalid slot name {name!r}")
        if kind not in SLOT_KINDS:
            raise CatalogueError(f"{where}: prompt {pid!r}: slot {name!r} kind {kind!r} not one of {SLOT_KINDS}")
        if name in dict(out):
            raise CatalogueError(f"{where}: prompt {pid!r}: slot {name!r} declared twice")
        out.append((name, kind))
    return tuple(out)


def _prompt(pid: Any, raw: Any, path: Path) -> Prompt:
    where = str(path)
    if not isinstance(pid, str) or not ID_RE.match(pid):
        raise CatalogueError(f"{where}: invalid prompt id {pid!r} (lower-case words joined by dots)")
    if isinstance(raw, str):
        raw = {"text": raw}
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: prompt {pid!r}: expected a mapping with 'text', got {type(raw).__name__}")
    unknown = set(raw) - _KEYS
    if unknown:
        raise CatalogueError(f"{where}: prompt {pid!r}: unknown keys {sorted(unknown)} (allowed: {sorted(_KEYS)})")
    text = raw.get("text")
    generator = raw.get("generator")
    audio = raw.get("audio")
    if not isinstance(text, str) or (not text.strip() and generator is None and audio is None):
        raise CatalogueError(f"{where}: prompt {pid!r}: 'text' must be a non-empty string")
    if audio is not None and (not isinstance(audio, str) or not audio.strip()):
        raise CatalogueError(f"{where}: prompt {pid!r}: 'audio' must be a file name relative to the recordings dir")
    if generator is not None and generator not in GENERATORS:
        raise CatalogueError(f"{where}: prompt {pid!r}: generator {generator!r} not one of {GENERATORS}")
    barge_in = raw.get("barge_in", True)
    if not isinstance(barge_in, bool):
        raise CatalogueError(f"{where}: prompt {pid!r}: barge_in must be true or false")
    slots = _slots(pid, raw.get("slots"), where)
    declared = {name for name, _ in slots}
    used = SLOT_RE.findall(text)
    missing = [name for name in used if name not in declared]
    if missing:
        raise CatalogueError(f"{where}: prompt {pid!r}: text uses undeclared slots {sorted(set(missing))}")
    stray = re.sub(SLOT_RE, "", text)
    if "{" in stray or "}" in stray:
        raise CatalogueError(f"{where}: prompt {pid!r}: unbalanced or malformed {{slot}} in text")
    if slots and (audio is not None or generator is not None):
        raise CatalogueError(f"{where}: prompt {pid!r}: a recording or generator cannot carry slots")
    return Prompt(pid, text, path, audio, slots, barge_in, generator)


def load_file(path: Path) -> dict[str, Prompt]:
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise CatalogueError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict) or set(data) - {"prompts"}:
        raise CatalogueError(f"{path}: expected a mapping with the single key 'prompts'")
    prompts = data.get("prompts") or {}
    if not isinstance(prompts, dict):
        raise CatalogueError(f"{path}: 'prompts' must be a mapping of prompt id to prompt")
    return {str(pid): _prompt(pid, raw, path) for pid, raw in prompts.items()}


class Catalogue:
    """Immutable id → :class:`Prompt` map merged from several files."""

    def __init__(self, prompts: Mapping[str, Prompt]) -> None:
        self._prompts = dict(prompts)

    @classmethod
    def load(cls, directory: Path, extra: Iterable[Path] = ()) -> Catalogue:
        files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")) + list(extra)
        if not directory.is_dir():
            raise CatalogueError(f"{directory}: catalogue directory does not exist")
        merged: dict[str, Prompt] = {}
        for path in files:
            for pid, prompt in load_file(path).items():
                if pid in merged:
                    raise CatalogueError(f"prompt {pid!r} is defined twice: in {merged[pid].source} and in {path}")
                merged[pid] = prompt
        return cls(merged)

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self._prompts

    def __len__(self) -> int:
        return len(self._prompts)

    def ids(self) -> list[str]:
        return sorted(self._prompts)

    def get(self, prompt_id: str) -> Prompt:
        try:
            return self._prompts[prompt_id]
        except KeyError:
            raise UnknownPrompt(prompt_id) from None
