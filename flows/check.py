"""``hotline flows check``: static checks of a flow beyond its schema.

Unreachable nodes, missing prompt ids (against prompts/catalogue/*.yaml, templated ids expanded over the shared
identifiers), steps without a way out (a caller is never stuck), classify nodes that do not route every
disposition, and grammar words missing from the speech model when one is installed.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from flows.ids import DECLINE_RULES, DISPOSITIONS, EMERGENCY_CHANNELS, REDIRECT_CHANNELS, TEMPLATE_VALUES
from flows.loader import FlowError, load_flow
from flows.model import WAITING_TYPES, Flow, Node

CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "prompts" / "catalogue"
_PREFIX_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("emergency.", "channel"): EMERGENCY_CHANNELS,
    ("redirect.", "channel"): REDIRECT_CHANNELS,
    ("decline.", "rule"): DECLINE_RULES,
}
TERMINAL_TYPES = ("hangup", "transfer")
HasWord = Callable[[str], bool]


@dataclass(frozen=True)
class Issue:
    level: str  # "error" | "warning"
    file: str
    line: int
    node: str | None
    message: str

    def __str__(self) -> str:
        where = f" node {self.node!r}:" if self.node else ""
        return f"{self.file}:{self.line}: {self.level}:{where} {self.message}"


@dataclass(frozen=True)
class CatalogueEntry:
    slots: tuple[str, ...] = ()
    barge_in: bool = True


def catalogue_entries(directory: Path = CATALOGUE_DIR) -> dict[str, CatalogueEntry] | None:
    """Prompt ids with their slots and barge-in hint (None when there is no catalogue to check against)."""
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not files:
        return None
    entries: dict[str, CatalogueEntry] = {}
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        prompts = data.get("prompts") if isinstance(data, dict) else None
        for pid, raw in prompts.items() if isinstance(prompts, dict) else []:
            raw = raw if isinstance(raw, dict) else {}
            slots = tuple(str(s.get("name") if isinstance(s, dict) else s) for s in raw.get("slots") or ())
            entries[str(pid)] = CatalogueEntry(slots, raw.get("barge_in") is not False)
    return entries


def catalogue_ids(directory: Path = CATALOGUE_DIR) -> set[str] | None:
    entries = catalogue_entries(directory)
    return None if entries is None else set(entries)


def _prompt_usage(flow: Flow, node: Node, catalogue: dict[str, CatalogueEntry]) -> list[Issue]:
    """Slots the node fills against the slots the prompt declares; barge-in against the catalogue's hint."""
    issues: list[Issue] = []
    if node.prompt:
        for pid in expand(node.prompt):
            entry = catalogue.get(pid)
            if entry is None:
                continue
            missing = [s for s in entry.slots if s not in node.slots]
            if missing:
                issues.append(_issue(flow, node, f"prompt {pid}: slot(s) without a value: {', '.join(missing)}"))
            unused = [s for s in node.slots if s not in entry.slots]
            if unused:
                issues.append(_issue(flow, node, f"prompt {pid}: slot(s) it does not use: {', '.join(unused)}",
                                     "warning"))
            if not entry.barge_in and node.barge_in and node.type not in ("hangup",):
                issues.append(_issue(flow, node, f"prompt {pid} may not be interrupted: set barge_in: false"))
    return issues


def expand(prompt_id: str) -> list[str]:
    """All concrete ids a templated prompt id may take (``redirect.{channel}`` → ``redirect.court`` …)."""
    names = [f for _, f, _, _ in string.Formatter().parse(prompt_id) if f]
    if not names:
        return [prompt_id]
    out = [prompt_id]
    for name in names:
        prefix = prompt_id.split("{", 1)[0]
        values = next((v for (p, n), v in _PREFIX_VALUES.items() if n == name and prefix.startswith(p)),
                      TEMPLATE_VALUES.get(name, ()))
        out = [template.replace("{" + name + "}", value) for template in out for value in values]
    return out


def reachable(flow: Flow) -> set[str]:
    seen: set[str] = set()
    todo = [flow.start, *([flow.on_error] if flow.on_error else []), *flow.globals.keypad.values(),
            *flow.globals.words.values(), *([flow.globals.emergency] if flow.globals.emergency else [])]
    while todo:
        name = todo.pop()
        if name in seen or name not in flow.nodes:
            continue
        seen.add(name)
        todo.extend(flow.nodes[name].targets().values())
    return seen


