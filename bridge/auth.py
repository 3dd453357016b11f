"""Agent passwords (scrypt), signed desk session tokens (HMAC, stateless across IVR processes), API tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    h = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${h.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
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
class Principal:
    kind: str  # "agent" | "platform"
    id: str

    @property
    def is_platform(self) -> bool:
        return self.kind == "platform"


class TokenSigner:
    def __init__(self, secret: str, ttl_s: int, clock: object = time.time) -> None:
        self.key = hashlib.sha256(secret.encode()).digest()
        self.ttl_s = ttl_s
        self.clock = clock

    def _now(self) -> int:
        return int(self.clock())  # type: ignore[operator]

    def issue(self, agent_id: str) -> str:
        payload = f"{agent_id}.{self._now() + self.ttl_s}"
        sig = hmac.new(self.key, payload.encode(), hashlib.sha256).digest()[:20]
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=") + "." + \
            base64.urlsafe_b64encode(sig).decode().rstrip("=")

    def verify(self, token: str) -> str | None:
        try:
            p64, s64 = token.split(".")
            payload = base64.urlsafe_b64decode(p64 + "=" * (-len(p64) % 4))
            sig = base64.urlsafe_b64decode(s64 + "=" * (-len(s64) % 4))
        except (ValueError, TypeError):
            return None
        want = hmac.new(self.key, payload, hashlib.sha256).digest()[:20]
        if not hmac.compare_digest(sig, want):
            return None
        agent_id, _, exp = payload.decode(errors="replace").rpartition(".")
        if not exp.isdigit() or int(exp) < self._now():
            return None
        return agent_id


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def platform_principal(token: str, api_tokens: Mapping[str, str]) -> Principal | None:
    h = sha256_hex(token)
    for name, want in api_tokens.items():
        if hmac.compare_digest(h, want.lower()):
            return Principal("platform", name)
    return None
