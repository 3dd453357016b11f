"""Hostile peers on virtual time: the call ACL, the per-source rate limit, the REGISTER lock-out
(``ivr.engine.guard``), and a registrar that answers every user name alike (no svwar oracle)."""

from __future__ import annotations

import logging
import re

import pytest

from config.ivr import GuardConfig, IvrConfig, RegistrarUser
from ivr.engine.core import NewCall, Output, Transmit, UaCore
from ivr.engine.guard import AuthLockout, CallAcl, RateLimiter
from ivr.engine.model import LocalMedia, Timers
from ivr.engine.registrar import Registrar
from ivr.sip import parse_message
from ivr.sip.address import Endpoint
from ivr.sip.auth import build_authorization, parse_challenge
from ivr.sip.tx_common import TimerConfig

GUARD_LOG = "ivr.engine.guard"
SDP = (
    "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    "m=audio 31000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


# ---------------------------------------------------------------- pure: the three guards


def test_acl_empty_allows_everyone_else_only_its_networks() -> None:
    assert CallAcl([]).allows("203.0.113.9")
    acl = CallAcl(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"])
    assert acl.allows("10.1.2.3") and acl.allows("192.0.2.7") and acl.allows("2001:db8::5")
    assert acl.allows("[2001:db8::5]")
    assert not acl.allows("192.0.2.8") and not acl.allows("11.0.0.1") and not acl.allows("2001:db9::1")
    assert not acl.allows("not-an-address")


def test_acl_config_rejects_a_bad_cidr() -> None:
    with pytest.raises(ValueError, match="call_acl"):
        GuardConfig(call_acl=["10.0.0.0/33"])
    with pytest.raises(ValueError, match="rate_exempt"):
        GuardConfig(rate_exempt=["pbx.example.com"])


def test_rate_limit_token_bucket_per_source_on_virtual_time(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, GUARD_LOG)
    limiter = RateLimiter(rate=10.0, burst=5)
    assert [limiter.admit("198.51.100.1", 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert limiter.admit("198.51.100.2", 0.0)  # another source has its own bucket
    assert not limiter.admit("198.51.100.1", 0.05)  # half a token back: still dropped
    assert limiter.admit("198.51.100.1", 0.1) and not limiter.admit("198.51.100.1", 0.1)
    assert limiter.dropped == 3
    assert [limiter.admit("198.51.100.1", 100.0) for _ in range(6)] == [True] * 5 + [False]  # full again, not more


def test_rate_limit_logs_once_per_source_per_minute(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, GUARD_LOG)
    limiter = RateLimiter(rate=1.0, burst=1)
    now = 0.0
    for _ in range(1000):  # 100 messages a second for 10 s from two sources
        limiter.admit("198.51.100.1", now)
        limiter.admit("198.51.100.2", now)
        now += 0.01
    lines = [r.getMessage() for r in caplog.records if r.name == GUARD_LOG]
    assert len(lines) == 2 and {line.split()[6] for line in lines} == {"198.51.100.1", "198.51.100.2"}
    caplog.clear()
    for _ in range(6000):  # one more minute: one more line each, counting what was dropped meanwhile
        limiter.admit("198.51.100.1", now)
        now += 0.01
    (line,) = [r.getMessage() for r in caplog.records if r.name == GUARD_LOG]
    dropped = int(re.search(r"\((\d+) dropped", line).group(1))  # type: ignore[union-attr]
    assert 5900 < dropped < 6000


def test_rate_zero_admits_everything_and_tables_stay_bounded() -> None:
    assert all(RateLimiter(rate=0.0, burst=1).admit("198.51.100.1", 0.0) for _ in range(1000))
    trunk = RateLimiter(rate=1.0, burst=1, exempt=["192.0.2.0/28"])
    assert all(trunk.admit("192.0.2.5", 0.0) for _ in range(1000)) and trunk.buckets == {}
    assert trunk.admit("192.0.2.16", 0.0) and not trunk.admit("192.0.2.16", 0.0)
    limiter = RateLimiter(rate=10.0, burst=5, max_entries=100)
    for i in range(1000):
        limiter.admit(f"10.0.{i // 256}.{i % 256}", float(i))
    assert len(limiter.buckets) <= 100
    lockout = AuthLockout(3, 60.0, 600.0, max_entries=100)
    for i in range(1000):
        lockout.failure(f"10.0.{i // 256}.{i % 256}", f"u{i}", float(i))
    assert len(lockout.entries) <= 100


def test_lockout_after_n_failures_in_the_window_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, GUARD_LOG)
    lockout = AuthLockout(max_failures=3, window=60.0, lock_seconds=300.0)
    lockout.failure("198.51.100.1", "1001", 0.0)
    lockout.failure("198.51.100.1", "1001", 1.0)
    assert not lockout.locked("198.51.100.1", "1001", 1.0)
    lockout.failure("198.51.100.1", "1001", 2.0)
    assert lockout.locked("198.51.100.1", "1001", 2.0)
    assert lockout.locked("198.51.100.9", "1001", 2.0)  # the user, from anywhere
    assert lockout.locked("198.51.100.1", "1002", 2.0)  # the source, for any user
    assert not lockout.locked("198.51.100.9", "1002", 2.0)
    for t in range(3, 100):  # more failures while locked: no more lines, the lock is not extended
        lockout.failure("198.51.100.1", "1001", float(t))
    lines = [r.getMessage() for r in caplog.records if r.name == GUARD_LOG]
    assert lines == [
        "REGISTER lock-out: source 198.51.100.1 and user 1001 locked for 300 s after 3 failed digests within 60 s"
    ]
    assert lockout.locked("198.51.100.1", "1001", 301.9) and not lockout.locked("198.51.100.1", "1001", 302.0)
    assert lockout.locks == 2


def test_user_lock_spares_the_address_that_last_registered_it() -> None:
    lockout = AuthLockout(max_failures=3, window=60.0, lock_seconds=300.0)
    lockout.success("198.51.100.10", "1001")  # the agent's phone
    for t in range(3):
        lockout.failure("203.0.113.66", "1001", float(t))
    assert lockout.locked("203.0.113.66", "1001", 3.0) and lockout.locked("203.0.113.67", "1001", 3.0)
    assert not lockout.locked("198.51.100.10", "1001", 3.0)
    for t in range(3):  # the phone's own address failing locks it like any source
        lockout.failure("198.51.100.10", "1001", 10.0 + t)
    assert lockout.locked("198.51.100.10", "1001", 13.0)


def test_lockout_window_slides_and_success_clears() -> None:
    lockout = AuthLockout(max_failures=3, window=60.0, lock_seconds=300.0)
    for t in (0.0, 40.0, 80.0, 120.0):  # never 3 within 60 s
        lockout.failure("198.51.100.1", "1001", t)
    assert not lockout.locked("198.51.100.1", "1001", 120.0)
    lockout.failure("198.51.100.1", "1001", 121.0)  # 80, 120, 121
    assert lockout.locked("198.51.100.1", "1001", 121.0)
    other = AuthLockout(max_failures=3, window=60.0, lock_seconds=300.0)
    other.failure("198.51.100.1", "1001", 0.0)
    other.failure("198.51.100.1", "1001", 1.0)
    other.success("198.51.100.1", "1001")
    other.failure("198.51.100.1", "1001", 2.0)
    assert not other.locked("198.51.100.1", "1001", 2.0)


# ---------------------------------------------------------------- through the UA core


def request(
    method: str,
    user: str = "12345",
    *,
    source: Endpoint,
    n: int = 1,
    call_id: str = "g-1",
    auth: str = "",
    body: str = "",
) -> bytes:
    host = f"{source.host}:{source.port}"
    uri = "sip:127.0.0.1:5060" if method == "REGISTER" else f"sip:{user}@127.0.0.1:5060"
    return (
        f"{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {host};branch=z9hG4bK-{call_id}-{n};rport\r\n"
        f"From: <sip:{user}@127.0.0.1>;tag=f{n}\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: {call_id}\r\n"
        f"CSeq: {n} {method}\r\nContact: <sip:{user}@{host}>\r\nMax-Forwards: 70\r\n"
        + (f"Authorization: {auth}\r\n" if auth else "")
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


class Core:
    """A core as the engine drives it (new calls answered at once); returns what it sends."""

    def __init__(self, **config: object) -> None:
        users = [RegistrarUser(username="1001", password="agent-pw"), RegistrarUser(username="1002", password="x")]
        self.core = UaCore(TimerConfig(t1=0.5), Registrar(IvrConfig(registrar_users=users, **config)))  # type: ignore[arg-type]

    def send(self, data: bytes, source: Endpoint, now: float) -> list[bytes]:
        return self._run(self.core.receive(data, source, now), now)

    def _run(self, outputs: list[Output], now: float) -> list[bytes]:
        sent: list[bytes] = []
        for out in outputs:
            if isinstance(out, Transmit):
                sent.append(out.data)
            elif isinstance(out, NewCall):
                sent += self._run(
                    self.core.start_uas(
                        out.request, out.source, local_media=LocalMedia("127.0.0.1", 30000),
                        local_contact="<sip:12345@127.0.0.1:5060>", timers=Timers(), now=now,
                    ),
                    now,
                )  # fmt: skip
        return sent

    def register(self, user: str, password: str | None, source: Endpoint, now: float, call_id: str) -> list[bytes]:
        """REGISTER, then (when ``password`` is given) answer its challenge; the responses to both."""
        first = self.send(request("REGISTER", user, source=source, call_id=call_id), source, now)
        if password is None:
            return first
        challenge = parse_challenge(parse_message(first[-1]).headers.get("WWW-Authenticate") or "")
        assert challenge is not None
        auth = build_authorization(challenge, "REGISTER", "sip:127.0.0.1:5060", user, password)
        return first + self.send(request("REGISTER", user, source=source, n=2, call_id=call_id, auth=auth), source,
                                 now + 0.01)  # fmt: skip


def status(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode()


def shape(data: bytes) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Status line, header names in order, and the WWW-Authenticate values with the nonce blanked."""
    message = parse_message(data)
    names = tuple(name.lower() for name, _ in message.headers)
    auth = tuple(re.sub(r'nonce="[^"]*"', 'nonce=""', v) for v in message.headers.get_all("WWW-Authenticate"))
    return status(data), names, auth


ATTACKER = Endpoint("udp", "203.0.113.66", 5070)


def test_existing_and_unknown_users_get_the_same_answers() -> None:
    """What svwar compares: status line and header shape for REGISTER (with and without a wrong password),
    OPTIONS and INVITE, for registrar users (1001, 1002) and names that exist nowhere."""
    core = Core()
    answers: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...]]]] = {}
    for i, user in enumerate(["1001", "1000", "1002", "4242", "x9"]):
        source = Endpoint("udp", f"203.0.113.{i + 1}", 5070)  # one source each: no lock-out in the way
        plain = core.register(user, None, source, 0.0, f"r-{user}")
        wrong = core.register(user, "guess", source, 1.0, f"w-{user}")[-1:]
        options = core.send(request("OPTIONS", user, source=source, call_id=f"o-{user}"), source, 2.0)
        invite = core.send(request("INVITE", user, source=source, call_id=f"i-{user}", body=SDP), source, 3.0)
        answers[user] = [shape(m) for m in plain + wrong + options + invite]
    assert [a[0] for a in answers["1001"]] == [
        "SIP/2.0 401 Unauthorized", "SIP/2.0 403 Forbidden", "SIP/2.0 200 OK", "SIP/2.0 100 Trying", "SIP/2.0 200 OK"
    ]  # fmt: skip
    assert all(a == answers["1001"] for a in answers.values()), answers


def test_right_password_after_the_lockout_is_refused_like_a_wrong_one() -> None:
    core = Core(guard=GuardConfig(auth_max_failures=3, auth_window=60.0, auth_lock_seconds=300.0))
    lines = [status(core.register("1001", f"guess{i}", ATTACKER, float(i), f"c{i}")[-1]) for i in range(3)]
    assert lines == ["SIP/2.0 403 Forbidden"] * 3
    locked = core.register("1001", "agent-pw", ATTACKER, 10.0, "c-right")
    assert [shape(m) for m in locked] == [shape(m) for m in core.register("1001", "nope", ATTACKER, 11.0, "c-x")]
    assert [status(m) for m in locked] == ["SIP/2.0 401 Unauthorized", "SIP/2.0 403 Forbidden"]
    phone = Endpoint("udp", "198.51.100.10", 5064)  # the user is locked from everywhere, the other users are not
    assert status(core.register("1001", "agent-pw", phone, 12.0, "p1")[-1]) == "SIP/2.0 403 Forbidden"
    assert status(core.register("1002", "x", phone, 13.0, "p2")[-1]) == "SIP/2.0 200 OK"
    assert status(core.register("1001", "agent-pw", phone, 303.0, "p3")[-1]) == "SIP/2.0 200 OK"  # lock over
    assert core.core.registrar.lookup("1001", 304.0) == "sip:1001@198.51.100.10:5064"


def test_unknown_users_count_toward_the_source_lock() -> None:
    core = Core(guard=GuardConfig(auth_max_failures=3))
    for i, user in enumerate(["7001", "7002", "7003"]):
        assert status(core.register(user, "pw", ATTACKER, float(i), f"u{i}")[-1]) == "SIP/2.0 403 Forbidden"
    assert status(core.register("1001", "agent-pw", ATTACKER, 5.0, "u-real")[-1]) == "SIP/2.0 403 Forbidden"
    good = Endpoint("udp", "198.51.100.10", 5064)
    assert status(core.register("1001", "agent-pw", good, 6.0, "u-good")[-1]) == "SIP/2.0 200 OK"


def test_call_acl_refuses_an_invite_from_outside_with_403() -> None:
    core = Core(guard=GuardConfig(call_acl=["198.51.100.0/24"]))
    inside = Endpoint("udp", "198.51.100.20", 5062)
    sent = core.send(request("INVITE", source=ATTACKER, call_id="acl-out", body=SDP), ATTACKER, 0.0)
    assert [status(m) for m in sent] == ["SIP/2.0 100 Trying", "SIP/2.0 403 Forbidden"]
    assert not list(core.core.legs) and core.core.stats["acl_refused"] == 1
    sent = core.send(request("INVITE", source=inside, call_id="acl-in", body=SDP), inside, 0.0)
    assert status(sent[-1]) == "SIP/2.0 200 OK"
    options = core.send(request("OPTIONS", source=ATTACKER, call_id="acl-opt"), ATTACKER, 1.0)
    assert [status(m) for m in options] == ["SIP/2.0 200 OK"]  # only calls are restricted


def test_rate_limited_source_is_dropped_and_counted_others_are_served() -> None:
    core = Core(guard=GuardConfig(rate=5.0, burst=10))
    answered = [core.send(request("OPTIONS", source=ATTACKER, call_id=f"f{i}"), ATTACKER, 0.0) for i in range(30)]
    assert sum(1 for a in answered if a) == 10
    assert core.core.stats["rate_limited"] == 20 and core.core.layer.stats["parse_errors"] == 0
    phone = Endpoint("udp", "198.51.100.10", 5062)
    assert status(core.send(request("OPTIONS", source=phone, call_id="ok"), phone, 0.0)[0]) == "SIP/2.0 200 OK"
    assert core.send(request("OPTIONS", source=ATTACKER, call_id="later"), ATTACKER, 0.2)  # a token back


def test_a_registered_phone_keeps_refreshing_while_a_stranger_locks_its_user() -> None:
    core = Core(guard=GuardConfig(auth_max_failures=3))
    phone = Endpoint("udp", "198.51.100.10", 5064)
    assert status(core.register("1001", "agent-pw", phone, 0.0, "ph1")[-1]) == "SIP/2.0 200 OK"
    for i in range(3):
        core.register("1001", f"guess{i}", ATTACKER, 1.0 + i, f"a{i}")
    assert status(core.register("1001", "agent-pw", ATTACKER, 5.0, "a-right")[-1]) == "SIP/2.0 403 Forbidden"
    elsewhere = Endpoint("udp", "198.51.100.11", 5064)
    assert status(core.register("1001", "agent-pw", elsewhere, 6.0, "e1")[-1]) == "SIP/2.0 403 Forbidden"
    assert status(core.register("1001", "agent-pw", phone, 7.0, "ph2")[-1]) == "SIP/2.0 200 OK"
