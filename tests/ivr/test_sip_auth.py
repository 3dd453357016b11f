"""Digest authentication: RFC 2617 vector, SHA-256 (RFC 7616), server challenge/verify, client retry."""

from __future__ import annotations

from ivr.sip import Headers, Request, make_response
from ivr.sip.auth import (
    Challenge,
    DigestServer,
    authorize_request,
    build_authorization,
    digest_response,
    parse_auth_params,
    parse_challenge,
)

USERS = {"agent1": "s3cret", "Mufasa": "Circle Of Life"}


def test_rfc2617_md5_vector() -> None:
    # RFC 2617 §3.5 example (the HTTP method/uri of the example).
    response = digest_response("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
                               "dcd98b7102dd2f0e8b11d0f600bfb0c093", "auth", "00000001", "0a4f113b")
    assert response == "6629fae49393a05397450978507c4ef1"


def test_rfc7616_sha256_vector() -> None:
    # RFC 7616 §3.9.1 example.
    response = digest_response("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life", "GET",
                               "/dir/index.html", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "auth",
                               "00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    assert response == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


def register() -> Request:
    headers = Headers()
    headers.add("Via", "SIP/2.0/UDP 127.0.0.1:5064;branch=z9hG4bKreg1;rport")
    headers.add("From", "<sip:agent1@hotline>;tag=r1")
    headers.add("To", "<sip:agent1@hotline>")
    headers.add("Call-ID", "reg-1")
    headers.add("CSeq", "1 REGISTER")
    headers.add("Contact", "<sip:agent1@127.0.0.1:5064>")
    return Request("REGISTER", "sip:hotline", headers)


def test_server_challenge_then_client_retry_succeeds() -> None:
    server = DigestServer("hotline", b"k" * 32, nonce_ttl=60.0, algorithms=("SHA-256", "MD5"))
    req = register()
    challenge = make_response(req, 401, headers=[("WWW-Authenticate", v) for v in server.challenge(now=100.0)])
    retry = authorize_request(req, challenge, "agent1", "s3cret")
    assert retry is not None and retry.cseq == (2, "REGISTER") and retry.top_via.branch != "z9hG4bKreg1"
    auth = retry.headers.get("Authorization") or ""
    assert "algorithm=SHA-256" in auth and "qop=auth" in auth
    result = server.verify(auth, "REGISTER", USERS.get, now=110.0)
    assert result.ok and result.username == "agent1"
    # Replaying the same nonce count is refused.
    assert server.verify(auth, "REGISTER", USERS.get, now=111.0).reason == "replayed nonce count"


def test_server_rejects_wrong_password_unknown_user_expired_and_forged_nonce() -> None:
    server = DigestServer("hotline", b"k" * 32, nonce_ttl=60.0)
    challenge = parse_challenge(server.challenge(0.0)[0])
    assert challenge is not None and challenge.algorithm == "MD5" and challenge.qop == ("auth",)
    wrong = build_authorization(challenge, "REGISTER", "sip:hotline", "agent1", "guess")
    assert server.verify(wrong, "REGISTER", USERS.get, 1.0).reason == "wrong password"
    nobody = build_authorization(challenge, "REGISTER", "sip:hotline", "eve", "x")
    assert server.verify(nobody, "REGISTER", USERS.get, 1.0).reason == "unknown user"
    good = build_authorization(challenge, "REGISTER", "sip:hotline", "agent1", "s3cret", nc=1)
    late = server.verify(good, "REGISTER", USERS.get, 61.0)
    assert not late.ok and late.stale  # the UA should retry with the new nonce of a stale=true challenge
    assert "stale=true" in server.challenge(61.0, stale=True)[0]
    forged = Challenge(realm="hotline", nonce="bm90LWEtbm9uY2U", algorithm="MD5", qop=("auth",))
    assert server.verify(build_authorization(forged, "REGISTER", "sip:hotline", "agent1", "s3cret"), "REGISTER",
                         USERS.get, 1.0).reason == "unknown nonce"
    other = DigestServer("hotline", b"j" * 32)
    assert not other.verify(good, "REGISTER", USERS.get, 1.0).ok
    assert server.verify("Basic YWdlbnQxOnMzY3JldA==", "REGISTER", USERS.get, 1.0).reason == "not a Digest credential"
    assert server.verify("Digest username=", "REGISTER", USERS.get, 1.0).reason == "incomplete credentials"


def test_client_handles_pbx_challenge_without_qop_and_407() -> None:
    # An RFC 2069-style challenge (no qop), as some PBXes send, with opaque.
    value = 'Digest realm="asterisk", nonce="4b2a", opaque="op1", algorithm=MD5'
    challenge = parse_challenge(value)
    assert challenge is not None and challenge.qop == () and challenge.opaque == "op1"
    header = build_authorization(challenge, "INVITE", "sip:100@pbx", "ivr", "pw")
    scheme, params = parse_auth_params(header)
    assert scheme == "digest" and "qop" not in params and params["opaque"] == "op1"
    expected = digest_response("MD5", "ivr", "asterisk", "pw", "INVITE", "sip:100@pbx", "4b2a", None, "", "")
    assert params["response"] == expected
    req = register()
    proxy_challenge = make_response(req, 407, headers=[("Proxy-Authenticate", value)])
    retry = authorize_request(req, proxy_challenge, "ivr", "pw")
    assert retry is not None and retry.headers.get("Proxy-Authorization", "").startswith("Digest ")  # type: ignore[union-attr]
    assert authorize_request(req, make_response(req, 401), "ivr", "pw") is None
    assert parse_challenge('Digest realm="x", nonce="y", algorithm=SHA-512-256') is None
