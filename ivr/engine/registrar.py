"""Registrar for agents' phones (REGISTER with digest auth) and the lookup of agent contacts.

Bindings live behind :class:`BindingStore` (in memory here; the bridge side may back it with Redis).  Static
agents from the config are always resolvable.  ``on_register`` is pure apart from the store and the nonce set.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol

from config.ivr import IvrConfig
from ivr.engine.guard import auth_lockout
from ivr.sip import Request, SipParseError, parse_name_addr, parse_uri
from ivr.sip.address import Endpoint
from ivr.sip.auth import DigestServer


@dataclass(frozen=True)
class Binding:
    aor: str  # user part, e.g. "1001"
    contact: str  # contact URI
    expires_at: float  # engine clock (loop.time())


class BindingStore(Protocol):
    def put(self, binding: Binding) -> None: ...

    def remove(self, aor: str, contact: str | None = None) -> None: ...

    def get(self, aor: str, now: float) -> list[Binding]: ...


class MemoryBindingStore:
    def __init__(self) -> None:
        self._data: dict[str, dict[str, Binding]] = {}

    def put(self, binding: Binding) -> None:
        self._data.setdefault(binding.aor, {})[binding.contact] = binding

    def remove(self, aor: str, contact: str | None = None) -> None:
        if contact is None:
            self._data.pop(aor, None)
        else:
            self._data.get(aor, {}).pop(contact, None)

    def get(self, aor: str, now: float) -> list[Binding]:
        live = [b for b in self._data.get(aor, {}).values() if b.expires_at > now]
        return sorted(live, key=lambda b: -b.expires_at)


def aor_user(aor: str) -> str:
    """``1001``, ``sip:1001@host`` or ``<sip:1001@host>`` -> ``1001``."""
    text = aor.strip()
    if ":" not in text:
        return text
    try:
        uri = parse_name_addr(text).uri if "<" in text else text
        return parse_uri(uri).user or ""
    except SipParseError:
        return ""


class Registrar:
    def __init__(self, config: IvrConfig, store: BindingStore | None = None) -> None:
        self.config = config
        self.store: BindingStore = store or MemoryBindingStore()
        self.users = {u.username: u.password for u in config.registrar_users}
        self.digest = DigestServer(config.realm)
        self.lockout = auth_lockout(config.guard)
        self._decoy = secrets.token_hex(16)  # the "password" of every unknown user: never matches

    def lookup(self, aor: str, now: float) -> str | None:
        user = aor_user(aor)
        bindings = self.store.get(user, now) if user else []
        if bindings:
            return bindings[0].contact
        return self.config.static_agents.get(aor) or self.config.static_agents.get(user)

    def _challenge(self, now: float, stale: bool = False) -> tuple[int, str, list[tuple[str, str]]]:
        return 401, "Unauthorized", [("WWW-Authenticate", v) for v in self.digest.challenge(now, stale=stale)]

    def on_register(self, req: Request, source: Endpoint, now: float) -> tuple[int, str, list[tuple[str, str]]]:
        """(status, reason, extra headers) for a REGISTER: 401 challenge, 403, or 200 with the bindings."""
        user = aor_user(req.headers.get("To") or "")
        if not user:
            return 400, "Bad To Header", []
        credentials = req.headers.get("Authorization")
        if not credentials:
            return self._challenge(now)
        if self.lockout.locked(source.host, user, now):
            return 403, "Forbidden", []
        result = self.digest.verify(credentials, "REGISTER", self._password, now)
        if result.stale:
            return self._challenge(now, stale=True)
        if not result.ok and not result.username:
            return self._challenge(now)  # not a usable credential (no user name): challenge again
        if not result.ok or result.username != user or user not in self.users:
            self.lockout.failure(source.host, user, now)
            return 403, "Forbidden", []
        self.lockout.success(source.host, user)
        return self._bind(req, user, now)

    def _password(self, username: str) -> str:
        return self.users.get(username) or self._decoy

    def _bind(self, req: Request, user: str, now: float) -> tuple[int, str, list[tuple[str, str]]]:
        default_expires = req.headers.get("Expires")
        contacts = req.headers.get_all("Contact")
        if contacts == ["*"]:
            self.store.remove(user)
            return 200, "OK", []
        granted: list[tuple[str, str]] = []
        for value in contacts:
            try:
                addr = parse_name_addr(value)
            except SipParseError:
                return 400, "Bad Contact", []
            raw = addr.params.get("expires") or default_expires or "3600"
            expires = min(int(raw) if raw.isdigit() else 3600, self.config.max_register_expires)
            if expires == 0:
                self.store.remove(user, addr.uri)
                continue
            self.store.put(Binding(user, addr.uri, now + expires))
            granted.append(("Contact", f"<{addr.uri}>;expires={expires}"))
        for binding in self.store.get(user, now):
            if not any(binding.contact in v for _, v in granted):
                granted.append(("Contact", f"<{binding.contact}>;expires={int(binding.expires_at - now)}"))
        return 200, "OK", granted
