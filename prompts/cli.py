"""Sub-commands of this component for the ``hotline`` CLI (see hotline/cli.py).

- ``hotline prompts list [--ids]``            ids, slots, barge-in, source (recording/generator/tts) and text
- ``hotline prompts render [--force]``        render every prompt without slots into the disk cache
- ``hotline prompts say "文本" -o out.wav``   synthesize any text (``--rate 8000`` default; ``--encoding ulaw``)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from prompts.audio import TELEPHONE_RATE, encode, read_wav, resample, to_pcm16, wav_bytes
from prompts.catalogue import CatalogueError
from prompts.tts import TTSError


def _service() -> Any:
    from prompts.service import PromptService

    return PromptService.from_config()


def _list(args: argparse.Namespace) -> int:
    try:
        svc = _service()
    except CatalogueError as exc:
        print(f"hotline prompts: {exc}", file=sys.stderr)
        return 2
    with svc:
        for pid in svc.catalogue.ids():
            if args.ids:
                print(pid)
                continue
            p = svc.catalogue.get(pid)
            path = svc.recording_path(p)
            source = "recording" if path is not None and path.is_file() else (p.generator or "tts")
            if path is not None and not path.is_file():
                source += f" (recording {p.audio} missing)"
            slots = ",".join(p.slot_names) or "-"
            print(f"{pid}\t{source}\tbarge_in={'yes' if p.barge_in else 'no'}\tslots={slots}\t{p.text}")
    return 0


def _render(args: argparse.Namespace) -> int:
    try:
        svc = _service()
    except CatalogueError as exc:
        print(f"hotline prompts: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with svc:
        try:
            done = svc.render_all(force=args.force)
        except TTSError as exc:
            print(f"hotline prompts render: {exc}", file=sys.stderr)
            return 1
        for r in done:
            print(f"{r.prompt_id}\t{r.source}\t{r.seconds:.2f} s")
        total = sum(r.seconds for r in done)
        elapsed = time.perf_counter() - started
        print(
            f"{len(done)} prompts, {total:.1f} s of audio in {elapsed:.2f} s; cache {svc.disk.directory}",
            file=sys.stderr,
        )
    return 0


def _say(args: argparse.Namespace) -> int:
    try:
        svc = _service()
    except CatalogueError as exc:
        print(f"hotline prompts: {exc}", file=sys.stderr)
        return 2
    with svc:
        try:
            pcm = svc.say(args.text)
        except TTSError as exc:
            print(f"hotline prompts say: {exc}", file=sys.stderr)
            return 1
    rate = args.rate
    if rate != TELEPHONE_RATE:
        samples, _ = read_wav(wav_bytes(pcm))
        pcm = to_pcm16(resample(samples, TELEPHONE_RATE, rate))
    if args.encoding != "pcm16" and rate != TELEPHONE_RATE:
        print("hotline prompts say: G.711 output is 8000 Hz only", file=sys.stderr)
        return 2
    Path(args.output).write_bytes(wav_bytes(encode(pcm, args.encoding), rate, args.encoding))
    print(f"{args.output}: {len(pcm) / 2 / rate:.2f} s at {rate} Hz ({args.encoding})", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this component's sub-commands to ``subparsers``."""
    parser = subparsers.add_parser("prompts", help="prompt catalogue, offline TTS and telephone-audio cache")
    sub = parser.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)
    p_list = sub.add_parser("list", help="list the catalogue (id, source, barge-in, slots, text)")
    p_list.add_argument("--ids", action="store_true", help="ids only")
    p_list.set_defaults(func=_list)
    p_render = sub.add_parser("render", help="render every static prompt into the disk cache")
    p_render.add_argument("--force", action="store_true", help="re-synthesize even when cached")
    p_render.set_defaults(func=_render)
    p_say = sub.add_parser("say", help="synthesize text (normalised, cached) to a WAV file")
    p_say.add_argument("text")
    p_say.add_argument("-o", "--output", required=True, help="WAV file to write")
    p_say.add_argument("--rate", type=int, default=TELEPHONE_RATE, choices=[8000, 16000, 22050, 44100, 48000])
    p_say.add_argument("--encoding", choices=["pcm16", "ulaw", "alaw"], default="pcm16")
    p_say.set_defaults(func=_say)
