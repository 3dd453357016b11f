"""SIPp against the engine: OPTIONS, CANCEL, retransmitted INVITE, INFO DTMF, re-INVITE hold, 488, BYE by IVR."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ivr.peers.fixtures import Ivr
from tests.ivr.peers.harness import run_sipp, wait_until

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (Debian sip-tester) not installed"),
]


@pytest.fixture(scope="module")
def ivr() -> Iterator[Ivr]:
    server = Ivr().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ringing_ivr() -> Iterator[Ivr]:
    server = Ivr(answer_delay=5.0).start()
    yield server
    server.stop()


def received(messages: str, start: str) -> list[str]:
    """Messages SIPp received (from its -trace_msg log) whose first line starts with ``start``."""
    out = []
    for block in re.split(r"-{10,} [^\n]*\n", messages):
        kind, _, text = block.partition("\n")
        text = text.strip().replace("\r\n", "\n")
        if "message received" in kind and text.startswith(start):
            out.append(text)
    return out


def header(message: str, name: str) -> str:
    match = re.search(rf"(?im)^{name}\s*:\s*(.*)$", message)
    return match.group(1).strip() if match else ""


def test_options_gets_200_with_allow(ivr: Ivr, tmp_path: Path) -> None:
    result = run_sipp("options.xml", ivr.target, tmp_path, calls=3)
    assert result.ok, result.stderr + result.messages
    oks = received(result.messages, "SIP/2.0 200")
    assert len(oks) == 3
    assert "INVITE" in header(oks[0], "Allow") and "INFO" in header(oks[0], "Allow")


def test_cancel_gets_200_and_487(ringing_ivr: Ivr, tmp_path: Path) -> None:
    result = run_sipp("cancel.xml", ringing_ivr.target, tmp_path, calls=2)
    assert result.ok, result.stderr + result.messages
    assert len(received(result.messages, "SIP/2.0 487")) >= 2
    wait_until(lambda: ringing_ivr.live_calls() == 0, 5, what="cancelled calls to end")
    assert not ringing_ivr.records()  # never answered: the application never saw them


def test_retransmitted_invite_gets_the_same_response(ivr: Ivr, tmp_path: Path) -> None:
    result = run_sipp("retransmit.xml", ivr.target, tmp_path, extra=["-nr"])  # -nr: no SIPp auto-resend loop
    assert result.ok, result.stderr + result.messages
    oks = [m for m in received(result.messages, "SIP/2.0 200") if "INVITE" in header(m, "CSeq")]
    assert len(oks) >= 2
    assert len({header(m, "To") for m in oks}) == 1  # same dialog (To tag), never a 481 or a second call
    assert len({m.split("\n\n", 1)[-1] for m in oks}) == 1  # same SDP answer
    assert not received(result.messages, "SIP/2.0 481")
    record = ivr.record(header(oks[0], "Call-ID"))
    wait_until(lambda: record.hangup is not None, 5, what="the call to end")
    assert record.hangup == ("remote_bye", True)


def test_info_dtmf_reaches_the_application(ivr: Ivr, tmp_path: Path) -> None:
    result = run_sipp("info_dtmf.xml", ivr.target, tmp_path)
    assert result.ok, result.stderr + result.messages
    call_id = header(received(result.messages, "SIP/2.0 200")[0], "Call-ID")
    record = ivr.record(call_id)
    wait_until(lambda: record.hangup is not None, 5, what="the call to end")
    assert record.digits == [("5", "info"), ("7", "info"), ("*", "info")]
    # "*" made the app stop the tone and play a beep: the tone ends early, the beep plays to the end
    assert [completed for _, completed in record.playbacks] == [False, True]


def test_reinvite_hold_and_unhold(ivr: Ivr, tmp_path: Path) -> None:
    result = run_sipp("hold.xml", ivr.target, tmp_path)
    assert result.ok, result.stderr + result.messages  # the scenario checks a=recvonly, then a=sendrecv
    oks = [m for m in received(result.messages, "SIP/2.0 200") if "INVITE" in header(m, "CSeq")]
    versions = [re.search(r"(?m)^o=\S+ \d+ (\d+)", m).group(1) for m in oks]  # type: ignore[union-attr]
    assert len(set(versions)) == len(versions) == 3  # a new SDP version for every answer


def test_no_common_codec_gets_488(ivr: Ivr, tmp_path: Path) -> None:
    result = run_sipp("no_codec.xml", ivr.target, tmp_path)
    assert result.ok, result.stderr + result.messages
    assert received(result.messages, "SIP/2.0 488")


def test_ivr_hangs_up_with_bye(ivr: Ivr, tmp_path: Path) -> None:
    result = run_sipp("bye_from_ivr.xml", ivr.target, tmp_path)
    assert result.ok, result.stderr + result.messages
    assert received(result.messages, "BYE ")


def test_rfc2833_digits_from_sipp_reach_the_application(ivr: Ivr, tmp_path: Path) -> None:
    result = run_sipp("rtp_dtmf.xml", ivr.target, tmp_path)
    assert result.ok, result.stderr + result.messages
    call_id = header(received(result.messages, "SIP/2.0 200")[0], "Call-ID")
    record = ivr.record(call_id)
    wait_until(lambda: record.hangup is not None, 5, what="the call to end")
    assert record.digits == [("1", "rfc4733"), ("2", "rfc4733")]
