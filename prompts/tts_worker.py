"""The pyttsx3 process: ``python -m prompts.tts_worker`` reads JSON requests on stdin, answers on stdout.

pyttsx3's engine is a process-wide singleton on top of an espeak-ng library that can be initialised once per
process, so it lives here, one request at a time.  The quirks handled (pyttsx3 2.99, espeak-ng 1.51):

- an unknown voice id is swallowed (the error goes to an ``error`` notification nobody listens to) and the
  previous voice, English by default, speaks: the voice is looked up in the installed list first, its language
  must be an accepted one, the ``error`` topic is watched and the current voice is read back after the run;
- only the last ``save_to_file`` queued before ``runAndWait`` is written, and ``runAndWait`` with nothing
  queued never returns: exactly one ``save_to_file`` per ``runAndWait``;
- the driver ``print``s to stdout: the protocol uses a private copy of fd 1, fd 1 itself goes to /dev/null;
- espeak-ng runs the synthesis in its own thread, and on the first run ``runAndWait`` returns before the
  utterance is done: the ``finished-utterance`` notification (sent after the file is written) is awaited;
- ``setProperty`` outside the loop is queued in espeak-ng's command FIFO, and ``runAndWait`` then sees the
  engine "playing" and reports the new utterance as cancelled: properties are set only when they change and the
  worker waits until espeak-ng is idle before queuing the utterance;
- output is 22,050 Hz mono PCM16: the rate is read from the file, never assumed;
- a Latin run that is not pinyin makes espeak-ng switch to English mid-sentence: the text is converted to
  phonemes with the same voice and any ``(xx)`` language switch is refused.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
import time
import wave
from importlib.metadata import version
from pathlib import Path
from typing import Any, TextIO

_SWITCH_MARK = "("


class VoiceUnavailable(Exception):
    """The requested voice is not installed or does not speak an accepted language."""


class EngineStuck(RuntimeError):
    """espeak-ng did not finish an utterance: the worker answers, then exits so that a fresh one is started."""


class _Worker:
    def __init__(self) -> None:
        import pyttsx3
        from pyttsx3.drivers import _espeak

        self._espeak = _espeak
        self.engine = pyttsx3.init("espeak")
        self.errors: list[str] = []
        self.engine.connect("error", self._on_error)
        self.finished = threading.Event()
        self.completed = False
        self.props: tuple[str, int, float] | None = None
        self.engine.connect("finished-utterance", self._on_finished)
        self.voices: dict[str, list[str]] = {v.id: list(v.languages or []) for v in self.engine.getProperty("voices")}
        info = _espeak.dll.espeak_Info
        info.restype = ctypes.c_char_p
        info.argtypes = [ctypes.c_void_p]
        self.espeak_version = (info(None) or b"?").decode()
        phon = _espeak.dll.espeak_TextToPhonemes
        phon.restype = ctypes.c_char_p
        phon.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        self._phonemize = phon

    def _on_error(self, name: object = None, exception: object = None) -> None:
        self.errors.append(str(exception))

    def _on_finished(self, name: object = None, completed: object = None) -> None:
        self.completed = self.completed or bool(completed)
        self.finished.set()

    def wait_idle(self, timeout: float) -> None:
        """Wait until espeak-ng's synthesis thread is idle (pyttsx3 cancels the next utterance otherwise)."""
        deadline = time.monotonic() + timeout
        while self._espeak.IsPlaying():
            if time.monotonic() > deadline:
                raise RuntimeError("espeak-ng stayed busy with a previous utterance")
            time.sleep(0.002)

    def resolve(self, voice: str, accept: list[str]) -> str:
        wanted = voice.lower()
        found = [vid for vid in self.voices if vid == wanted or vid.rsplit("/", 1)[-1] == wanted]
        if not found:
            mandarin = sorted(vid for vid, langs in self.voices.items() if any("cmn" in x for x in langs))
            raise VoiceUnavailable(f"voice {voice!r} is not installed in espeak-ng (Mandarin voices here: {mandarin})")
        vid = found[0]
        langs = self.voices[vid]
        if accept and not any(lang in accept for lang in langs):
            raise VoiceUnavailable(
                f"voice {vid!r} speaks {langs}, not one of {accept}: it would not read the text as Mandarin "
                "(Debian's 'sit/cmn' reads Latin letters and tone digits in English; use 'sit/cmn-latn-pinyin')"
            )
        return vid

    def phonemes(self, text: str) -> str:
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        out: list[str] = []
        while ptr.value:
            res = self._phonemize(ctypes.byref(ptr), 1, 0)  # espeakCHARS_UTF8, ASCII phoneme names
            out.append((res or b"").decode("utf-8", "replace"))
        return " ".join(out)

    def synth(self, req: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._synth(req)
        except Exception:
            self.props = None  # the engine's state is unknown: set every property again next time
            raise

    def _synth(self, req: dict[str, Any]) -> dict[str, Any]:
        text = str(req["text"])
        path = Path(str(req["path"]))
        if not text.strip():
            raise ValueError("nothing to say: empty text")
        vid = self.resolve(str(req["voice"]), list(req.get("accept") or []))
        timeout = float(req.get("timeout", 30.0))
        props = (vid, int(req.get("rate", 170)), float(req.get("volume", 1.0)))
        if props != self.props:
            self.engine.setProperty("voice", vid)
            self.engine.setProperty("rate", props[1])
            self.engine.setProperty("volume", props[2])
            self.props = props
        self.wait_idle(timeout)
        self.errors.clear()
        self.finished.clear()
        self.completed = False
        path.unlink(missing_ok=True)
        self.engine.save_to_file(text, str(path))
        self.engine.runAndWait()
        deadline = time.monotonic() + timeout
        while not self.completed:
            left = deadline - time.monotonic()
            if left <= 0 or not self.finished.wait(left):
                raise EngineStuck("espeak-ng did not finish the utterance")
            if not self.completed:  # a spurious "cancelled" from the driver loop; the real end may follow
                self.finished.clear()
                deadline = min(deadline, time.monotonic() + 1.0)
        current = self.engine.getProperty("voice")
        if self.errors or current != vid:
            path.unlink(missing_ok=True)
            raise RuntimeError(f"espeak-ng did not switch to voice {vid!r} (current {current!r}): {self.errors}")
        phonemes = self.phonemes(text)
        if _SWITCH_MARK in phonemes:
            path.unlink(missing_ok=True)
            raise ValueError(f"voice {vid!r} would switch language for part of the text: {phonemes[:200]!r}")
        if not path.is_file() or path.stat().st_size <= 44:
            raise RuntimeError(f"pyttsx3 wrote no audio to {path}")
        with wave.open(str(path), "rb") as w:
            frames, rate = w.getnframes(), w.getframerate()
        if frames == 0:
            raise RuntimeError(f"pyttsx3 wrote an empty WAV file {path}")
        return {"ok": True, "voice": vid, "sample_rate": rate, "frames": frames}

    def phonemes_for(self, req: dict[str, Any]) -> dict[str, Any]:
        """espeak-ng's phonemes for ``text`` in ``voice`` (diagnostics and tests: Mandarin tones, no switch)."""
        vid = self.resolve(str(req["voice"]), [])
        self.wait_idle(10.0)
        self._espeak.SetVoiceByName(vid.encode())
        self.props = None  # the next synth sets its properties again
        self.wait_idle(10.0)
        return {"ok": True, "voice": vid, "phonemes": self.phonemes(str(req["text"]))}

    def info(self) -> dict[str, Any]:
        return {"ok": True, "espeak": self.espeak_version, "pyttsx3": version("pyttsx3"), "voices": self.voices}


def serve(inp: TextIO, out: TextIO) -> None:
    worker = _Worker()
    for line in inp:
        try:
            req = json.loads(line)
            if req.get("op") == "info":
                resp = worker.info()
            elif req.get("op") == "synth":
                resp = worker.synth(req)
            elif req.get("op") == "check":
                resp = {"ok": True, "voice": worker.resolve(str(req["voice"]), list(req.get("accept") or []))}
            elif req.get("op") == "phonemes":
                resp = worker.phonemes_for(req)
            else:
                resp = {"ok": False, "error": f"unknown op {req.get('op')!r}", "kind": "request"}
        except VoiceUnavailable as exc:
            resp = {"ok": False, "error": str(exc), "kind": "voice"}
        except Exception as exc:
            resp = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "kind": "synth"}
        out.write(json.dumps(resp, ensure_ascii=False) + "\n")
        out.flush()
        if resp.get("error", "").startswith(EngineStuck.__name__):
            return


def main() -> None:
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")
    serve(sys.stdin, proto)


if __name__ == "__main__":
    main()
