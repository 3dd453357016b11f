"""The send-side playback queue of one media session: PCM in, one encoded 20 ms payload per tick out."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from ivr.app import FRAME_SAMPLES, Playback
from ivr.media.codecs import Codec


@dataclass(slots=True)
class _Item:
    pcm: bytes
    interruptible: bool
    handle: Playback
    frame: int = 0  # next frame index
    payload: bytes = b""
    codec_name: str = ""
    frames: int = 0


class PlaybackQueue:
    def __init__(self, frame_samples: int = FRAME_SAMPLES) -> None:
        self._items: deque[_Item] = deque()
        self._samples = frame_samples
        self.started = 0
        self.completed = 0
        self.stopped = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def active(self) -> bool:
        return bool(self._items)

    def add(self, pcm: bytes, handle: Playback, *, interruptible: bool) -> None:
        if len(pcm) % 2:
            pcm = pcm[:-1]
        self._items.append(_Item(pcm, interruptible, handle))
        self.started += 1

    def next_frame(self, codec: Codec) -> tuple[bytes, bool] | None:
        """The next payload and whether it starts a playback, or None when nothing is queued.

        Items are encoded once, as a whole, when they reach the head of the queue (vectorised table lookup).
        """
        items = self._items
        while items:
            item = items[0]
            if item.codec_name != codec.name:
                payload = codec.encode(item.pcm)
                pad = -len(payload) % self._samples
                item.payload = payload + codec.silence_frame(pad) if pad else payload
                item.codec_name = codec.name
                item.frames = len(item.payload) // self._samples
            if item.frame < item.frames:
                start = item.frame * self._samples
                item.frame += 1
                return item.payload[start : start + self._samples], item.frame == 1
            items.popleft()
            self.completed += 1
            _resolve(item.handle.done, True)
        return None

    def finish_if_done(self) -> None:
        """Resolve the head item as soon as its last frame went out (not one tick later)."""
        items = self._items
        while items and items[0].codec_name and items[0].frame >= items[0].frames:
            self.completed += 1
            _resolve(items.popleft().handle.done, True)

    def stop(self, *, force: bool) -> int:
        """Drop interruptible items (every item with ``force``); returns how many were dropped."""
        keep: deque[_Item] = deque()
        dropped = 0
        for item in self._items:
            if force or item.interruptible:
                dropped += 1
                _resolve(item.handle.done, False)
            else:
                keep.append(item)
        self._items = keep
        self.stopped += dropped
        return dropped


def _resolve(fut: asyncio.Future[bool], value: bool) -> None:
    if not fut.done():
        try:
            fut.set_result(value)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass
