"""Versioning: a call keeps the flow version it started on; a changed file serves new calls without restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.events import PromptDone, Started
from flows.loader import FlowError
from flows.registry import FlowRegistry
from flows.runner import Context, new_call, step

V1 = """\
flow: v
start: a
nodes:
  a: {type: say, prompt: greeting, next: b}
  b: {type: hangup, prompt: goodbye}
"""
V2 = V1.replace("prompt: goodbye", "prompt: goodbye.after_redirect")


def _touch_later(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text, "utf-8")
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))  # a visibly newer mtime


def test_calls_are_pinned_and_new_calls_get_the_new_version(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(V1, "utf-8")
    registry = FlowRegistry(path)
    first = registry.current()
    old_call, _ = step(new_call(Context(first, None)), Started("c1", "1", True))
    _touch_later(path, V2)
    second = registry.current()
    assert second.version != first.version and set(registry.versions) == {first.version, second.version}
    new_call_state, _ = step(new_call(Context(second, None)), Started("c2", "1", True))
    _, old_actions = step(old_call, PromptDone(1))
    _, new_actions = step(new_call_state, PromptDone(1))
    assert [a.prompt_id for a in old_actions] == ["goodbye"]  # type: ignore[union-attr]
    assert [a.prompt_id for a in new_actions] == ["goodbye.after_redirect"]  # type: ignore[union-attr]
    assert registry.current() is second  # unchanged file: no reload


def test_a_broken_edit_keeps_the_last_good_version(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(V1, "utf-8")
    registry = FlowRegistry(path)
    good = registry.current()
    _touch_later(path, V1.replace("next: b", "next: nowhere"))
    assert registry.current() is good and registry.last_error is not None
    assert "node 'a': next: no node named 'nowhere'" in str(registry.last_error)
    _touch_later(path, V2)
    assert registry.current().version != good.version and registry.last_error is None


def test_no_valid_version_at_all_raises(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text("flow: x\n", "utf-8")
    with pytest.raises(FlowError):
        FlowRegistry(path).current()
