"""Load and validate a flow YAML file; every problem names the file, the line and the node.

The YAML is composed (not just loaded) so that each node and field keeps its line number.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args

import yaml

from flows.ids import DISPOSITIONS
from flows.model import Flow, Globals, HangupOrder, KeypadConf, ListenConf, ListenKind, Node, NodeType, Option

NODE_TYPES: tuple[str, ...] = get_args(NodeType)
LISTEN_KINDS: tuple[str, ...] = get_args(ListenKind)
_COMMON = {"type", "note"}
_LISTENING = {"prompt", "slots", "barge_in", "listen", "keypad", "retries", "no_input_prompt", "no_match_prompt",
              "fallback"}
FIELDS: dict[str, set[str]] = {
    "say": {"prompt", "slots", "barge_in", "next"},
    "ask": _LISTENING | {"store", "append", "next", "options"},
    "menu": _LISTENING | {"options"},
    "collect": _LISTENING | {"store", "next"},
    "confirm": _LISTENING | {"yes", "no"},
    "classify": {"input", "routes", "on_error"},
    "switch": {"on", "cases", "default"},
    "set": {"values", "next"},
    "redirect": {"prompt", "slots", "barge_in", "next", "on_fail"},
    "transfer": {"kind", "target", "prompt", "slots", "barge_in", "on_fail"},
    "create_order": {"record", "urgency", "next", "on_error"},
    "hangup": {"prompt", "slots"},
    "goto": {"next"},
}
REQUIRED: dict[str, set[str]] = {
    "say": {"prompt", "next"}, "ask": {"prompt", "fallback"}, "menu": {"prompt", "options", "fallback"},
    "collect": {"prompt", "store", "next", "fallback"}, "confirm": {"prompt", "yes", "no", "fallback"},
    "classify": {"routes"}, "switch": {"on", "default"}, "set": {"values", "next"}, "redirect": {"next"},
    "transfer": {"kind", "on_fail"}, "create_order": {"next"}, "hangup": set(), "goto": {"next"},
}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    node: str | None
    message: str

    def __str__(self) -> str:
        where = f" node {self.node!r}:" if self.node else ""
        return f"{self.file}:{self.line}:{where} {self.message}"


class FlowError(Exception):
    """The flow file is invalid; ``problems`` lists every error found (file, line, node, message)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def fail(self, node: yaml.Node | None, name: str | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(Problem(self.file, line, name, message))

    def mapping(self, node: yaml.Node, name: str | None, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, name, f"{what}: expected a mapping")
            return []
        out: list[tuple[str, yaml.Node, yaml.Node]] = []
        seen: set[str] = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                self.fail(key, name, f"{what}: keys must be plain values")
                continue
            if key.value in seen:
                self.fail(key, name, f"{what}: duplicate key {key.value!r}")
            seen.add(key.value)
            out.append((str(key.value), key, value))
        return out

    def scalar(self, node: yaml.Node, name: str | None, what: str, conv: Callable[[Any], Any] = str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, name, f"{what}: expected a single value")
            return None
        if conv is str:  # keep the text as written: 'yes', 'no', '0' stay strings
            if node.tag.endswith(":null") or (node.style is None and node.value in ("", "~", "null")):
                self.fail(node, name, f"{what}: a value is required")
                return None
            return node.value
        value = yaml.safe_load(yaml.serialize(node))
        if conv is bool:
            if not isinstance(value, bool):
                self.fail(node, name, f"{what}: expected true or false, got {node.value!r}")
                return None
            return value
        if value is None:
            self.fail(node, name, f"{what}: a value is required")
            return None
        try:
            return conv(value)
        except (TypeError, ValueError):
            self.fail(node, name, f"{what}: invalid value {node.value!r}")
            return None

    def strings(self, node: yaml.Node, name: str | None, what: str) -> tuple[str, ...]:
        if isinstance(node, yaml.SequenceNode):
            return tuple(str(self.scalar(item, name, what)) for item in node.value)
        self.fail(node, name, f"{what}: expected a list")
        return ()

    def str_map(self, node: yaml.Node, name: str | None, what: str) -> dict[str, str]:
        return {k: str(self.scalar(v, name, f"{what}.{k}")) for k, _, v in self.mapping(node, name, what)}


def _positive(value: Any) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(value)
    return number


def _count(value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or not 0 <= int(value) <= 10:
        raise ValueError(value)
    return int(value)


def _listen(r: _Reader, node: yaml.Node, name: str) -> ListenConf:
    values: dict[str, Any] = {}
    for key, knode, vnode in r.mapping(node, name, "listen"):
        if key == "kind":
            kind = r.scalar(vnode, name, "listen.kind")
            if kind not in LISTEN_KINDS:
                r.fail(vnode, name, f"listen.kind: {kind!r} is not one of {', '.join(LISTEN_KINDS)}")
            else:
                values["kind"] = kind
        elif key in ("phrases", "hotwords"):
            values[key] = r.strings(vnode, name, f"listen.{key}")
        elif key in ("no_input_timeout", "end_silence", "max_utterance"):
            number = r.scalar(vnode, name, f"listen.{key}", _positive)
            if number is not None:
                values[key] = number
        else:
            r.fail(knode, name, f"listen: unknown field {key!r}")
    return ListenConf(**values)


def _keypad(r: _Reader, node: yaml.Node, name: str) -> KeypadConf:
    values: dict[str, Any] = {}
    for key, knode, vnode in r.mapping(node, name, "keypad"):
        if key == "max_digits":
            count = r.scalar(vnode, name, "keypad.max_digits", int)
            if count is not None and not 1 <= count <= 32:
                r.fail(vnode, name, "keypad.max_digits: must be 1..32")
            elif count is not None:
                values[key] = count
        elif key == "terminator":
            term = r.scalar(vnode, name, "keypad.terminator")
            if term not in ("#", "*"):
                r.fail(vnode, name, "keypad.terminator: must be '#' or '*'")
            else:
                values[key] = term
        elif key in ("inter_digit_timeout", "first_digit_timeout"):
            number = r.scalar(vnode, name, f"keypad.{key}", _positive)
            if number is not None:
                values[key] = number
        else:
            r.fail(knode, name, f"keypad: unknown field {key!r}")
    return KeypadConf(**values)


def _options(r: _Reader, node: yaml.Node, name: str) -> tuple[Option, ...]:
    out: list[Option] = []
    for key, knode, vnode in r.mapping(node, name, "options"):
        if key not in "0123456789*#" or len(key) != 1:
            r.fail(knode, name, f"options: key {key!r} must be one keypad key (0-9 * #)")
        if isinstance(vnode, yaml.ScalarNode):
            out.append(Option(key, str(r.scalar(vnode, name, f"options.{key}"))))
            continue
        target: str | None = None
        words: tuple[str, ...] = ()
        assign: dict[str, str] = {}
        for okey, oknode, ovnode in r.mapping(vnode, name, f"options.{key}"):
            if okey == "next":
                target = r.scalar(ovnode, name, f"options.{key}.next")
            elif okey == "words":
                words = r.strings(ovnode, name, f"options.{key}.words")
            elif okey == "set":
                assign = r.str_map(ovnode, name, f"options.{key}.set")
            else:
                r.fail(oknode, name, f"options.{key}: unknown field {okey!r}")
        if target is None:
            r.fail(vnode, name, f"options.{key}: 'next' is required")
            continue
        out.append(Option(key, target, words, assign))
    return tuple(out)


_SIMPLE: dict[str, Callable[[Any], Any]] = {
    "prompt": str, "next": str, "fallback": str, "yes": str, "no": str, "on_fail": str, "on_error": str,
    "store": str, "input": str, "target": str, "on": str, "default": str, "no_input_prompt": str,
    "no_match_prompt": str, "retries": _count,
}


def _node(r: _Reader, name: str, key: yaml.Node, node: yaml.Node) -> Node | None:
    fields = r.mapping(node, name, "node")
    by_key = {k: (kn, vn) for k, kn, vn in fields}
    if "type" not in by_key:
        if isinstance(node, yaml.MappingNode):
            r.fail(node, name, "missing 'type'")
        return None
    ntype = r.scalar(by_key["type"][1], name, "type")
    if ntype not in NODE_TYPES:
        r.fail(by_key["type"][1], name, f"unknown node type {ntype!r} (one of {', '.join(NODE_TYPES)})")
        return None
    allowed = FIELDS[ntype] | _COMMON
    values: dict[str, Any] = {}
    for field_name, (knode, vnode) in by_key.items():
        if field_name not in allowed:
            r.fail(knode, name, f"field {field_name!r} is not allowed in a {ntype} node")
        elif field_name in _SIMPLE:
            value = r.scalar(vnode, name, field_name, _SIMPLE[field_name])
            if value is not None:
                values[field_name] = value
        elif field_name in ("barge_in", "append"):
            flag = r.scalar(vnode, name, field_name, bool)
            if flag is not None:
                values[field_name] = flag
        elif field_name in ("slots", "values", "routes", "cases"):
            values[field_name] = r.str_map(vnode, name, field_name)
        elif field_name == "listen":
            values["listen"] = _listen(r, vnode, name)
        elif field_name == "keypad":
            values["keypad"] = _keypad(r, vnode, name)
        elif field_name == "options":
            values["options"] = _options(r, vnode, name)
        elif field_name == "kind":
            kind = r.scalar(vnode, name, "kind")
            if kind not in ("emergency", "agent", "redirect"):
                r.fail(vnode, name, f"kind: {kind!r} is not one of emergency, agent, redirect")
            values["kind"] = kind
        elif field_name == "record":
            record = r.scalar(vnode, name, "record")
            if record not in ("order", "unreasonable"):
                r.fail(vnode, name, f"record: {record!r} is not one of order, unreasonable")
            values["record"] = record
        elif field_name == "urgency":
            urgency = r.scalar(vnode, name, "urgency")
            if urgency not in ("normal", "urgent", "emergency"):
                r.fail(vnode, name, f"urgency: {urgency!r} is not one of normal, urgent, emergency")
            values["urgency"] = urgency
    for required in sorted(REQUIRED[ntype] - set(by_key)):
        r.fail(node, name, f"{ntype} node needs {required!r}")
    if ntype == "classify" and "routes" in by_key:
        for disp in values.get("routes", {}):
            if disp not in DISPOSITIONS:
                r.fail(by_key["routes"][1], name, f"routes: {disp!r} is not a disposition ({', '.join(DISPOSITIONS)})")
    try:
        return Node(name=name, type=cast(NodeType, ntype), line=key.start_mark.line + 1, **values)
    except TypeError as exc:
        r.fail(node, name, f"invalid node: {exc}")
        return None


def parse_flow(text: str, file: str) -> Flow:
    """Parse and validate flow YAML text; raises :class:`FlowError` listing every problem found."""
    r = _Reader(file)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise FlowError([Problem(file, line, None, f"invalid YAML: {getattr(exc, 'problem', exc)}")]) from exc
    if root is None:
        raise FlowError([Problem(file, 1, None, "empty flow file")])
    top = {k: (kn, vn) for k, kn, vn in r.mapping(root, None, "flow file")}
    for key, (knode, _) in top.items():
        if key not in ("flow", "start", "on_error", "globals", "nodes", "note", "on_hangup"):
            r.fail(knode, None, f"unknown top-level field {key!r}")
    for key in ("flow", "start", "nodes"):
        if key not in top:
            r.fail(root, None, f"missing top-level {key!r}")
    if r.problems:
        raise FlowError(r.problems)
    name = str(r.scalar(top["flow"][1], None, "flow"))
    start = str(r.scalar(top["start"][1], None, "start"))
    on_error = str(r.scalar(top["on_error"][1], None, "on_error")) if "on_error" in top else None
    globs = Globals()
    if "globals" in top:
        gvals: dict[str, Any] = {}
        for key, knode, vnode in r.mapping(top["globals"][1], None, "globals"):
            if key in ("keypad", "words"):
                gvals[key] = r.str_map(vnode, None, f"globals.{key}")
            elif key == "emergency":
                gvals[key] = r.scalar(vnode, None, "globals.emergency")
            else:
                r.fail(knode, None, f"globals: unknown field {key!r}")
        globs = Globals(**gvals)
    hangup_order = _hangup_order(r, top["on_hangup"][1]) if "on_hangup" in top else HangupOrder()
    nodes: dict[str, Node] = {}
    for node_name, knode, vnode in r.mapping(top["nodes"][1], None, "nodes"):
        parsed = _node(r, node_name, knode, vnode)
        if parsed is not None:
            nodes[node_name] = parsed
    _check_targets(r, nodes, top, start, on_error, globs)
    if r.problems:
        raise FlowError(r.problems)
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Flow(name=name, start=start, nodes=nodes, version=version, source=file, on_error=on_error, globals=globs,
                hangup_order=hangup_order)


def _hangup_order(r: _Reader, node: yaml.Node) -> HangupOrder:
    values: dict[str, Any] = {}
    for key, knode, vnode in r.mapping(node, None, "on_hangup"):
        if key == "order_when":
            values["when"] = {var: r.strings(vals, None, f"on_hangup.order_when.{var}")
                              for var, _, vals in r.mapping(vnode, None, "on_hangup.order_when")}
        elif key == "content":
            values["content"] = r.strings(vnode, None, "on_hangup.content")
        else:
            r.fail(knode, None, f"on_hangup: unknown field {key!r}")
    return HangupOrder(**values)


def _check_targets(r: _Reader, nodes: dict[str, Node], top: dict[str, tuple[yaml.Node, yaml.Node]], start: str,
                   on_error: str | None, globs: Globals) -> None:
    if start not in nodes:
        r.fail(top["start"][1], None, f"start: no node named {start!r}")
    if on_error is not None and on_error not in nodes:
        r.fail(top["on_error"][1], None, f"on_error: no node named {on_error!r}")
    extra = [("emergency", globs.emergency)] if globs.emergency else []
    for key, target in [*globs.keypad.items(), *globs.words.items(), *extra]:
        if target not in nodes:
            r.fail(top["globals"][1], None, f"globals {key!r}: no node named {target!r}")
    for node in nodes.values():
        for field_name, target in node.targets().items():
            if target not in nodes:
                r.problems.append(Problem(r.file, node.line, node.name,
                                          f"{field_name}: no node named {target!r} (dangling target)"))


def load_flow(path: str | Path) -> Flow:
    """Read and validate one flow file (raises :class:`FlowError`; an unreadable file is one problem)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError([Problem(file, 1, None, f"cannot read: {exc}")]) from exc
    return parse_flow(text, file)
