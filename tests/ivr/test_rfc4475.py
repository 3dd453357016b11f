"""RFC 4475 (SIP torture test messages) as a suite: the 49 messages of its section 3, byte-exact in
``tests/ivr/rfc4475/<section>_<name>.sip``, each fed to the sans-IO UA core (nothing goes on the network: the
messages name example.com / 192.0.2.x hosts) with the answer RFC 4475 expects of a UAS; a few are also sent
byte-exact to a real in-process engine on loopback (TCP, and UDP where the message's Via carries rport).

The table :data:`CASES` is the expectation: ``answer`` is the status of our final response (``None``: no
response, the message is dropped); ``verdict`` says whether that is what the RFC asks or one of the
alternatives it allows ("acceptable").
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.ivr import IvrConfig, RegistrarUser
from ivr.engine.core import CallOutput, NewCall, Output, Transmit, UaCore
from ivr.engine.model import LocalMedia, Timers
from ivr.engine.registrar import Registrar
from ivr.engine.sipmsg import contact_uri, local_contact, user_of
from ivr.sip import Request, Response, SipParseError, parse_message, parse_uri
from ivr.sip.address import Endpoint
from ivr.sip.parser import StreamFramer
from ivr.sip.tx_common import TimerConfig
from tests.ivr.peers.fixtures import Ivr

RFC_DIR = Path(__file__).parent / "rfc4475"
PHONE = Endpoint("udp", "127.0.0.1", 5062)
USERS = ("user", "j.user", "watson", "null-\x00-null")  # the AORs the REGISTER messages name


@dataclass(frozen=True)
class Case:
    file: str  # <section>_<name>
    title: str  # the RFC's section title
    rfc: str  # what RFC 4475 expects of a UAS
    answer: int | None  # our final response's status; None: dropped
    verdict: str = "as RFC"

    @property
    def name(self) -> str:
        return self.file.split("_", 1)[1]

    @property
    def valid(self) -> bool:  # the parser must accept these (§3.1.1, §3.2, §3.3 except the invalid ones)
        return self.file.startswith(("3.1.1.", "3.2.", "3.4.")) or self.name in _VALID_APP


_VALID_APP = {"unkscm", "novelsc", "unksm2", "bext01", "invut", "regaut01", "bcast", "zeromf", "cparam01",
              "cparam02", "regescrt", "sdp01"}

CASES = [
    # 3.1.1 valid messages
    Case("3.1.1.1_wsinv", "A Short Tortuous INVITE", "well formed; processed", 481,
         "as RFC: parsed; its To carries a tag of no dialog of ours, so 481 (RFC 3261 §12.2.2)"),
    Case("3.1.1.2_intmeth", "Wide Range of Valid Characters", "well formed; an endpoint answers 501 with Allow", 501),
    Case("3.1.1.3_esc01", "Valid Use of the % Escaping Mechanism", "well formed; %HEX expansions honoured", 200,
         "as RFC: 200, our Contact re-escapes the user (sips%3Auser%40example.com) and a BYE to it works"),
    Case("3.1.1.4_escnull", "Escaped Nulls in URIs", "well formed; AOR not shortened at the null", 401,
         "as RFC: the full AOR null-%00-null is a known user, so it is challenged"),
    Case("3.1.1.5_esc02", "Use of % When It Is Not an Escape", "well formed; an endpoint answers 501", 501),
    Case("3.1.1.6_lwsdisp", "Message with No LWS between Display Name and <", "accept as well formed", 200),
    Case("3.1.1.7_longreq", "Long Values in Header Fields", "well formed; processed", 200),
    Case("3.1.1.8_dblreq", "Extra Trailing Octets in a UDP Datagram", "REGISTER handled, the INVITE octets ignored",
         401, "as RFC: the REGISTER is challenged, nothing answers the trailing INVITE"),
    Case("3.1.1.9_semiuri", "Semicolon Separated Parameters in URI User Part", "well formed", 200),
    Case("3.1.1.10_transports", "Varied and Unknown Transport Types", "well formed", 200),
    Case("3.1.1.11_mpart01", "Multipart MIME Message", "well formed (framed by Content-Length)", 501,
         "as RFC: parsed; MESSAGE is not a method of ours, so 501 with Allow"),
    Case("3.1.1.12_unreason", "Unusual Reason Phrase", "well formed response", None,
         "as RFC: parsed, then dropped (no transaction of ours)"),
    Case("3.1.1.13_noreason", "Empty Reason Phrase", "well formed response", None,
         "as RFC: parsed, then dropped (no transaction of ours)"),
    # 3.1.2 invalid messages
    Case("3.1.2.1_badinv01", "Extraneous Header Field Separators", "400", None,
         "acceptable: dropped, its Via is unusable so no response can be routed"),
    Case("3.1.2.2_clerr", "Content Length Larger Than Message", "400 (over UDP)", 400),
    Case("3.1.2.3_ncl", "Negative Content-Length", "an error; over TCP close the connection", 400),
    Case("3.1.2.4_scalar02", "Request Scalar Fields with Overlarge Values", "400 (CSeq)", 400),
    Case("3.1.2.5_scalarlg", "Response Scalar Fields with Overlarge Values", "response discarded", None),
    Case("3.1.2.6_quotbal", "Unterminated Quoted String in Display Name", "400", 400),
    Case("3.1.2.7_ltgtruri", "<> Enclosing Request-URI", "400 (or ignore the brackets)", 400),
    Case("3.1.2.8_lwsruri", "Malformed SIP Request-URI (embedded LWS)", "400 (or ignore the LWS)", 400),
    Case("3.1.2.9_lwsstart", "Multiple SP Separating Request-Line Elements", "may reject (or be liberal)", 400,
         "acceptable: rejected"),
    Case("3.1.2.10_trws", "SP Characters at End of Request-Line", "may reject (or be liberal)", 400,
         "acceptable: rejected"),
    Case("3.1.2.11_escruri", "Escaped Headers in SIP Request-URI", "400, or ignore the escaped headers", 200,
         "acceptable: the headers are ignored (never copied into anything we send)"),
    Case("3.1.2.12_baddate", "Invalid Time Zone in Date Header Field", "reject, or ignore an unused Date", 200,
         "acceptable: Date is not used, so ignored"),
    Case("3.1.2.13_regbadct", "Failure to Enclose name-addr URI in <>", "400, or infer the <>", 401,
         "acceptable: the <> are inferred; the REGISTER is challenged"),
    Case("3.1.2.14_badaspec", "Spaces within addr-spec", "400, or ignore the spaces", 200,
         "acceptable: the spaces are ignored"),
    Case("3.1.2.15_baddn", "Non-token Characters in Display Name", "400, or infer the quotes", 200,
         "acceptable: the display names are not used"),
    Case("3.1.2.16_badvers", "Unknown Protocol Version", "505", 505),
    Case("3.1.2.17_mismatch01", "Start Line and CSeq Method Mismatch", "400", 400),
    Case("3.1.2.18_mismatch02", "Unknown Method with CSeq Method Mismatch", "501 (400 acceptable)", 400,
         "acceptable: 400"),
    Case("3.1.2.19_bigcode", "Overlarge Response Code", "response dropped", None),
    # 3.2 transaction layer
    Case("3.2.1_badbranch", "Missing Transaction Identifier", "400, or RFC 2543 transaction matching", 200,
         "acceptable: matched the RFC 2543 way"),
    # 3.3 application layer
    Case("3.3.1_insuf", "Missing Required Header Fields", "400 (ideally)", 400),
    Case("3.3.2_unkscm", "Request-URI with Unknown Scheme", "416", 416),
    Case("3.3.3_novelsc", "Request-URI with Known but Atypical Scheme", "416 (a scheme we do not handle)", 416),
    Case("3.3.4_unksm2", "Unknown URI Schemes in Header Fields", "reject the REGISTER", 400),
    Case("3.3.5_bext01", "Proxy-Require and Require", "420 with Unsupported listing the Require tags", 420),
    Case("3.3.6_invut", "Unknown Content-Type", "415 with Accept: application/sdp", 415),
    Case("3.3.7_regaut01", "Unknown Authorization Scheme", "401 with a challenge of a known scheme", 401),
    Case("3.3.8_multi01", "Multiple Values in Single Value Required Fields", "400", 400),
    Case("3.3.9_mcl01", "Multiple Content-Length Values", "an error; over TCP close the connection", 400),
    Case("3.3.10_bcast", "200 OK Response with Broadcast Via Header Field Value", "dropped (a UA)", None),
    Case("3.3.11_zeromf", "Max-Forwards of Zero", "an endpoint processes it", 200),
    Case("3.3.12_cparam01", "REGISTER with a Contact Header Parameter", "processed", 401,
         "as RFC: processed (challenged: the registrar authenticates)"),
    Case("3.3.13_cparam02", "REGISTER with a url-parameter", "processed", 401,
         "as RFC: processed (challenged: the registrar authenticates)"),
    Case("3.3.14_regescrt", "REGISTER with a URL Escaped Header", "well formed; processed", 401,
         "as RFC: processed (challenged: the registrar authenticates)"),
    Case("3.3.15_sdp01", "Unacceptable Accept Offering", "406 (or 400)", 406),
    # 3.4 backward compatibility
    Case("3.4.1_inv2543", "INVITE with RFC 2543 Syntax", "accept; processed", 200),
]


def load(case: Case) -> bytes:
    return (RFC_DIR / f"{case.file}.sip").read_bytes()


def status(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


class Core:
    """The UA core as the engine drives it, our Contact built by the engine's own :func:`local_contact`."""

    def __init__(self) -> None:
        users = [RegistrarUser(username=u, password="pw") for u in USERS]
        self.core = UaCore(TimerConfig(t1=0.5), Registrar(IvrConfig(registrar_users=users)))
        self.sent: list[Transmit] = []
        self.actions: list[CallOutput] = []

    def run(self, outputs: list[Output], now: float) -> list[bytes]:
        data: list[bytes] = []
        for out in outputs:
            if isinstance(out, Transmit):
                self.sent.append(out)
                data.append(out.data)
            elif isinstance(out, NewCall):
                contact = local_contact(user_of(out.request.uri), "127.0.0.1", 5060, out.source.transport)
                data += self.run(
                    self.core.start_uas(out.request, out.source, local_media=LocalMedia("127.0.0.1", 30000),
                                        local_contact=contact, timers=Timers(), now=now),
                    now,
                )
            else:
                self.actions.append(out)
        return data

    def receive(self, data: bytes, now: float) -> list[bytes]:
        return self.run(self.core.receive(data, PHONE, now), now)


def in_dialog(invite: Request, ok: Response, method: str, branch: str, transport: str = "UDP") -> bytes:
    """An ACK or BYE of ours for the call ``ok`` answered: sent to the 200's Contact (RFC 3261 §12.2.1.1)."""
    cseq = int((invite.headers.get("CSeq") or "0").split()[0]) + (1 if method == "BYE" else 0)
    return (
        f"{method} {contact_uri(ok)} SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:5062;branch={branch};rport\r\n"
        f"Max-Forwards: 70\r\nFrom: {invite.headers.get('From')}\r\nTo: {ok.headers.get('To')}\r\n"
        f"Call-ID: {invite.call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


Check = Callable[["Core", bytes, list[bytes]], None]
EXTRA: dict[str, list[Check]] = {}


def extra(*names: str) -> Callable[[Check], Check]:
    """Register a further check of the answers to the messages ``names``."""

    def register(check: Check) -> Check:
        for name in names:
            EXTRA.setdefault(name, []).append(check)
        return check

    return register


def _header(data: bytes, name: str) -> str | None:
    return parse_message(data).headers.get(name)


@extra("intmeth", "esc02", "mpart01")
def _allow(core: Core, data: bytes, answers: list[bytes]) -> None:
    allow = _header(answers[-1], "Allow") or ""
    assert "INVITE" in allow and "OPTIONS" in allow


@extra("bext01")
def _unsupported(core: Core, data: bytes, answers: list[bytes]) -> None:
    assert _header(answers[-1], "Unsupported") == "nothingSupportsThis, nothingSupportsThisEither"


@extra("invut")
def _accept(core: Core, data: bytes, answers: list[bytes]) -> None:
    assert _header(answers[-1], "Accept") == "application/sdp" and not core.core.legs


@extra("sdp01")
def _not_acceptable(core: Core, data: bytes, answers: list[bytes]) -> None:
    final = parse_message(answers[-1])
    assert not final.body and not core.core.legs


@extra("dblreq")
def _one_answer(core: Core, data: bytes, answers: list[bytes]) -> None:
    assert len(answers) == 1 and parse_message(answers[0]).call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"


@extra("esc01")
def _contact_is_escaped(core: Core, data: bytes, answers: list[bytes]) -> None:
    ok = parse_message(answers[-1])
    assert b"Contact: <sip:sips%3Auser%40example.com@127.0.0.1:5060>\r\n" in answers[-1]
    parsed = parse_uri(contact_uri(ok))
    assert (parsed.user, parsed.host, parsed.port) == ("sips:user@example.com", "127.0.0.1", 5060)


@extra("wsinv")
def _parsed_as_the_rfc_says(core: Core, data: bytes, answers: list[bytes]) -> None:
    message = parse_message(data)
    assert isinstance(message, Request) and message.cseq == (9, "INVITE") and len(message.vias) == 3
    assert message.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"


@extra("intmeth")
def _quoted_pairs_kept(core: Core, data: bytes, answers: list[bytes]) -> None:
    assert b'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:' in answers[-1]  # the response copies To as it came


def _finish_calls(core: Core, data: bytes, answers: list[bytes]) -> None:
    """A call the INVITE opened is ACKed and ended with a BYE to the 200's Contact (never left to time out,
    which would send a BYE toward the message's own hosts)."""
    if not core.core.legs:
        return
    invite, ok = parse_message(data), parse_message(answers[-1])
    assert isinstance(invite, Request) and isinstance(ok, Response) and ok.status == 200
    assert core.receive(in_dialog(invite, ok, "ACK", "z9hG4bKack4475"), 1.0) == []
    bye = core.receive(in_dialog(invite, ok, "BYE", "z9hG4bKbye4475"), 1.1)
    assert [status(b) for b in bye] == [200] and not core.core.legs


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_torture_message(case: Case) -> None:
    data = load(case)
    if case.valid:  # the parser must accept it (a 416 for a scheme we do not serve is not calling it malformed)
        try:
            parse_message(data)
        except SipParseError as exc:
            assert exc.status == 416, exc.reason
    core = Core()
    answers = core.receive(data, 0.0)
    finals = [a for a in answers if status(a) >= 200]
    if case.answer is None:
        assert answers == []
    else:
        assert [status(a) for a in finals] == [case.answer], answers
    # every answer goes back to where the message came from, never to a host the message names
    assert all(t.endpoint.host == PHONE.host for t in core.sent)
    for check in EXTRA.get(case.name, []):
        check(core, data, answers)
    _finish_calls(core, data, answers)
    assert core.core.stats["call_errors"] == 0


def test_the_suite_is_the_whole_of_rfc_4475_section_3() -> None:
    files = sorted(p.stem for p in RFC_DIR.glob("*.sip"))
    assert files == sorted(c.file for c in CASES) and len(files) == 49


@pytest.mark.parametrize(
    "case", [c for c in CASES if not c.valid and c.answer in (400, 505, None)], ids=lambda c: c.name
)
def test_the_invalid_messages_we_refuse_are_refused_by_the_parser(case: Case) -> None:
    with pytest.raises(SipParseError):
        parse_message(load(case))


# ---------------------------------------------------------------- byte-exact to a real engine on loopback

OVER_TCP = ["intmeth", "esc02", "bext01", "invut", "sdp01", "unkscm", "ncl", "mcl01"]
"""Sent byte-exact over TCP (responses go back on the connection whatever the Via says); none of them opens
a call, so the engine has no reason to send anything anywhere else."""


@pytest.fixture(scope="module")
def engine() -> Iterator[Ivr]:
    server = Ivr().start()
    yield server
    server.stop()


def tcp_answers(server: Ivr, data: bytes, until: int = 200) -> tuple[list[Response], bool]:
    """Send ``data`` on a new TCP connection; the responses up to the first final one, and whether the engine
    then closed the connection."""
    framer, answers = StreamFramer(), []
    with socket.create_connection(("127.0.0.1", server.engine.port), timeout=5) as sock:
        sock.sendall(data)
        while not answers or answers[-1].status < until:
            chunk = sock.recv(65535)
            if not chunk:
                return answers, True
            for raw in framer.feed(chunk):
                message = parse_message(raw, stream=True)
                assert isinstance(message, Response)
                answers.append(message)
        sock.settimeout(1.0)
        try:
            closed = sock.recv(65535) == b""
        except TimeoutError:
            closed = False
    return answers, closed


@pytest.mark.parametrize("name", OVER_TCP)
def test_torture_message_over_tcp_to_a_real_engine(
    engine: Ivr, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    (case,) = [c for c in CASES if c.name == name]
    with caplog.at_level(logging.INFO):
        answers, closed = tcp_answers(engine, load(case))
    assert answers and answers[-1].status == case.answer
    framing_error = name in ("ncl", "mcl01")
    assert closed is framing_error  # a framing error: the 400, then the connection is closed
    closes = [r for r in caplog.records if "closing TCP connection" in r.getMessage()]
    assert len(closes) == int(framing_error) and not any(r.exc_info for r in caplog.records)
    engine.check_no_call_errors()


def test_esc01_over_tcp_the_call_ends_with_a_bye_to_our_contact(engine: Ivr) -> None:
    """esc01 with only its SDP addresses moved to loopback (same length, so Content-Length holds: the engine
    sends its audio to 127.0.0.1, not 192.0.2.1); the 200's Contact, built by the engine, takes the BYE."""
    (case,) = [c for c in CASES if c.name == "esc01"]
    data = load(case).replace(b"192.0.2.1", b"127.0.0.1")
    framer = StreamFramer()
    with socket.create_connection(("127.0.0.1", engine.engine.port), timeout=5) as sock:
        sock.sendall(data)

        def final() -> Response:
            while True:
                for raw in framer.feed(sock.recv(65535)):
                    message = parse_message(raw, stream=True)
                    if isinstance(message, Response) and message.status >= 200:
                        return message

        ok = final()
        assert ok.status == 200
        contact = contact_uri(ok)
        assert contact == f"sip:sips%3Auser%40example.com@127.0.0.1:{engine.engine.port};transport=tcp"
        invite = parse_message(data)
        assert isinstance(invite, Request)
        sock.sendall(in_dialog(invite, ok, "ACK", "z9hG4bKtack", "TCP"))
        sock.sendall(in_dialog(invite, ok, "BYE", "z9hG4bKtbye", "TCP"))
        assert final().status == 200
    engine.check_no_call_errors()


def test_mpart01_over_udp_to_a_real_engine(engine: Ivr) -> None:
    """mpart01's Via (127.0.0.1:5070;rport) lets the answer come back to our socket: 501 with Allow."""
    (case,) = [c for c in CASES if c.name == "mpart01"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        sock.sendto(load(case), ("127.0.0.1", engine.engine.port))
        answer = parse_message(sock.recv(65535))
    assert isinstance(answer, Response) and answer.status == 501 and answer.headers.get("Allow")
