"""Flow versions: each call is pinned to the version it started on; a changed file serves new calls at once.

``FlowRegistry.current()`` stats the file (cheap) and reloads it when its modification time or size changed.  A
changed file that does not validate is reported and the last good version keeps serving.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from flows.loader import FlowError, load_flow
from flows.model import Flow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Stamp:
    mtime_ns: int
    size: int


class FlowRegistry:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._flow: Flow | None = None
        self._stamp: _Stamp | None = None
        self.last_error: FlowError | None = None
        self.versions: dict[str, Flow] = {}  # every version loaded in this process (calls may still run on one)

    def _stat(self) -> _Stamp | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return _Stamp(st.st_mtime_ns, st.st_size)

    def current(self) -> Flow:
        """The flow version for a new call (raises FlowError only when no valid version was ever loaded)."""
        stamp = self._stat()
        if self._flow is None or stamp != self._stamp:
            try:
                flow = load_flow(self.path)
            except FlowError as exc:
                self.last_error = exc
                if self._flow is None:
                    raise
                log.error("flow %s changed but is invalid; still serving version %s:\n%s", self.path,
                          self._flow.version, exc)
                self._stamp = stamp  # do not re-parse the same broken file for every call
                return self._flow
            if self._flow is None or flow.version != self._flow.version:
                log.info("flow %s version %s loaded", flow.name, flow.version)
            self._flow, self._stamp, self.last_error = flow, stamp, None
            self.versions[flow.version] = flow
        return self._flow
