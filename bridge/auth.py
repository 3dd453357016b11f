"""Agent passwords (scrypt), signed desk sessions (HMAC, stateless across IVR processes, idle and absolute
expiry, per-session CSRF token), API tokens, the login lock-out, the demo-credential check."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

_N, _R, _P = 2**14, 8, 1

# What config/bridge.yaml ships with (demo logins a1001/desk-1001, a1002/desk-1002, token platform-demo-token).
DEMO_PASSWORD_HASHES = frozenset({
    "scrypt$16384$8$1$68166ce8d4183af8c7a4ae094ac09f7a$f8c702f0cc501e19ffe51a45eb674157077a1704de4470cc80bc6d3472612b5e",
    "scrypt$16384$8$1$bca43e076910aa5d221a0640fdc6c10c$53a4247e20e4feaab6b6cee6d508261d928aa6e33985b5454df772153abacd37",
})
DEMO_TOKEN_SECRET = "change-me-hotline-desk-secret"
DEMO_PLATFORM_TOKEN_SHA256 = "2b9c0daee7376ad5032c8b327b13eb6a06394438ad71cf95646709cbe9542b00"


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    h = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${h.hex()}"


_DUMMY_HASH = hash_password("no such agent", salt=b"\0" * 16)


def verify_password(password: str, stored: str | None) -> bool:
    """Also spends the scrypt time for an unknown agent (``stored`` None), so timing tells no agent ids apart."""
    if not stored:
        verify_password(password, _DUMMY_HASH)
        return False
    try:
        kind, n, r, p, salt, want = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), want)


@dataclass(frozen=True)
class Session:
    """A desk login: agent, random session id, issued-at and last-activity times (epoch seconds)."""

    agent_id: str
    sid: str
    issued: int
    last: int


@dataclass(frozen=True)
class Principal:
    kind: str  # "agent" (a desk login, any desk role) | "platform" (API token)
    id: str
    role: str = "agent"  # "agent" | "supervisor" | "operator" | "platform"
    session: Session | None = None

    @property
    def is_platform(self) -> bool:
        return self.kind == "platform"


class TokenSigner:
    """``payload.sig``: payload = agent|sid|issued|last, HMAC-SHA256 (truncated to 160 bits).  A session expires
    ``idle_s`` after its last refresh or ``absolute_s`` after login, whichever comes first."""

    def __init__(self, secret: str, absolute_s: int, idle_s: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.key = hashlib.sha256(secret.encode()).digest()
        self.absolute_s = absolute_s
        self.idle_s = idle_s if idle_s is not None else absolute_s
        self.clock = clock

    def now(self) -> int:
        return int(self.clock())

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self.key, payload, hashlib.sha256).digest()[:20]

    def issue(self, agent_id: str, session: Session | None = None) -> str:
        """A new session for ``agent_id``, or ``session`` refreshed (same id and issue time, last activity now)."""
        now = self.now()
        s = Session(agent_id, secrets.token_hex(8), now, now) if session is None else \
            Session(session.agent_id, session.sid, session.issued, now)
        payload = f"{s.agent_id}|{s.sid}|{s.issued}|{s.last}".encode()
        return _b64(payload) + "." + _b64(self._sign(payload))

    def session(self, token: str) -> Session | None:
        try:
            p64, s64 = token.split(".")
            payload, sig = _unb64(p64), _unb64(s64)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(sig, self._sign(payload)):
            return None
        parts = payload.decode(errors="replace").rsplit("|", 3)
        if len(parts) != 4 or not all(x.isdigit() for x in parts[2:]):
            return None
        s = Session(parts[0], parts[1], int(parts[2]), int(parts[3]))
        return s if self.alive(s) else None

    def alive(self, s: Session, last: int | None = None) -> bool:
        now = self.now()
        return now - s.issued <= self.absolute_s and now - max(s.last, last or 0) <= self.idle_s

    def verify(self, token: str) -> str | None:
        s = self.session(token)
        return s.agent_id if s else None

    def csrf(self, s: Session) -> str:
        """The session's CSRF token (derived, so every IVR process can check it without shared state)."""
        return _b64(hmac.new(self.key, f"csrf|{s.agent_id}|{s.sid}".encode(), hashlib.sha256).digest()[:18])


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def platform_principal(token: str, api_tokens: Mapping[str, str]) -> Principal | None:
    h = sha256_hex(token)
    for name, want in api_tokens.items():
        if hmac.compare_digest(h, want.lower()):
            return Principal("platform", name, "platform")
    return None


# -- login lock-out -----------------------------------------------------------------------------------------------
@dataclass
class _Counter:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class LoginGuard:
    """Failed desk logins counted per agent id and per source address within ``window_s``; ``user_limit`` (or
    ``address_limit``) failures lock that key for ``lock_s``.  Pure state: the caller passes the time and logs the
    keys :meth:`failed` reports as newly locked (once per lock, not per attempt).  Unknown agent ids are counted and
    locked like known ones, so a lock tells nothing about which ids exist."""

    MAX_KEYS = 100_000

    def __init__(self, user_limit: int, address_limit: int, window_s: float, lock_s: float) -> None:
        self.user_limit, self.address_limit = user_limit, address_limit
        self.window_s, self.lock_s = window_s, lock_s
        self.keys: dict[tuple[str, str], _Counter] = {}

    def retry_after(self, user: str, address: str, now: float) -> int | None:
        """Seconds until the later lock ends; None when neither the agent id nor the address is locked."""
        ends = [c.locked_until for k in (("user", user), ("address", address))
                if (c := self.keys.get(k)) is not None and c.locked_until > now]
        return max(1, int(max(ends) - now + 0.999)) if ends else None

    def failed(self, user: str, address: str, now: float) -> list[tuple[str, str]]:
        self._prune(now)
        newly: list[tuple[str, str]] = []
        for key, limit in ((("user", user), self.user_limit), (("address", address), self.address_limit)):
            c = self.keys.setdefault(key, _Counter())
            c.failures = [t for t in c.failures if now - t < self.window_s] + [now]
            if len(c.failures) >= limit and c.locked_until <= now:
                c.locked_until, c.failures = now + self.lock_s, []
                newly.append(key)
        return newly

    def succeeded(self, user: str) -> None:
        self.keys.pop(("user", user), None)  # the address keeps its count: one good account does not reset it

    def unlock(self, kind: str, value: str) -> bool:
        return self.keys.pop((kind, value), None) is not None

    def locks(self, now: float) -> list[dict[str, object]]:
        return [{"kind": k, "key": v, "retry_after_s": int(c.locked_until - now + 0.999)}
                for (k, v), c in sorted(self.keys.items()) if c.locked_until > now]

    def _prune(self, now: float) -> None:
        if len(self.keys) < self.MAX_KEYS:
            return
        for k in [k for k, c in self.keys.items()
                  if c.locked_until <= now and all(now - t >= self.window_s for t in c.failures)]:
            del self.keys[k]


def demo_credentials(password_hashes: Iterable[str | None], token_secret: str,
                     api_tokens: Mapping[str, str]) -> list[str]:
    """What of the shipped demo credentials is still in effect (empty: none)."""
    found = []
    if any(h in DEMO_PASSWORD_HASHES for h in password_hashes):
        found.append("demo agent passwords")
    if token_secret == DEMO_TOKEN_SECRET:
        found.append("desk.token_secret")
    if any(v.lower() == DEMO_PLATFORM_TOKEN_SHA256 for v in api_tokens.values()):
        found.append("demo platform token")
    return found
