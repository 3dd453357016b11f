"""HTTP digest for SIP (RFC 3261 §22, RFC 2617, MD5, qop=auth): challenge, verify, answer a challenge."""

from __future__ import annotations

import hashlib
import re
import secrets

from ivr.sip import Request, Response

_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def parse_digest(value: str) -> dict[str, str]:
    """Parameters of a ``Digest k=v, ...`` header value (lower-case keys, unquoted values)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {k.lower(): v[1:-1].replace('\\"', '"') if v.startswith('"') else v for k, v in _PARAM.findall(rest)}


def challenge(realm: str, nonce: str | None = None, stale: bool = False) -> tuple[str, str]:
    """A fresh ``WWW-Authenticate`` value and its nonce."""
    nonce = nonce or secrets.token_hex(16)
    stale_text = ", stale=TRUE" if stale else ""
    return f'Digest realm="{realm}", nonce="{nonce}", algorithm=MD5, qop="auth"{stale_text}', nonce


def response_hash(params: dict[str, str], method: str, password: str) -> str:
    ha1 = _md5(f"{params.get('username', '')}:{params.get('realm', '')}:{password}")
    ha2 = _md5(f"{method}:{params.get('uri', '')}")
    if params.get("qop"):
        return _md5(f"{ha1}:{params.get('nonce', '')}:{params.get('nc', '')}:{params.get('cnonce', '')}:auth:{ha2}")
    return _md5(f"{ha1}:{params.get('nonce', '')}:{ha2}")


def verify(params: dict[str, str], method: str, password: str) -> bool:
    expected = response_hash(params, method, password)
    return secrets.compare_digest(expected, params.get("response", ""))


def authorization_for(resp: Response, request: Request, credentials: tuple[str, str]) -> str | None:
    """``"Authorization: Digest ..."`` (or Proxy-Authorization) answering ``resp``'s challenge."""
    header = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
    params = parse_digest(resp.headers.get(header) or "")
    if not params.get("nonce") or params.get("algorithm", "MD5").upper() != "MD5":
        return None
    username, password = credentials
    answer = {"username": username, "realm": params.get("realm", ""), "nonce": params["nonce"], "uri": request.uri}
    qop_offered = [q.strip() for q in params.get("qop", "").split(",")]
    if "auth" in qop_offered:
        answer.update(qop="auth", nc="00000001", cnonce=secrets.token_hex(8))
    answer["response"] = response_hash(answer, request.method, password)
    parts = [
        f'username="{username}"',
        f'realm="{answer["realm"]}"',
        f'nonce="{answer["nonce"]}"',
        f'uri="{request.uri}"',
        f'response="{answer["response"]}"',
        "algorithm=MD5",
    ]
    if "qop" in answer:
        parts += [f"qop={answer['qop']}", f"nc={answer['nc']}", f'cnonce="{answer["cnonce"]}"']
    if params.get("opaque"):
        parts.append(f'opaque="{params["opaque"]}"')
    out_header = "Authorization" if resp.status == 401 else "Proxy-Authorization"
    return f"{out_header}: Digest " + ", ".join(parts)
