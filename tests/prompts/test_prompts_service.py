"""PromptService against the real pyttsx3 + espeak-ng (no mocks): rendering, caches, overrides, voice checks."""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from config.prompts import PromptsConfig
from prompts.audio import read_wav, telephone
from prompts.cli import register
from prompts.service import PromptService, Rendered, frame_pad
from prompts.tts import EspeakTTS, TTSError, VoiceError

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

READBACK = {"category": "路灯", "address": "朝阳区建国路88号", "time": "昨天晚上8点", "phone": "13812345678"}
HAN = re.compile(r"[\u4e00-\u9fff]")


def _service(cache: Path, catalogue: Path | None = None, recordings: Path | None = None, **kw: object) -> PromptService:
    cfg = PromptsConfig(
        cache_dir=str(cache),
        catalogue_dir=str(catalogue) if catalogue else None,
        recordings_dir=str(recordings) if recordings else None,
        hold_music_seconds=5.0,
        **kw,  # type: ignore[arg-type]
    )
    return PromptService.from_config(cfg)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompt-cache")


@pytest.fixture(scope="session")
def rendered(cache_dir: Path) -> Iterator[tuple[PromptService, list[Rendered]]]:
    svc = _service(cache_dir)
    try:
        yield svc, svc.render_all()
    finally:
        svc.close()


def _check_speech(svc: PromptService, pcm: bytes, spoken: str) -> None:
    assert pcm and len(pcm) % 320 == 0
    seconds = len(pcm) / 16000
    chars = len(HAN.findall(spoken))
    assert chars / 7.0 <= seconds <= chars / 2.0 + 1.0, (spoken, seconds)  # measured ~3.8 characters per second
    x = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768
    assert np.max(np.abs(x)) == pytest.approx(10 ** (-3 / 20), abs=0.02)
    assert np.sqrt(np.mean(x**2)) > 0.03


def test_every_catalogue_prompt_renders_to_plausible_8k_audio(rendered: tuple[PromptService, list[Rendered]]) -> None:
    svc, done = rendered
    static = [pid for pid in svc.catalogue.ids() if not svc.catalogue.get(pid).slots]
    assert sorted(r.prompt_id for r in done) == static
    assert {r.source for r in done} <= {"tts", "generator"}
    for r in done:
        pcm = svc.audio(r.prompt_id)
        if r.prompt_id == "hold.music":
            assert r.seconds == pytest.approx(5.0, abs=0.03)
            continue
        _check_speech(svc, pcm, svc.spoken_text(r.prompt_id))


@pytest.mark.parametrize(
    ("prompt_id", "slots"),
    [
        ("confirm.readback", READBACK),
        ("callback.promise", {"order_no": "GD2026112800001"}),
        ("order.created", {"order_no": "20261128001"}),
        ("whisper.agent", {"request_type": "投诉", "category": "噪音", "district": "海淀区", "urgency": "一般",
                           "repeat_note": "老户，已有2张工单"}),
    ],
)  # fmt: skip
def test_dynamic_prompts_render_with_slots(
    rendered: tuple[PromptService, list[Rendered]], prompt_id: str, slots: dict[str, str]
) -> None:
    svc, _ = rendered
    assert "{" not in svc.text(prompt_id, slots)
    spoken = svc.spoken_text(prompt_id, slots)
    assert not re.search(r"[0-9A-Za-z]", spoken)
    _check_speech(svc, svc.audio(prompt_id, slots), spoken)


def test_slot_values_are_read_by_kind(rendered: tuple[PromptService, list[Rendered]]) -> None:
    svc, _ = rendered
    spoken = svc.spoken_text("confirm.readback", READBACK)
    assert "联系电话幺三八，幺二三四，五六七八" in spoken and "建国路八十八号" in spoken and "晚上八点" in spoken
    assert "吉迪二零二六幺幺二八零零零零幺" in svc.spoken_text("callback.promise", {"order_no": "GD2026112800001"})
    with pytest.raises(KeyError, match="order_no"):
        svc.audio("callback.promise", {})


