"""Per-step grammars and their check against the model's vocabulary.

Vosk drops grammar words that are not in the model without failing, so every phrase is checked with
``vosk_model_find_word``.  A Chinese phrase that is not one vocabulary word is segmented into vocabulary words by
forward maximum matching (好的 → 好 的 when only the single characters exist); what cannot be covered is reported
as missing.  The model's unknown token (``[unk]`` or ``<UNK>``, it differs by model) is appended so that speech
outside the grammar comes out as unknown (→ NoMatch) instead of being forced onto the nearest phrase.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from asr.api import ListenSpec

YES_WORDS = ("是", "是的", "对", "对的", "好", "好的", "没错", "可以", "嗯对", "行", "确认")
NO_WORDS = ("不是", "不对", "错了", "不用", "不要", "不行", "不可以", "没有")
DIGIT_WORDS = ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "幺", "两")
AGENT_WORDS = ("人工", "转人工", "人工服务")
MENU_WORDS = ("一", "二", "三", "九", "零", "反映问题", "咨询", "投诉", "重听", "人工")

HasWord = Callable[[str], bool]


def phrases_for(spec: ListenSpec) -> tuple[str, ...] | None:
    """The grammar phrases of a step (None = free-form)."""
    extra = tuple(spec.grammar or ())
    if spec.kind == "yes_no":
        return YES_WORDS + NO_WORDS + AGENT_WORDS + extra
    if spec.kind in ("digits", "phone"):
        return DIGIT_WORDS + extra
    if spec.kind == "menu":
        return extra or MENU_WORDS
    return extra or None


def segment(phrase: str, has_word: HasWord, max_len: int = 8) -> tuple[list[str], list[str]]:
    """Split ``phrase`` into vocabulary words; returns (words, missing pieces)."""
    words: list[str] = []
    missing: list[str] = []
    for chunk in phrase.split():
        if has_word(chunk):
            words.append(chunk)
            continue
        if not all(_is_cjk(ch) for ch in chunk):
            missing.append(chunk)  # only Chinese is segmented; other scripts must be whole vocabulary words
            continue
        i = 0
        while i < len(chunk):
            for j in range(min(len(chunk), i + max_len), i, -1):
                if has_word(chunk[i:j]):
                    words.append(chunk[i:j])
                    i = j
                    break
            else:
                missing.append(chunk[i])
                i += 1
    return words, missing


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


@dataclass(frozen=True)
class CompiledGrammar:
    phrases: tuple[str, ...]  # as Vosk gets them: vocabulary words separated by spaces, unk token last
    missing: tuple[str, ...] = field(default=())  # words/characters of the requested phrases not in the model
    dropped: tuple[str, ...] = field(default=())  # requested phrases that could not be used at all


def compile_grammar(phrases: Iterable[str], has_word: HasWord, unk: str | None) -> CompiledGrammar:
    out: list[str] = []
    missing: list[str] = []
    dropped: list[str] = []
    for phrase in dict.fromkeys(p.strip() for p in phrases if p and p.strip()):
        words, miss = segment(phrase, has_word)
        if miss:
            missing.extend(m for m in miss if m not in missing)
            dropped.append(phrase)
            continue
        joined = " ".join(words)
        if joined not in out:
            out.append(joined)
    if unk:
        out.append(unk)
    return CompiledGrammar(tuple(out), tuple(missing), tuple(dropped))


def check_vocabulary(groups: Mapping[str, Sequence[str]], has_word: HasWord) -> dict[str, list[str]]:
    """Missing words per group (``yes_no``, ``digits``, hotword groups …); groups with nothing missing are left out."""
    report: dict[str, list[str]] = {}
    for name, phrases in groups.items():
        compiled = compile_grammar(phrases, has_word, None)
        if compiled.missing:
            report[name] = list(compiled.missing)
    return report


def builtin_groups() -> dict[str, Sequence[str]]:
    return {"yes_no": YES_WORDS + NO_WORDS, "digits": DIGIT_WORDS, "agent": AGENT_WORDS, "menu": MENU_WORDS}
