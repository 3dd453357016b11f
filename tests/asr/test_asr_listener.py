"""Listener edges isolated with a fake recognizer and a fake VAD (the real model is in test_asr_vosk)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from asr.api import BargeIn, ListenSpec, NoMatch, Recognized, SpeechStarted
from asr.executor import DecodeExecutor
from asr.grammar import compile_grammar
from asr.listener import Decoding, VoskListener
from asr.pool import RecognizerPool
from tests.kit.asr import FakeModel, FakeVad, collect, drive

SPEECH = b"\x10\x20" * 160  # any non-zero frame is "speech" for the fake VAD
QUIET = bytes(320)


@pytest.fixture()
def setup() -> Iterator[tuple[FakeModel, Decoding]]:
    model = FakeModel()
    executor = DecodeExecutor(1)
    dec = Decoding(
        free_pool=RecognizerPool(model, 1, grammar=False),
        grammar_pool=RecognizerPool(model, 1, grammar=True),
        executor=executor,
        compile=lambda phrases: compile_grammar(phrases, model.has_word, model.unk),
        make_vad=FakeVad,
    )
    yield model, dec
    executor.shutdown(wait=True)


def utterance(seconds: float) -> bytes:
    return SPEECH * round(seconds / 0.02)


def quiet(seconds: float) -> bytes:
    return QUIET * round(seconds / 0.02)


def test_silence_is_not_decoded(setup: tuple[FakeModel, Decoding]) -> None:
    model, dec = setup
    listener = VoskListener(dec)
    listener.listen(ListenSpec(end_silence=0.8), 0.0)
    drive(listener, quiet(5.0) + utterance(1.0) + quiet(5.0))
    events = collect(listener)
    assert [type(e) for e in events][-1] is Recognized
    rec = events[-1]
    assert isinstance(rec, Recognized) and rec.result.text == "我要投诉" and rec.result.confidence == 0.9
    # 1 s of speech + at most 0.3 s of pre-roll + 0.3 s kept of the trailing pause, not the 10 s of silence
    assert 1.3 * 16000 <= model.decoded <= 1.62 * 16000
    assert dec.free_pool.idle == 1


def test_decoder_failure_is_no_match_not_a_crash(setup: tuple[FakeModel, Decoding]) -> None:
    model, dec = setup
    model.fail = True
    listener = VoskListener(dec)
    listener.listen(ListenSpec(), 0.0)
    drive(listener, quiet(0.5) + utterance(0.6) + quiet(1.5))
    events = collect(listener)
    assert isinstance(events[0], SpeechStarted) and isinstance(events[-1], NoMatch)
    assert dec.free_pool.idle == 1  # the recognizer went back to the pool


def test_cancel_mid_utterance_returns_the_recognizer(setup: tuple[FakeModel, Decoding]) -> None:
    _model, dec = setup
    listener = VoskListener(dec)
    listener.listen(ListenSpec(), 0.0)
    now = drive(listener, quiet(0.2) + utterance(0.6))
    listener.cancel()
    drive(listener, utterance(0.5) + quiet(2.0), now)
    events = collect(listener)
    assert [type(e) for e in events] == [SpeechStarted, BargeIn]  # nothing after the cancel
    assert dec.free_pool.idle == 1


def test_grammar_is_set_per_utterance(setup: tuple[FakeModel, Decoding]) -> None:
    model, dec = setup
    model.text = "是"
    listener = VoskListener(dec)
    listener.listen(ListenSpec(kind="yes_no"), 0.0)
    drive(listener, quiet(0.2) + utterance(0.4) + quiet(1.0))
    rec = [e for e in collect(listener) if isinstance(e, Recognized)]
    assert rec and rec[0].result.grammar and model.grammars[-1][-1] == "[unk]" and "不是" in model.grammars[-1]


def test_waiting_for_a_recognizer_then_cancelled(setup: tuple[FakeModel, Decoding]) -> None:
    _model, dec = setup
    first, second = VoskListener(dec), VoskListener(dec)
    for lst in (first, second):
        lst.listen(ListenSpec(), 0.0)
    drive(first, quiet(0.1) + utterance(0.3))
    drive(second, quiet(0.1) + utterance(0.3))
    assert dec.free_pool.waiting == 1  # pool of one: the second caller waits
    second.close()
    assert dec.free_pool.waiting == 0
    drive(first, quiet(1.0), 0.4)
    assert any(isinstance(e, Recognized) for e in collect(first))
    assert second.wait_decoded(1.0)


def test_next_event_wakes_up_from_the_decoder_thread(setup: tuple[FakeModel, Decoding]) -> None:
    _model, dec = setup
    listener = VoskListener(dec)

    async def scenario() -> list[type]:
        listener.listen(ListenSpec(end_silence=0.3), 0.0)
        drive(listener, utterance(0.5) + quiet(0.5))
        first = await asyncio.wait_for(listener.next_event(), 5)
        second = await asyncio.wait_for(listener.next_event(), 5)
        third = await asyncio.wait_for(listener.next_event(), 5)
        return [type(first), type(second), type(third)]

    assert asyncio.run(scenario())[-1] is Recognized


def test_listeners_are_prompt_aware(setup: tuple[FakeModel, Decoding]) -> None:
    from asr.api import PromptAwareListener
    from asr.service import DtmfOnlySpeechService

    assert isinstance(VoskListener(setup[1]), PromptAwareListener)
    assert isinstance(DtmfOnlySpeechService("test").open_listener(), PromptAwareListener)


def test_grammar_with_nothing_in_the_model_falls_back_to_free_form(setup: tuple[FakeModel, Decoding]) -> None:
    model, dec = setup
    dec.compile = lambda phrases: compile_grammar(phrases, lambda w: False, None)
    listener = VoskListener(dec)
    listener.listen(ListenSpec(grammar=("投诉",), kind="menu"), 0.0)
    drive(listener, quiet(0.2) + utterance(0.5) + quiet(1.0))
    rec = [e for e in collect(listener) if isinstance(e, Recognized)]
    assert rec and not rec[0].result.grammar and model.grammars == []