def test_greeting_is_pcm16_8k_frames_for_call_play(rendered: tuple[PromptService, list[Rendered]]) -> None:
    svc, _ = rendered
    pcm = svc.audio("greeting")
    assert isinstance(pcm, bytes) and len(pcm) % 320 == 0 and len(pcm) > 16000 * 3
    assert svc.audio_encoded("greeting", encoding="ulaw") != svc.audio_encoded("greeting", encoding="alaw")
    assert len(svc.audio_encoded("greeting", encoding="alaw")) == len(pcm) // 2


def test_cache_hits_do_not_synthesize(rendered: tuple[PromptService, list[Rendered]], cache_dir: Path) -> None:
    svc, _ = rendered
    before = svc.tts.synth_count
    for pid in ("greeting", "goodbye", "hold.music", "menu.keypad"):
        svc.audio(pid)
        assert svc.last_source == "memory"
    first = svc.say("您反映的问题我们已经记录，编号A7")
    second = svc.say("您反映的问题我们已经记录，编号A7")
    assert first == second and svc.tts.synth_count == before + 1
    fresh = _service(cache_dir)  # new process state, same disk cache: no synthesis, the worker never starts
    try:
        assert fresh.audio("greeting") == svc.audio("greeting")
        assert fresh.last_source == "cache"
        assert fresh.say("您反映的问题我们已经记录，编号A7") == first
        assert fresh.tts.synth_count == 0 and getattr(fresh.tts, "_proc", None) is None
        started = time.perf_counter()
        for _ in range(200):
            fresh.audio("greeting")
        assert (time.perf_counter() - started) / 200 < 0.005  # bench/prompts_bench.py reports the real figure
    finally:
        fresh.close()


