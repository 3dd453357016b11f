"""The in-memory form of a flow definition (see flows/README.md for the YAML format)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

NodeType = Literal["say", "ask", "menu", "collect", "confirm", "classify", "switch", "set", "redirect", "transfer",
                   "create_order", "hangup", "goto"]
ListenKind = Literal["free", "yes_no", "digits", "menu", "phone", "address", "time"]
TransferKind = Literal["emergency", "agent", "redirect"]
WAITING_TYPES = ("ask", "menu", "collect", "confirm")  # nodes that listen to the caller

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class ListenConf:
    kind: ListenKind = "free"
    phrases: tuple[str, ...] = ()
    hotwords: tuple[str, ...] = ()
    no_input_timeout: float = 6.0
    end_silence: float = 0.8
    max_utterance: float = 20.0


@dataclass(frozen=True)
class KeypadConf:
    max_digits: int = 1
    terminator: str | None = None  # "#" ends entry early
    inter_digit_timeout: float = 3.0
    first_digit_timeout: float = 6.0  # DTMF-only mode: no key within this -> NoInput


@dataclass(frozen=True)
class Option:
    """A menu choice: a key and/or words lead to ``target``; ``set`` assigns variables on the way."""

    key: str
    target: str
    words: tuple[str, ...] = ()
    set: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class Node:
    name: str
    type: NodeType
    line: int
    prompt: str | None = None
    slots: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # slot -> template over variables
    barge_in: bool = True
    next: str | None = None
    listen: ListenConf | None = None
    keypad: KeypadConf | None = None
    options: tuple[Option, ...] = ()
    routes: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # classify: disposition -> node
    on: str | None = None  # switch: variable name
    cases: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # switch: value -> node
    default: str | None = None
    store: str | None = None  # ask/collect: variable that receives the answer
    append: bool = False  # ask: append the answer to the variable instead of replacing it
    input: str = "utterance"  # classify: variable holding the caller's words
    retries: int = 2
    no_input_prompt: str = "reprompt.no_input"
    no_match_prompt: str = "reprompt.no_match"
    fallback: str | None = None  # after the retries: where the caller goes (keypad menu, agent ...)
    yes: str | None = None
    no: str | None = None
    kind: TransferKind = "agent"
    target: str | None = None  # transfer target template, e.g. "{channel_target}"
    on_fail: str | None = None
    record: Literal["order", "unreasonable"] = "order"
    urgency: Literal["normal", "urgent", "emergency"] | None = None
    on_error: str | None = None
    values: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # set: variable -> template

    def targets(self) -> dict[str, str]:
        """Every node name this node may continue to, keyed by the field that names it."""
        out: dict[str, str] = {}
        for name in ("next", "default", "fallback", "yes", "no", "on_fail", "on_error"):
            value = getattr(self, name)
            if value:
                out[name] = value
        for opt in self.options:
            out[f"options.{opt.key}"] = opt.target
        for key, value in self.routes.items():
            out[f"routes.{key}"] = value
        for key, value in self.cases.items():
            out[f"cases.{key}"] = value
        return out

    def prompt_ids(self) -> list[str]:
        ids = [self.prompt] if self.prompt else []
        if self.type in WAITING_TYPES:
            ids += [self.no_input_prompt, self.no_match_prompt]
        return ids


@dataclass(frozen=True)
class Globals:
    """Keys and words that work in every listening step (0 / 人工 = agent) unless the step uses them itself."""

    keypad: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    words: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    emergency: str | None = None  # node for an emergency heard in any later free answer (never missed mid-call)


@dataclass(frozen=True)
class HangupOrder:
    """When a caller's hang-up still creates an order (callback requested): every ``when`` variable has one of its
    values and one of the ``content`` variables is not empty.  Flow file: ``on_hangup: {order_when: {...},
    content: [...]}``; the defaults are the 12345 rule (an accepted or emergency matter with the caller's words)."""

    when: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({"disposition": ("accept", "emergency")}))
    content: tuple[str, ...] = ("utterance", "description")

    def applies(self, variables: Mapping[str, str]) -> bool:
        return all(variables.get(name, "") in values for name, values in self.when.items()) and any(
            variables.get(name) for name in self.content)


@dataclass(frozen=True)
class Flow:
    name: str
    start: str
    nodes: Mapping[str, Node]
    version: str  # content hash of the file
    source: str  # file path
    on_error: str | None = None
    globals: Globals = Globals()
    node_lines: Mapping[str, int] = field(default_factory=dict)
    hangup_order: HangupOrder = field(default_factory=HangupOrder)

    def node(self, name: str) -> Node:
        return self.nodes[name]

    def where(self, node: str) -> str:
        return f"{self.source}:{self.nodes[node].line}: node {node!r}" if node in self.nodes else self.source