def _reaches_terminal(flow: Flow, start: str, avoid: str) -> bool:
    seen: set[str] = {avoid}
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in flow.nodes:
            continue
        seen.add(name)
        node = flow.nodes[name]
        if node.type in TERMINAL_TYPES:
            return True
        todo.extend(node.targets().values())
    return False


def _issue(flow: Flow, node: Node | None, message: str, level: str = "error") -> Issue:
    return Issue(level, flow.source, node.line if node else 1, node.name if node else None, message)


def grammar_words(flow: Flow) -> dict[str, list[str]]:
    """Phrases each step asks the recognizer for (listen.phrases and menu words), plus the global words."""
    groups: dict[str, list[str]] = {"globals": list(flow.globals.words)}
    for node in flow.nodes.values():
        words = [w for opt in node.options for w in opt.words]
        if node.listen is not None:
            words += [*node.listen.phrases, *node.listen.hotwords]
        if words:
            groups[node.name] = words
    return groups


def check_flow(flow: Flow, prompt_ids: set[str] | dict[str, CatalogueEntry] | None,
               has_word: HasWord | None = None) -> list[Issue]:
    issues: list[Issue] = []
    if isinstance(prompt_ids, dict):
        for node in flow.nodes.values():
            issues += _prompt_usage(flow, node, prompt_ids)
    live = reachable(flow)
    for node in flow.nodes.values():
        if node.name not in live:
            issues.append(_issue(flow, node, "unreachable from start, on_error and globals", "warning"))
        if prompt_ids is not None:
            for pid in node.prompt_ids():
                missing = [p for p in expand(pid) if p not in prompt_ids]
                if missing:
                    issues.append(_issue(flow, node, f"prompt id(s) not in the catalogue: {', '.join(missing)}"))
        if node.type in WAITING_TYPES:
            if node.fallback == node.name:
                issues.append(_issue(flow, node, "fallback points to the step itself: the caller could be stuck"))
            elif node.fallback and not _reaches_terminal(flow, node.fallback, node.name):
                issues.append(_issue(flow, node, "no way out: the fallback never reaches an agent or a hang-up"))
            if node.retries == 0 and node.type != "menu":
                issues.append(_issue(flow, node, "retries: 0 gives the caller no second chance", "warning"))
        if node.type == "classify":
            unrouted = [d for d in DISPOSITIONS if d not in node.routes]
            if unrouted and not node.on_error:
                issues.append(_issue(flow, node, f"dispositions without a route: {', '.join(unrouted)}"))
    if prompt_ids is None:
        issues.append(_issue(flow, None, "no prompt catalogue found (prompts/catalogue/*.yaml): ids not checked",
                             "warning"))
    if has_word is not None:
        issues += _vocabulary(flow, has_word)
    return issues


def _vocabulary(flow: Flow, has_word: HasWord) -> list[Issue]:
    try:
        from asr.grammar import check_vocabulary
    except ImportError:
        return [_issue(flow, None, "asr.grammar not available: grammar words not checked", "warning")]
    report = check_vocabulary(grammar_words(flow), has_word)
    return [_issue(flow, flow.nodes.get(group), f"grammar words not in the speech model: {', '.join(words)}")
            for group, words in report.items()]


def model_has_word() -> tuple[HasWord | None, str]:
    """``has_word`` of the configured Vosk model when one is installed, with a note for the report."""
    try:
        from asr.recognizer import VoskModel
        from config.asr import AsrConfig
        from config.loader import load_config

        conf = load_config(AsrConfig, "asr")
    except Exception as exc:  # no speech component / config: the check is skipped, and says so
        return None, f"speech model not checked ({exc})"
    if not conf.enabled or not conf.model_path or not Path(conf.model_path).is_dir():
        return None, f"speech model not installed ({conf.model_path}): grammar vocabulary not checked"
    try:
        model = VoskModel(conf.model_path)
    except Exception as exc:
        return None, f"speech model {conf.model_path} failed to load: {exc}"
    return model.has_word, f"grammar vocabulary checked against {conf.model_path}"


def check_paths(paths: Iterable[Path], prompt_dir: Path = CATALOGUE_DIR,
                has_word: HasWord | None = None) -> list[Issue]:
    ids = catalogue_entries(prompt_dir)
    issues: list[Issue] = []
    for path in paths:
        try:
            flow = load_flow(path)
        except FlowError as exc:
            issues += [Issue("error", p.file, p.line, p.node, p.message) for p in exc.problems]
            continue
        issues += check_flow(flow, ids, has_word)
    return issues


