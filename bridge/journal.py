"""Durable local journal for orders that could not reach the database: JSON lines, append + fsync.

Replay hands every entry to a callback (idempotent by order number on the database side) and then drops the
entries that were applied; entries that fail stay for the next attempt.  A torn last line (crash while
appending) is skipped and kept aside in ``<journal>.bad``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            fcntl.flock(fd, fcntl.LOCK_UN)  # a replay swapped the file while we waited: append to the new one
            os.close(fd)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def pending(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for raw in self.path.read_bytes().splitlines():
            if not raw.strip():
                continue
            try:
                out.append(json.loads(raw))
            except ValueError:
                continue
        return out

    def replay(self, apply: Callable[[dict[str, Any]], None]) -> tuple[int, int]:
        """Apply each entry; rewrite the journal with those that failed.  Returns (applied, remaining)."""
        if not self.path.exists():
            return 0, 0
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_ino != os.stat(self.path).st_ino:
                return 0, len(self.pending())  # another replayer swapped it meanwhile; next round
            raw_lines = self.path.read_bytes().splitlines()
            keep: list[bytes] = []
            failed: set[object] = set()
            applied = 0
            for raw in raw_lines:
                if not raw.strip():
                    continue
                try:
                    entry = json.loads(raw)
                except ValueError:
                    with open(str(self.path) + ".bad", "ab") as bad:
                        bad.write(raw + b"\n")
                    continue
                key = entry.get("order_no") if isinstance(entry, dict) else None
                if key is not None and key in failed:  # keep later entries of an order whose creation failed
                    keep.append(raw)
                    continue
                try:
                    apply(entry)
                    applied += 1
                except Exception as exc:  # the database may be down again: keep the entry
                    log.warning("journal replay of %s failed: %s", key, exc)
                    keep.append(raw)
                    failed.add(key)
            tmp = self.path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                f.write(b"".join(line + b"\n" for line in keep))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
            return applied, len(keep)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
