"""Versions of the operator-edited files: each call is pinned to what it started on; a changed file serves new
calls at once.

``current()`` stats the file (cheap) and reloads it when its modification time or size changed.  A changed file
that does not validate is reported (logged, ``last_error``) and the last good version keeps serving.  Two files
reload this way: the flow (:class:`FlowRegistry`) and the scope policy with the classifier built from it
(:class:`PolicyRegistry`); flows.setup.ContextFactory takes one snapshot of both for each new call.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from flows.loader import FlowError, load_flow
from flows.model import Flow
from flows.policy import DEFAULT_PATH, Policy, PolicyError, parse_policy
from flows.runner import ClassifierLike

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class _Stamp:
    mtime_ns: int
    size: int


class Versioned(Generic[T]):
    """The current good version of one file, loaded by ``load`` (which raises one of ``errors`` when invalid)."""

    def __init__(self, path: str | Path, load: Callable[[Path], T], version: Callable[[T], str], what: str,
                 errors: tuple[type[Exception], ...]) -> None:
        self.path = Path(path)
        self.load, self.version, self.what, self.errors = load, version, what, errors
        self._value: T | None = None
        self._stamp: _Stamp | None = None
        self.last_error: Exception | None = None
        self.versions: dict[str, T] = {}  # every version loaded in this process (calls may still run on one)

    def _stat(self) -> _Stamp | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return _Stamp(st.st_mtime_ns, st.st_size)

    def current(self) -> T:
        """The version for a new call (raises only when no valid version was ever loaded)."""
        stamp = self._stat()
        if self._value is not None and stamp == self._stamp:
            return self._value
        try:
            value = self.load(self.path)
        except self.errors as exc:
            self.last_error = exc
            if self._value is None:
                raise
            log.error("%s %s changed but is invalid; still serving version %s:\n%s", self.what, self.path,
                      self.version(self._value), exc)
            self._stamp = stamp  # do not re-read the same broken file for every call
            return self._value
        if self._value is None or self.version(value) != self.version(self._value):
            log.info("%s %s version %s loaded", self.what, self.path, self.version(value))
        self._value, self._stamp, self.last_error = value, stamp, None
        self.versions[self.version(value)] = value
        return value


class FlowRegistry(Versioned[Flow]):
    def __init__(self, path: str | Path) -> None:
        super().__init__(path, load_flow, lambda flow: flow.version, "flow", (FlowError,))


@dataclass(frozen=True)
class PolicySnapshot:
    """One version of the scope policy and what is built from it: the classifier and the policy's channel routes
    (channel -> (transferred, target))."""

    version: str  # content hash of the file
    policy: Policy
    classifier: ClassifierLike | None  # None when built without one (routes only)
    routes: Mapping[str, tuple[bool, str]] = field(default_factory=dict)


def build_snapshot(path: Path, classifier: bool = True) -> PolicySnapshot:
    """Read, validate and compile a policy file (PolicyError when it does not validate)."""
    from flows.classifier import Classifier  # heavy (pinyin, learned model): only where a policy is compiled

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([(str(path), None, "", f"cannot read: {exc.strerror or exc}")]) from exc
    policy = parse_policy(text, str(path))
    routes: dict[str, tuple[bool, str]] = {}
    for cid in policy.channels:
        route = policy.route(cid)
        routes[cid] = (route.mode in ("transfer", "internal"), route.target or route.number or cid)
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return PolicySnapshot(version, policy, Classifier(policy) if classifier else None, routes)


class PolicyRegistry(Versioned[PolicySnapshot]):
    """The scope policy, its classifier compiled once per version (``classifier=False``: routes only)."""

    def __init__(self, path: str | Path = DEFAULT_PATH, *, classifier: bool = True) -> None:
        super().__init__(path, lambda p: build_snapshot(p, classifier), lambda snap: snap.version, "policy",
                         (PolicyError, OSError))
