"""SIP header collection and structured header values (RFC 3261 §7.3, §20).

``Headers`` keeps every header line in arrival order under its canonical (full) name; lookups are
case-insensitive and accept compact forms.  Helpers parse Via, CSeq and name-addr (From/To/Contact).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache

from ivr.sip.errors import SipParseError
from ivr.sip.names import CANONICAL_NAMES as CANONICAL_NAMES
from ivr.sip.names import COMPACT_FORMS as COMPACT_FORMS
from ivr.sip.names import LIST_HEADERS as LIST_HEADERS


def is_number(text: str, max_len: int = 18) -> bool:
    """1..max_len ASCII decimal digits (str.isdigit() alone accepts superscripts that int() rejects, and
    int() refuses huge digit strings)."""
    return 0 < len(text) <= max_len and text.isascii() and text.isdigit()


@lru_cache(maxsize=1024)
def canonical_name(name: str) -> str:
    """Full, conventionally capitalised header name for ``name`` (compact forms expanded)."""
    stripped = name.strip()
    low = stripped.lower()
    if len(low) == 1 and low in COMPACT_FORMS:
        return COMPACT_FORMS[low]
    known = CANONICAL_NAMES.get(low)
    if known is not None:
        return known
    return "-".join(part[:1].upper() + part[1:] for part in stripped.split("-"))


def split_list(value: str, sep: str = ",") -> list[str]:
    """Split ``value`` on ``sep`` outside quoted strings and <...>; strips and drops empty items."""
    if '"' not in value and "<" not in value:
        return [stripped for item in value.split(sep) if (stripped := item.strip())]
    items: list[str] = []
    cur: list[str] = []
    quoted = False
    angle = 0
    escape = False
    for ch in value:
        if escape:
            cur.append(ch)
            escape = False
            continue
        if quoted and ch == "\\":
            escape = True
            cur.append(ch)
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            angle += 1
        elif not quoted and ch == ">" and angle:
            angle -= 1
        if ch == sep and not quoted and not angle:
            items.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    items.append("".join(cur).strip())
    return [item for item in items if item]


class Headers:
    """Ordered, case-insensitive, multi-valued SIP headers."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = []
        for name, value in items:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append one header line (the name is stored canonically)."""
        self._items.append((canonical_name(name), value.strip()))

    def prepend(self, name: str, value: str) -> None:
        """Insert a header line before all others with the same name (e.g. a new top Via)."""
        cname = canonical_name(name)
        for index, (existing, _) in enumerate(self._items):
            if existing == cname:
                self._items.insert(index, (cname, value.strip()))
                return
        self._items.append((cname, value.strip()))

    def set(self, name: str, value: str) -> None:
        """Replace all lines of ``name`` by a single one (keeping the position of the first)."""
        cname = canonical_name(name)
        for index, (existing, _) in enumerate(self._items):
            if existing == cname:
                self._items[index] = (cname, value.strip())
                self._items = [it for i, it in enumerate(self._items) if i <= index or it[0] != cname]
                return
        self._items.append((cname, value.strip()))

    def replace_first_value(self, name: str, value: str) -> bool:
        """Replace the first value of list header ``name`` (e.g. the top Via) keeping the rest of its line."""
        cname = canonical_name(name)
        for index, (existing, line) in enumerate(self._items):
            if existing == cname:
                rest = split_list(line)[1:]
                self._items[index] = (cname, ", ".join([value.strip(), *rest]))
                return True
        return False

    def remove(self, name: str) -> None:
        cname = canonical_name(name)
        self._items = [it for it in self._items if it[0] != cname]

    def get(self, name: str, default: str | None = None) -> str | None:
        """Value of the first line of ``name`` (a whole line, not split on commas)."""
        cname = canonical_name(name)
        for existing, value in self._items:
            if existing == cname:
                return value
        return default

    def get_lines(self, name: str) -> list[str]:
        """Every raw line of ``name`` in order (not split)."""
        cname = canonical_name(name)
        return [value for existing, value in self._items if existing == cname]

    def get_all(self, name: str) -> list[str]:
        """All values of ``name``; for list headers (Via, Contact, Route...) comma-separated values are split."""
        lines = self.get_lines(name)
        if canonical_name(name).lower() not in LIST_HEADERS:
            return lines
        values: list[str] = []
        for line in lines:
            values.extend(split_list(line))
        return values

    def copy(self) -> Headers:
        clone = Headers()
        clone._items = list(self._items)
        return clone

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


# ---------------------------------------------------------------------------------------------- parameters


def parse_params(text: str) -> dict[str, str | None]:
    """Parse ``;a=1;b;c="x"`` (leading ';' optional) into an ordered dict; flag params map to None."""
    params: dict[str, str | None] = {}
    for item in split_list(text, ";"):
        name, eq, value = item.partition("=")
        key = name.strip().lower()
        if not key:
            continue
        params[key] = value.strip() if eq else None
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        out: list[str] = []
        escape = False
        for ch in inner:
            if escape:
                out.append(ch)
                escape = False
            elif ch == "\\":
                escape = True
            else:
                out.append(ch)
        return "".join(out)
    return value


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------------------------- Via

MAGIC_COOKIE = "z9hG4bK"


@dataclass(frozen=True)
class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=...;received=...;rport``."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def has_rport(self) -> bool:
        return "rport" in self.params

    @property
    def rport(self) -> int | None:
        """The rport value filled in by a server (None when absent or a bare flag)."""
        value = self.params.get("rport")
        return int(value) if value and is_number(value) else None

    @property
    def is_rfc3261(self) -> bool:
        branch = self.branch
        return branch is not None and branch.startswith(MAGIC_COOKIE)

    def with_params(self, **params: str | None) -> Via:
        merged = dict(self.params)
        merged.update(params)
        return replace(self, params=merged)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.protocol}/{self.transport} {host}{port}{format_params(self.params)}"


def parse_host_port(text: str) -> tuple[str, int | None]:
    """Parse ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; raises SipParseError on a bad port."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipParseError("Bad IPv6 reference")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise SipParseError("Bad host:port")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise SipParseError("Empty host")
    if port_text == "":
        return host, None
    if not is_number(port_text) or not 0 < int(port_text) < 65536:
        raise SipParseError("Bad port")
    return host, int(port_text)


