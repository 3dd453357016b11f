"""HTTP digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760): MD5 and SHA-256, qop=auth.

Server side: :class:`DigestServer` issues stateless HMAC-signed nonces (time injected) and verifies
Authorization / Proxy-Authorization headers.  Client side: :func:`parse_challenge` and
:func:`build_authorization` answer a 401/407.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from ivr.sip.headers import parse_via, quote, split_list, unquote
from ivr.sip.message import Request, Response, new_branch

ALGORITHMS: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}


def parse_auth_params(value: str) -> tuple[str, dict[str, str]]:
    """``Digest realm="a", nonce="b"`` -> ("digest", {"realm": "a", "nonce": "b"}); names lower-cased."""
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    for item in split_list(rest):
        name, eq, val = item.partition("=")
        if eq:
            params[name.strip().lower()] = unquote(val.strip())
    return scheme.lower(), params


def _h(algorithm: str, text: str) -> str:
    return ALGORITHMS[algorithm](text.encode("utf-8"))


def digest_response(
    algorithm: str, username: str, realm: str, password: str, method: str, uri: str, nonce: str,
    qop: str | None, nc: str, cnonce: str,
) -> str:
    """The ``response`` value (RFC 2617 §3.2.2.1; RFC 7616 for SHA-256)."""
    ha1 = _h(algorithm, f"{username}:{realm}:{password}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    if qop:
        return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{ha2}")


# ------------------------------------------------------------------------------------------------ client


@dataclass(frozen=True)
class Challenge:
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False


def parse_challenge(value: str) -> Challenge | None:
    """A WWW-Authenticate / Proxy-Authenticate value, or None when not a usable Digest challenge."""
    scheme, params = parse_auth_params(value)
    algorithm = params.get("algorithm", "MD5").upper()
    if scheme != "digest" or "nonce" not in params or algorithm not in ALGORITHMS:
        return None
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    return Challenge(
        realm=params.get("realm", ""), nonce=params["nonce"], algorithm=algorithm, qop=qop,
        opaque=params.get("opaque"), stale=params.get("stale", "").lower() == "true",
    )


def build_authorization(
    challenge: Challenge, method: str, uri: str, username: str, password: str, *, nc: int = 1,
    cnonce: str | None = None,
) -> str:
    """Authorization header value answering ``challenge`` (qop=auth when offered)."""
    qop = "auth" if "auth" in challenge.qop else None
    cnonce = cnonce or secrets.token_hex(8)
    nc_text = f"{nc:08x}"
    response = digest_response(challenge.algorithm, username, challenge.realm, password, method, uri,
                               challenge.nonce, qop, nc_text, cnonce)
    parts = [
        f"username={quote(username)}", f"realm={quote(challenge.realm)}", f"nonce={quote(challenge.nonce)}",
        f"uri={quote(uri)}", f"response={quote(response)}", f"algorithm={challenge.algorithm}",
    ]
    if qop:
        parts += [f"qop={qop}", f"nc={nc_text}", f"cnonce={quote(cnonce)}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={quote(challenge.opaque)}")
    return "Digest " + ", ".join(parts)


def pick_challenge(values: list[str]) -> Challenge | None:
    """The strongest usable challenge among several header values (SHA-256 preferred over MD5)."""
    challenges = [c for c in (parse_challenge(v) for v in values) if c is not None]
    challenges.sort(key=lambda c: c.algorithm != "SHA-256")
    return challenges[0] if challenges else None


# ------------------------------------------------------------------------------------------------ server


@dataclass(frozen=True)
class AuthResult:
    ok: bool
    username: str | None = None
    stale: bool = False
    reason: str = ""


class DigestServer:
    """Challenges and verifies digest credentials.  Nonces carry their issue time, signed with ``secret``.

    ``algorithms`` defaults to MD5 only: baresip 1.0 (libre) gives up on a 401 that carries any SHA-256
    challenge, even next to an MD5 one (seen in tests/ivr/test_sip_peers.py).  Pass ("SHA-256", "MD5")
    for peers that support RFC 8760.
    """

    def __init__(
        self, realm: str, secret: bytes | None = None, *, nonce_ttl: float = 300.0,
        algorithms: tuple[str, ...] = ("MD5",),
    ) -> None:
        self.realm = realm
        self.secret = secret or secrets.token_bytes(32)
        self.nonce_ttl = nonce_ttl
        self.algorithms = algorithms
        self._nonce_counts: dict[str, int] = {}

    def make_nonce(self, now: float) -> str:
        stamp = f"{now:.3f}:{secrets.token_hex(4)}"
        mac = hmac.new(self.secret, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        return base64.urlsafe_b64encode(f"{stamp}:{mac}".encode()).decode().rstrip("=")

    def _nonce_time(self, nonce: str) -> float | None:
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4)).decode()
            stamp_time, rand, mac = raw.split(":")
            expected = hmac.new(self.secret, f"{stamp_time}:{rand}".encode(), hashlib.sha256).hexdigest()[:24]
            if not hmac.compare_digest(mac, expected):
                return None
            return float(stamp_time)
        except (ValueError, UnicodeDecodeError):
            return None

    def challenge(self, now: float, *, stale: bool = False) -> list[str]:
        """WWW-Authenticate (or Proxy-Authenticate) values, one per algorithm, strongest first."""
        nonce = self.make_nonce(now)
        stale_text = ", stale=true" if stale else ""
        return [
            f'Digest realm={quote(self.realm)}, nonce={quote(nonce)}, algorithm={alg}, qop="auth"{stale_text}'
            for alg in self.algorithms
        ]

    def verify(self, header: str, method: str, passwords: Callable[[str], str | None], now: float) -> AuthResult:
        """Check an Authorization value for ``method``; ``passwords(username)`` gives the secret or None."""
        scheme, p = parse_auth_params(header)
        if scheme != "digest":
            return AuthResult(False, reason="not a Digest credential")
        username, nonce, uri, response = p.get("username"), p.get("nonce"), p.get("uri"), p.get("response")
        algorithm = p.get("algorithm", "MD5").upper()
        if not username or not nonce or uri is None or not response:
            return AuthResult(False, reason="incomplete credentials")
        if algorithm not in self.algorithms or p.get("realm") != self.realm:
            return AuthResult(False, username, reason="wrong realm or algorithm")
        issued = self._nonce_time(nonce)
        if issued is None:
            return AuthResult(False, username, reason="unknown nonce")
        password = passwords(username)
        if password is None:
            return AuthResult(False, username, reason="unknown user")
        qop = p.get("qop")
        if qop not in (None, "auth"):
            return AuthResult(False, username, reason="unsupported qop")
        expected = digest_response(algorithm, username, self.realm, password, method, uri, nonce, qop,
                                   p.get("nc", ""), p.get("cnonce", ""))
        if not hmac.compare_digest(expected, response.lower()):
            return AuthResult(False, username, reason="wrong password")
        if now - issued > self.nonce_ttl or issued - now > 1.0:
            return AuthResult(False, username, stale=True, reason="nonce expired")
        if qop:
            nc_text = p.get("nc", "")
            try:
                nc = int(nc_text, 16)
            except ValueError:
                return AuthResult(False, username, reason="bad nonce count")
            if nc <= self._nonce_counts.get(nonce, 0):
                return AuthResult(False, username, reason="replayed nonce count")
            self._prune(now)
            self._nonce_counts[nonce] = nc
        return AuthResult(True, username)

    def _prune(self, now: float) -> None:
        if len(self._nonce_counts) < 10000:
            return
        for nonce in list(self._nonce_counts):
            issued = self._nonce_time(nonce)
            if issued is None or now - issued > self.nonce_ttl:
                del self._nonce_counts[nonce]


def authorize_request(request: Request, challenge_response: Response, username: str, password: str
                      ) -> Request | None:
    """Copy of ``request`` answering a 401/407: CSeq + 1, a fresh branch, (Proxy-)Authorization added.

    Returns None when the response carries no usable challenge (the UA should give up).
    """
    proxy = challenge_response.status == 407
    challenge = pick_challenge(
        challenge_response.headers.get_lines("Proxy-Authenticate" if proxy else "WWW-Authenticate")
    )
    if challenge is None:
        return None
    headers = request.headers.copy()
    number, method = request.cseq
    headers.set("CSeq", f"{number + 1} {method}")
    via = parse_via(headers.get_all("Via")[0]).with_params(branch=new_branch())
    headers.replace_first_value("Via", str(via))
    name = "Proxy-Authorization" if proxy else "Authorization"
    headers.remove(name)
    headers.add(name, build_authorization(challenge, request.method, request.uri, username, password))
    return Request(method=request.method, uri=request.uri, headers=headers, body=request.body)