def test_concurrent_callers_share_one_synthesis(rendered: tuple[PromptService, list[Rendered]]) -> None:
    svc, _ = rendered
    before = svc.tts.synth_count
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(svc.say("请您稍候，马上为您查询。"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert svc.tts.synth_count == before + 1


def test_async_wrapper_does_not_block_the_loop(rendered: tuple[PromptService, list[Rendered]]) -> None:
    svc, _ = rendered

    async def main() -> tuple[bytes, int]:
        ticks = 0
        task = asyncio.ensure_future(svc.say_async("这是一段用来测试异步合成的比较长的句子，请您耐心等待合成完成。"))
        while not task.done():
            ticks += 1
            await asyncio.sleep(0.001)
        return await task, ticks

    pcm, ticks = asyncio.run(main())
    assert pcm and ticks >= 1
    assert asyncio.run(svc.audio_async("greeting")) == svc.audio("greeting")


def test_recorded_override_wins_and_missing_recording_falls_back(tmp_path: Path) -> None:
    sox = shutil.which("sox")
    if sox is None:
        pytest.skip("sox not installed")
    cat_dir, rec_dir = tmp_path / "cat", tmp_path / "rec"
    cat_dir.mkdir()
    rec_dir.mkdir()
    (cat_dir / "call.yaml").write_text(
        "prompts:\n  greeting:\n    text: 您好\n    audio: greeting.wav\n"
        "  goodbye:\n    text: 再见\n    audio: missing.wav\n",
        encoding="utf-8",
    )
    subprocess.run(  # an operator's recording: 44.1 kHz stereo 24-bit
        [sox, "-n", "-r", "44100", "-c", "2", "-b", "24", str(rec_dir / "greeting.wav"), "synth", "1.5", "sine", "500"],
        check=True,
    )
    svc = _service(tmp_path / "cache", cat_dir, rec_dir)
    try:
        pcm = svc.audio("greeting")
        assert svc.last_source == "recording" and svc.tts.synth_count == 0
        samples, rate = read_wav((rec_dir / "greeting.wav").read_bytes())
        assert pcm == frame_pad(telephone(samples, rate))
        assert len(pcm) == 1.5 * 16000
        bye = svc.audio("goodbye")  # the recording is missing: TTS keeps the call going (and logs an error)
        assert bye and svc.last_source == "tts" and svc.tts.synth_count == 1
        sources = {r.prompt_id: r.source for r in svc.render_all(force=True)}
        assert sources == {"greeting": "recording", "goodbye": "tts"}
    finally:
        svc.close()


@pytest.mark.parametrize("voice", ["xx-no-such-voice", "sit/cmn", "gmw/en-us"])
def test_unknown_or_non_mandarin_voice_is_a_clear_error_and_no_audio(tmp_path: Path, voice: str) -> None:
    svc = _service(tmp_path / "cache", voice=voice)
    try:
        with pytest.raises(VoiceError, match=re.escape(voice)):
            svc.audio("greeting")
        with pytest.raises(VoiceError):
            svc.check()
        assert svc.tts.synth_count == 0
        assert not list((tmp_path / "cache").rglob("*.pcm"))
    finally:
        svc.close()


def test_voice_reads_mandarin_never_english(rendered: tuple[PromptService, list[Rendered]]) -> None:
    svc, _ = rendered
    tts = svc.tts
    assert isinstance(tts, EspeakTTS)
    phonemes = tts.phonemes(svc.voice_input(svc.spoken_text("greeting")))
    assert "(" not in phonemes  # no language switch
    assert re.search(r"214|35|51|55", phonemes)  # Mandarin tone contours
    assert "(en)" in tts.phonemes("nin2 hao3", "sit/cmn")  # why 'sit/cmn' is refused
    with pytest.raises(TTSError, match="switch language"):
        tts.synthesize("hello world")
    lenient = EspeakTTS("sit/cmn", accept=["cmn"])  # even if an operator allows 'cmn', no English comes out
    try:
        with pytest.raises(TTSError, match="switch language"):
            lenient.synthesize("nin2 hao3")
        assert lenient.synth_count == 0
    finally:
        lenient.close()
    assert svc.check() == "sit/cmn-latn-pinyin"


def test_characters_input_mode_also_speaks(tmp_path: Path) -> None:
    svc = _service(tmp_path / "cache", text_input="characters")
    try:
        pcm = svc.say("您好，请您稍候。")
        assert len(pcm) / 16000 > 1.0
    finally:
        svc.close()


def test_worker_restarts_after_a_crash(rendered: tuple[PromptService, list[Rendered]]) -> None:
    svc, _ = rendered
    tts = svc.tts
    assert isinstance(tts, EspeakTTS)
    svc.say("先合成一句话。")
    assert tts._proc is not None
    tts._proc.popen.kill()
    tts._proc.popen.wait()
    assert svc.say("工作进程重启以后继续合成。")


def test_nothing_speakable_is_a_clear_error(rendered: tuple[PromptService, list[Rendered]]) -> None:
    svc, _ = rendered
    with pytest.raises(TTSError, match="nothing speakable"):
        svc.say("!!! ...")


def test_cli_list_render_say(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_PROMPTS__CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("HOTLINE_PROMPTS__HOLD_MUSIC_SECONDS", "5")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))

    def run(*argv: str) -> int:
        args = parser.parse_args(["prompts", *argv])
        return int(args.func(args))

    assert run("list") == 0
    out = capsys.readouterr().out
    assert "greeting\ttts" in out and "hold.music\thold_music" in out
    assert run("render") == 0
    assert "cache" in capsys.readouterr().out  # already rendered by the session fixture
    wav = tmp_path / "say.wav"
    assert run("say", "您的工单号是GD2026001，请记录。", "-o", str(wav)) == 0
    samples, rate = read_wav(wav.read_bytes())
    assert rate == 8000 and samples.size > 8000
    assert run("say", "您好", "-o", str(wav), "--encoding", "ulaw") == 0
    assert wav.read_bytes()[20:22] == (7).to_bytes(2, "little")
    assert run("say", "???", "-o", str(wav)) == 1


def test_worker_answers_bad_requests_and_keeps_working(rendered: tuple[PromptService, list[Rendered]]) -> None:
    svc, _ = rendered
    tts = svc.tts
    assert isinstance(tts, EspeakTTS)
    assert tts._request({"op": "nope"}) == {"ok": False, "error": "unknown op 'nope'", "kind": "request"}
    assert tts._request({"op": "synth", "voice": "sit/cmn-latn-pinyin"})["error"] == "KeyError: 'text'"
    with pytest.raises(TTSError, match="empty text"):
        tts.synthesize("   ")
    assert tts.synthesize("hao3 de5")[1] == 22050  # pyttsx3's espeak driver output rate, read from the file
