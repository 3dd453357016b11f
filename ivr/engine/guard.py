"""Hostile peers, sans-IO: who may place calls, per-source request limits, REGISTER digest lock-out.

Pure apart from logging; time comes in as ``now`` (the engine's clock), so the tests run it on virtual time.

- :class:`CallAcl`: the peer addresses allowed to place calls (CIDRs; empty = everyone).
- :class:`RateLimiter`: a token bucket per source IP; a message over the limit is dropped and counted, and
  logged once per source per minute (with how many were dropped since the last line).
- :class:`AuthLockout`: failed REGISTER digests per source IP and per user name in a sliding window; after
  ``max_failures`` the source and the user are locked for ``lock_seconds``, logged once per lock (one line
  when both lock together).  A locked REGISTER gets the answer a wrong password gets (401 without credentials,
  403 with them), so a cracker cannot tell a lock from a miss, and the right password is refused while the
  lock lasts.  The user lock does not stop the address that last registered that user successfully (the
  agent's own phone keeps refreshing while a stranger guesses its password from elsewhere); from any other
  address it holds, so a cracker spread over many addresses is stopped too.

State per key is bounded: idle entries (a full bucket, no recent failure, no lock) are pruned when a table
grows past ``max_entries``, and a table full of live entries drops its oldest.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import deque
from dataclasses import dataclass, field

from config.ivr import GuardConfig

log = logging.getLogger(__name__)

LOG_INTERVAL = 60.0  # seconds between two "rate limited" lines for one source
MAX_ENTRIES = 10000


class CallAcl:
    """Addresses in a list of networks (CIDRs); an empty list allows everyone."""

    def __init__(self, cidrs: list[str]) -> None:
        self.networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def allows(self, host: str) -> bool:
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        return any(address.version == n.version and address in n for n in self.networks)


@dataclass
class _Bucket:
    tokens: float
    at: float
    dropped: int = 0  # since the last log line
    logged_at: float | None = None


class RateLimiter:
    """Token bucket per source IP: ``rate`` tokens a second up to ``burst``; ``rate == 0`` admits everything."""

    def __init__(
        self, rate: float, burst: int, *, exempt: list[str] | None = None, max_entries: int = MAX_ENTRIES
    ) -> None:
        self.rate = rate
        self.exempt = CallAcl(exempt) if exempt else None  # never limited (a trunk carrying every call)
        self.burst = float(burst)
        self.max_entries = max_entries
        self.buckets: dict[str, _Bucket] = {}
        self.dropped = 0

    def admit(self, source: str, now: float) -> bool:
        if self.rate <= 0 or (self.exempt is not None and self.exempt.allows(source)):
            return True
        bucket = self.buckets.get(source)
        if bucket is None:
            self._make_room(now)
            bucket = self.buckets[source] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + max(0.0, now - bucket.at) * self.rate)
            bucket.at = max(bucket.at, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        self.dropped += 1
        bucket.dropped += 1
        if bucket.logged_at is None or now - bucket.logged_at >= LOG_INTERVAL:
            log.warning(
                "rate limit: dropping SIP messages from %s (%d dropped since the last report; limit %g/s, burst %d)",
                source, bucket.dropped, self.rate, int(self.burst),
            )  # fmt: skip
            bucket.logged_at, bucket.dropped = now, 0
        return False

    def _make_room(self, now: float) -> None:
        if len(self.buckets) < self.max_entries:
            return
        full_after = self.burst / self.rate
        for key, b in list(self.buckets.items()):
            if now - b.at >= full_after and (b.logged_at is None or now - b.logged_at >= LOG_INTERVAL):
                del self.buckets[key]
        while len(self.buckets) >= self.max_entries:  # all live: forget the oldest
            del self.buckets[next(iter(self.buckets))]


@dataclass
class _Failures:
    times: deque[float] = field(default_factory=deque)
    locked_until: float | None = None


class AuthLockout:
    """Failed digests per key (``source:<ip>``, ``user:<name>``) in a sliding window; locks on the N-th."""

    def __init__(
        self, max_failures: int, window: float, lock_seconds: float, *, max_entries: int = MAX_ENTRIES
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lock_seconds = lock_seconds
        self.max_entries = max_entries
        self.entries: dict[str, _Failures] = {}
        self.known_good: dict[str, str] = {}  # user -> the source of its last good digest (real users only)
        self.locks = 0  # locks imposed so far

    def locked(self, source: str, user: str, now: float) -> bool:
        if self._is_locked(f"source:{source}", now):
            return True
        return bool(user) and self.known_good.get(user) != source and self._is_locked(f"user:{user}", now)

    def failure(self, source: str, user: str, now: float) -> None:
        locked: list[str] = []
        for key in self._keys(source, user):
            entry = self.entries.get(key)
            if entry is None:
                self._make_room(now)
                entry = self.entries[key] = _Failures()
            if entry.locked_until is not None and entry.locked_until > now:
                continue  # already locked: no new line, the lock is not extended
            entry.locked_until = None
            entry.times.append(now)
            while entry.times and entry.times[0] <= now - self.window:
                entry.times.popleft()
            if len(entry.times) >= self.max_failures:
                entry.locked_until = now + self.lock_seconds
                entry.times.clear()
                self.locks += 1
                locked.append(key.replace(":", " ", 1))
        if locked:  # one line per lock (the source and the user locked by the same failure share it)
            log.warning(
                "REGISTER lock-out: %s locked for %g s after %d failed digests within %g s",
                " and ".join(locked), self.lock_seconds, self.max_failures, self.window,
            )  # fmt: skip

    def success(self, source: str, user: str) -> None:
        """A good digest clears the failures counted so far (a lock it cannot meet: a locked request never
        succeeds) and makes ``source`` the user's known address."""
        self.known_good[user] = source
        for key in self._keys(source, user):
            entry = self.entries.get(key)
            if entry is not None and entry.locked_until is None:
                del self.entries[key]

    def _is_locked(self, key: str, now: float) -> bool:
        entry = self.entries.get(key)
        return entry is not None and entry.locked_until is not None and entry.locked_until > now

    @staticmethod
    def _keys(source: str, user: str) -> tuple[str, ...]:
        return (f"source:{source}", f"user:{user}") if user else (f"source:{source}",)

    def _make_room(self, now: float) -> None:
        if len(self.entries) < self.max_entries:
            return
        for key, e in list(self.entries.items()):
            idle = not e.times or e.times[-1] <= now - self.window
            if idle and (e.locked_until is None or e.locked_until <= now):
                del self.entries[key]
        while len(self.entries) >= self.max_entries:
            del self.entries[next(iter(self.entries))]


class RequestGuard:
    """What :class:`ivr.engine.core.UaCore` checks: every message against the rate limit, every new call
    against the ACL (the registrar keeps its own :class:`AuthLockout`, :func:`auth_lockout`)."""

    def __init__(self, config: GuardConfig) -> None:
        self.acl = CallAcl(config.call_acl)
        self.rate = RateLimiter(config.rate, config.burst, exempt=config.rate_exempt)


def auth_lockout(config: GuardConfig) -> AuthLockout:
    return AuthLockout(config.auth_max_failures, config.auth_window, config.auth_lock_seconds)
