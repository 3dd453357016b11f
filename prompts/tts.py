"""Offline TTS: pyttsx3 on espeak-ng in a worker process (prompts.tts_worker), one request at a time.

:class:`EspeakTTS` is thread-safe (a lock around the worker), starts the worker lazily, restarts it once if it
died, and kills it when a request takes longer than ``timeout`` seconds.  Input is the text the voice reads
(tone-numbered pinyin by default, see prompts.pinyin); output is float32 mono samples and their rate.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
import numpy.typing as npt

from prompts.audio import read_wav

log = logging.getLogger(__name__)

PIPELINE_VERSION = "1"
PINYIN_LANGUAGES = ["cmn-latn-pinyin"]


class TTSError(RuntimeError):
    """Synthesis failed: unknown or non-Mandarin voice, engine error, no audio written, timeout."""


class VoiceError(TTSError):
    """The configured voice does not exist or would not speak Mandarin; nothing is synthesized."""


class Synthesizer(Protocol):
    @property
    def identity(self) -> str:
        """Engine + version + voice + rate + volume: part of the cache key."""
        ...

    @property
    def synth_count(self) -> int: ...

    def synthesize(self, text: str) -> tuple[npt.NDArray[np.float32], int]: ...

    def check(self) -> str:
        """Resolve the voice without synthesizing (VoiceError if it is missing or not Mandarin)."""
        ...

    def close(self) -> None: ...


@lru_cache(maxsize=1)
def espeak_version() -> str:
    try:
        out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, timeout=10, check=False)
        return out.stdout.split("Data at")[0].strip() or "espeak-ng ?"
    except (OSError, subprocess.SubprocessError):
        return "espeak-ng ?"


@lru_cache(maxsize=8)
def _pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def _terminate(popen: subprocess.Popen[str]) -> None:
    if popen.poll() is None:
        popen.kill()
        popen.wait(timeout=5)


@dataclass
class _Proc:
    popen: subprocess.Popen[str]
    stderr: IO[bytes]


class EspeakTTS:
    """pyttsx3 (espeak driver) in a child process; ``accept`` lists the voice languages allowed."""

    def __init__(
        self,
        voice: str = "sit/cmn-latn-pinyin",
        rate: int = 170,
        volume: float = 1.0,
        *,
        timeout: float = 30.0,
        accept: list[str] | None = None,
        python: str | None = None,
    ) -> None:
        self.voice = voice
        self.rate = rate
        self.volume = volume
        self.timeout = timeout
        self.accept = PINYIN_LANGUAGES if accept is None else accept
        self._python = python or sys.executable
        self._lock = threading.Lock()
        self._proc: _Proc | None = None
        self._count = 0

    @property
    def identity(self) -> str:
        return (
            f"pyttsx3 {_pkg_version('pyttsx3')}; {espeak_version()}; voice={self.voice.lower()}; rate={self.rate}; "
            f"volume={self.volume}; pipeline={PIPELINE_VERSION}"
        )

    @property
    def synth_count(self) -> int:
        return self._count

    def _start(self) -> _Proc:
        root = Path(__file__).resolve().parent.parent
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
        err = tempfile.TemporaryFile()
        popen = subprocess.Popen(
            [self._python, "-m", "prompts.tts_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            encoding="utf-8",
            env=env,
            cwd=str(root),
        )
        weakref.finalize(self, _terminate, popen)
        return _Proc(popen, err)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.popen.kill()
            proc.popen.wait(timeout=5)
        except (OSError, subprocess.SubprocessError):
            pass
        for stream in (proc.popen.stdin, proc.popen.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def _stderr_tail(self, proc: _Proc) -> str:
        try:
            proc.stderr.seek(0)
            return proc.stderr.read().decode("utf-8", "replace")[-800:]
        except (OSError, ValueError):
            return ""

    def _request(self, req: dict[str, Any]) -> dict[str, Any]:
        for attempt in (1, 2):
            if self._proc is None or self._proc.popen.poll() is not None:
                self._kill()
                self._proc = self._start()
            proc = self._proc
            assert proc.popen.stdin is not None and proc.popen.stdout is not None
            try:
                proc.popen.stdin.write(json.dumps(req, ensure_ascii=False) + "\n")
                proc.popen.stdin.flush()
                with selectors.DefaultSelector() as sel:
                    sel.register(proc.popen.stdout, selectors.EVENT_READ)
                    if not sel.select(self.timeout):
                        self._kill()
                        raise TTSError(f"TTS worker gave no answer within {self.timeout:.0f} s; killed it")
                line = proc.popen.stdout.readline()
            except (BrokenPipeError, OSError) as exc:
                line = ""
                log.warning("TTS worker pipe failed: %s", exc)
            if line:
                resp: dict[str, Any] = json.loads(line)
                return resp
            tail = self._stderr_tail(proc)
            self._kill()
            if attempt == 2:
                raise TTSError(f"TTS worker exited without an answer: {tail.strip() or 'no message'}")
            log.warning("TTS worker died (%s); restarting it once", tail.strip()[-200:])
        raise AssertionError("unreachable")

    def info(self) -> dict[str, Any]:
        with self._lock:
            return self._request({"op": "info"})

    def check(self) -> str:
        """Resolve the configured voice without synthesizing; raises VoiceError (e.g. at start-up)."""
        with self._lock:
            resp = self._request({"op": "check", "voice": self.voice, "accept": self.accept})
        if not resp.get("ok"):
            raise (VoiceError if resp.get("kind") == "voice" else TTSError)(str(resp.get("error")))
        return str(resp["voice"])

    def phonemes(self, text: str, voice: str | None = None) -> str:
        """espeak-ng's phoneme string for ``text`` (``(en)`` marks a switch to English, digits are tones)."""
        with self._lock:
            resp = self._request({"op": "phonemes", "text": text, "voice": voice or self.voice})
        if not resp.get("ok"):
            raise (VoiceError if resp.get("kind") == "voice" else TTSError)(str(resp.get("error")))
        return str(resp["phonemes"])

    def synthesize(self, text: str) -> tuple[npt.NDArray[np.float32], int]:
        """Samples in [-1, 1] and their rate (22,050 Hz with espeak-ng); raises TTSError / VoiceError."""
        with self._lock:
            path = Path(tempfile.gettempdir()) / f"hotline-tts-{os.getpid()}-{id(self):x}.wav"
            started = time.perf_counter()
            resp = self._request(
                {
                    "op": "synth",
                    "text": text,
                    "voice": self.voice,
                    "rate": self.rate,
                    "volume": self.volume,
                    "path": str(path),
                    "accept": self.accept,
                }
            )
            if not resp.get("ok"):
                cls = VoiceError if resp.get("kind") == "voice" else TTSError
                raise cls(str(resp.get("error")))
            self._count += 1
            try:
                samples, rate = read_wav(path.read_bytes())
            finally:
                path.unlink(missing_ok=True)
            if samples.size == 0:
                raise TTSError(f"empty audio for {text[:40]!r}")
            log.debug("synthesized %d samples in %.3f s", samples.size, time.perf_counter() - started)
            return samples, rate

    def close(self) -> None:
        with self._lock:
            self._kill()
