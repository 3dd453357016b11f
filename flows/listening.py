"""Listening steps (ask, menu, collect, confirm): what to listen for and what the caller's answer means."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from asr.api import ListenSpec
from flows import answers
from flows.events import Digits, Listen, NoInput, NoMatch, Recognized
from flows.model import Globals, KeypadConf, Node

YES_NO_KEYPAD = KeypadConf(max_digits=1)
GLOBAL_KEYPAD = KeypadConf(max_digits=1)
DIGIT_WORDS = {"一": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8",
               "九": "9", "零": "0", "幺": "1"}


@dataclass(frozen=True)
class Outcome:
    target: str | None  # None: no usable answer (reprompt / fallback)
    values: Mapping[str, str] = field(default_factory=dict)


NO_ANSWER = Outcome(None)


def keypad_for(node: Node) -> KeypadConf | None:
    if node.keypad is not None:
        return node.keypad
    if node.type == "confirm" or node.options:
        return YES_NO_KEYPAD
    return None


def listen_action(node: Node, speech: bool) -> Listen | None:
    """The Listen action of a step; None in DTMF-only mode when the step cannot be answered by keys."""
    keypad = keypad_for(node)
    if not speech and keypad is None:
        return None
    keypad = keypad or GLOBAL_KEYPAD  # global keys (0 = agent) work in every step
    conf = node.listen
    kind = conf.kind if conf else ("yes_no" if node.type == "confirm" else "menu" if node.type == "menu" else "free")
    phrases: tuple[str, ...] | None = tuple(conf.phrases) if conf and conf.phrases else None
    if node.type == "menu" and phrases is None:
        phrases = tuple(w for opt in node.options for w in opt.words) or None
    spec = ListenSpec(
        grammar=phrases,
        hotwords=conf.hotwords if conf else (),
        no_input_timeout=conf.no_input_timeout if conf else 6.0,
        end_silence=conf.end_silence if conf else 0.8,
        max_utterance=conf.max_utterance if conf else 20.0,
        barge_in=node.barge_in,
        kind=kind,
    )
    return Listen(spec=spec, keypad=keypad, speech=speech)


def _global(node: Node, event: Recognized | Digits, globs: Globals) -> str | None:
    """A global key (0 = agent) or word (人工) unless this step uses it itself."""
    if isinstance(event, Digits):
        digit_entry = node.type == "collect" or (node.keypad is not None and node.keypad.max_digits > 1)
        if digit_entry or any(opt.key == event.digits for opt in node.options):
            return None
        return globs.keypad.get(event.digits)
    own_words = {w for opt in node.options for w in opt.words}
    for word, target in globs.words.items():
        if word not in own_words and answers.is_short_command(event.text, word):
            return target
    return None


def interpret(node: Node, event: Recognized | Digits | NoInput | NoMatch, variables: Mapping[str, str],
              globs: Globals, caller: str) -> Outcome:
    if isinstance(event, NoInput | NoMatch):
        return NO_ANSWER
    if isinstance(event, Recognized) and not event.text.strip():
        return NO_ANSWER
    if isinstance(event, Digits) and not event.digits:
        return NO_ANSWER
    target = _global(node, event, globs)
    if target is not None:
        return Outcome(target)
    if node.type == "confirm":
        return _confirm(node, event)
    if node.type == "collect":
        return _collect(node, event, variables, caller)
    chosen = _option(node, event)
    if chosen is not None:
        return chosen
    if node.type == "menu" or isinstance(event, Digits):
        return NO_ANSWER
    text = event.text
    store = node.store or "answer"
    value = f"{variables.get(store, '')} {text}".strip() if node.append else text
    return Outcome(node.next, {store: value, "last_text": text})


def _option(node: Node, event: Recognized | Digits) -> Outcome | None:
    if isinstance(event, Digits):
        key = event.digits[:1]
        for opt in node.options:
            if opt.key == key:
                return Outcome(opt.target, dict(opt.set))
        return None
    if event.low_confidence and node.type == "menu":
        return None
    body = answers.core(event.normalized or event.text)
    for opt in node.options:
        if any(word in body for word in opt.words):
            return Outcome(opt.target, dict(opt.set))
    if node.type == "menu" and len(body) <= 3:  # "一" / "按一" / "1" said as the key
        for ch in body:
            key = DIGIT_WORDS.get(ch, ch)
            for opt in node.options:
                if opt.key == key:
                    return Outcome(opt.target, dict(opt.set))
    return None


def _confirm(node: Node, event: Recognized | Digits) -> Outcome:
    if isinstance(event, Digits):
        answer = {"1": True, "2": False}.get(event.digits[:1])
    elif event.low_confidence:
        answer = None
    else:
        answer = answers.yes_or_no(event.text)
    if answer is None:
        return NO_ANSWER
    return Outcome(node.yes if answer else node.no)


def _collect(node: Node, event: Recognized | Digits, variables: Mapping[str, str], caller: str) -> Outcome:
    store = node.store or "answer"
    kind = node.listen.kind if node.listen else "free"
    if kind in ("phone", "digits"):
        if isinstance(event, Digits):
            raw = event.digits
            value = answers.valid_phone(raw) if kind == "phone" else (raw if raw.isdigit() else None)
        else:
            value = answers.phone_number(event.normalized or event.text, caller) if kind == "phone" else (
                "".join(ch for ch in (event.normalized or event.text) if ch.isdigit()) or None)
        return Outcome(node.next, {store: value}) if value else NO_ANSWER
    if isinstance(event, Digits):
        return NO_ANSWER
    text = answers.normalized(event.text, kind)
    if len(answers.core(text)) < 2:  # "嗯" / "啊" is not an address or a time
        return NO_ANSWER
    values = {store: text}
    if kind == "address":
        district, street = answers.district_and_street(text)
        if district and not variables.get("district"):
            values["district"] = district
        if street and not variables.get("street"):
            values["street"] = street
    return Outcome(node.next, values)