def parse_via(value: str) -> Via:
    """Parse one Via value (already split from its line)."""
    sent_protocol, _, rest = value.strip().partition(" ")
    parts = [p.strip() for p in sent_protocol.split("/")]
    rest = rest.strip()
    # Tolerate LWS around the slashes: "SIP / 2.0 / UDP host"
    while len(parts) < 3 or parts[-1] == "":
        token, _, rest = rest.partition(" ")
        rest = rest.strip()
        if not token:
            raise SipParseError("Malformed Via header")
        parts = [p.strip() for p in "/".join([*parts, token]).replace("//", "/").split("/")]
    if len(parts) != 3 or not parts[2]:
        raise SipParseError("Malformed Via header")
    sent_by, _, param_text = rest.partition(";")
    if not sent_by.strip():
        raise SipParseError("Via without sent-by")
    host, port = parse_host_port(sent_by.replace(" ", ""))
    return Via(
        transport=parts[2].upper(),
        host=host,
        port=port,
        params=parse_params(param_text),
        protocol=f"{parts[0].upper()}/{parts[1]}",
    )


def parse_vias(headers: Headers) -> list[Via]:
    return [parse_via(v) for v in headers.get_all("Via")]


# ---------------------------------------------------------------------------------------------- CSeq


def parse_cseq(value: str) -> tuple[int, str]:
    """``"314159 INVITE"`` -> (314159, "INVITE"); raises SipParseError."""
    parts = value.split()
    if len(parts) != 2 or not is_number(parts[0]) or len(parts[0]) > 10:
        raise SipParseError("Malformed CSeq header")
    number = int(parts[0])
    if number >= 2**31:
        raise SipParseError("CSeq number out of range")
    return number, parts[1]


# ---------------------------------------------------------------------------------------------- name-addr


@dataclass(frozen=True)
class NameAddr:
    """A name-addr or addr-spec with header params: ``"Alice" <sip:alice@h>;tag=1``."""

    uri: str
    display: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        merged = dict(self.params)
        merged["tag"] = tag
        return replace(self, params=merged)

    def __str__(self) -> str:
        display = f"{quote(self.display)} " if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


def parse_name_addr(value: str) -> NameAddr:
    """Parse From/To/Contact/Route/Refer-To values; raises SipParseError."""
    text = value.strip()
    if not text:
        raise SipParseError("Empty address")
    lt = -1
    quoted = False
    escape = False
    for i, ch in enumerate(text):
        if escape:
            escape = False
        elif quoted and ch == "\\":
            escape = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            lt = i
            break
    if quoted:
        raise SipParseError("Unterminated quoted string")
    if lt >= 0:
        gt = text.find(">", lt)
        if gt < 0:
            raise SipParseError("Unterminated <uri>")
        display_text = text[:lt].strip()
        display = unquote(display_text) if display_text else None
        uri = text[lt + 1 : gt].strip()
        params = parse_params(text[gt + 1 :])
    else:
        # addr-spec: params after the URI belong to the header (RFC 3261 §20.10)
        uri, _, param_text = text.partition(";")
        uri = uri.strip()
        display = None
        params = parse_params(param_text)
        if " " in uri:
            raise SipParseError("Bad address")
    if not uri or ":" not in uri:
        raise SipParseError("Bad URI in address")
    return NameAddr(uri=uri, display=display, params=params)
