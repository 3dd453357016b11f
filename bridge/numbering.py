"""Order numbers unique across IVR processes without coordination through the database.

``YYYYMMDD`` + node id (2 digits, configured per IVR node) + a per-node daily sequence (6 digits) kept in a small
counter file under an exclusive ``flock`` and fsynced, so several processes on one node (even with the same node
id) and processes on different nodes never hand out the same number, also while the database is down.
"""

from __future__ import annotations

import fcntl
import os
from datetime import date
from pathlib import Path


class OrderNumberer:
    def __init__(self, directory: Path, node_id: int) -> None:
        if not 0 <= node_id <= 99:
            raise ValueError("node_id must be 0..99")
        self.node_id = node_id
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"orderseq-{node_id:02d}.ctr"

    def next(self, today: date) -> str:
        day = today.strftime("%Y%m%d")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 64).decode("ascii", "replace").strip()
            last_day, _, last_seq = raw.partition(" ")
            seq = int(last_seq) + 1 if last_day == day and last_seq.isdigit() else 1
            if seq > 999999:
                raise RuntimeError("order sequence exhausted for today on this node")
            data = f"{day} {seq}\n".encode("ascii")
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return f"{day}{self.node_id:02d}{seq:06d}"
