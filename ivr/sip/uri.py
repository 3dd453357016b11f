"""SIP / SIPS / tel URI parsing and formatting (RFC 3261 §19.1, RFC 3966 for tel)."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field, replace
from urllib.parse import quote as _pct_quote
from urllib.parse import unquote as _pct_unquote

from ivr.sip.errors import SipParseError
from ivr.sip.headers import format_params, parse_host_port

# unreserved / user-unreserved characters allowed verbatim in the userinfo part
_USER_SAFE = string.ascii_letters + string.digits + "-_.!~*'()" + "&=+$,;?/"
_PASSWORD_SAFE = string.ascii_letters + string.digits + "-_.!~*'()" + "&=+$,"


@dataclass(frozen=True)
class SipUri:
    """A parsed URI. ``user`` and ``password`` are unescaped; ``params`` and ``headers`` keep raw values."""

    scheme: str = "sip"
    user: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    password: str | None = None

    @property
    def transport(self) -> str:
        """Transport from ``;transport=`` (upper case), defaulting to TLS for sips and UDP otherwise."""
        value = self.params.get("transport")
        if value:
            return value.upper()
        return "TLS" if self.scheme == "sips" else "UDP"

    @property
    def host_port(self) -> tuple[str, int]:
        default = 5061 if self.scheme == "sips" or self.transport == "TLS" else 5060
        return self.host, self.port if self.port is not None else default

    def with_params(self, **params: str | None) -> SipUri:
        merged = dict(self.params)
        merged.update(params)
        return replace(self, params=merged)

    def without_headers(self) -> SipUri:
        return replace(self, headers={})

    def __str__(self) -> str:
        if self.scheme == "tel":
            return f"tel:{self.user or ''}{format_params(self.params)}"
        userinfo = ""
        if self.user is not None:
            userinfo = _pct_quote(self.user, safe=_USER_SAFE, errors="surrogateescape")
            if self.password is not None:
                userinfo += ":" + _pct_quote(self.password, safe=_PASSWORD_SAFE, errors="surrogateescape")
            userinfo += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        headers = ""
        if self.headers:
            headers = "?" + "&".join(f"{k}={v}" for k, v in self.headers.items())
        return f"{self.scheme}:{userinfo}{host}{port}{format_params(self.params)}{headers}"


def parse_uri(text: str) -> SipUri:
    """Parse ``sip:``, ``sips:`` or ``tel:`` URIs; raises SipParseError (status 416 for other schemes)."""
    text = text.strip()
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if not colon or not _SCHEME.match(scheme):
        raise SipParseError("Malformed URI")
    if scheme == "tel":
        number, _, param_text = rest.partition(";")
        if not number:
            raise SipParseError("Malformed tel URI")
        return SipUri(scheme="tel", user=number, params=_params(param_text))
    if scheme not in ("sip", "sips"):
        raise SipParseError("Unsupported URI scheme", status=416)
    if any(ch in rest for ch in " \t\r\n<>\""):
        raise SipParseError("Malformed URI")
    # '@' cannot appear unescaped in params or headers, while the user part may hold '?' and ';'.
    user: str | None = None
    password: str | None = None
    userinfo, at, hostpart = rest.partition("@")
    rest, _, header_text = (hostpart if at else rest).partition("?")
    if at:
        user_text, pw_colon, pw_text = userinfo.partition(":")
        user = _unescape(user_text)
        password = _unescape(pw_text) if pw_colon else None
        if user == "":
            raise SipParseError("Empty user in URI")
    host_text, _, param_text = rest.partition(";")
    host, port = parse_host_port(host_text)
    if not _valid_host(host):
        raise SipParseError("Malformed host in URI")
    headers: dict[str, str] = {}
    for item in header_text.split("&") if header_text else []:
        name, _, value = item.partition("=")
        if name:
            headers[name] = value
    return SipUri(
        scheme=scheme, user=user, password=password, host=host.lower(), port=port,
        params=_params(param_text), headers=headers,
    )


def _params(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for item in text.split(";"):
        if not item:
            continue
        name, eq, value = item.partition("=")
        params[name.lower()] = value if eq else None
    return params


def _unescape(text: str) -> str:
    if "%" in text:
        for i, ch in enumerate(text):
            if (ch == "%" and not all(c in string.hexdigits for c in text[i + 1 : i + 3])) or (
                ch == "%" and len(text[i + 1 : i + 3]) < 2
            ):
                raise SipParseError("Bad escape in URI")
    return _pct_unquote(text, errors="surrogateescape")


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_HOST_CHARS = frozenset(string.ascii_letters + string.digits + "-._:")


def _valid_host(host: str) -> bool:
    return bool(host) and all(ch in _HOST_CHARS for ch in host)
