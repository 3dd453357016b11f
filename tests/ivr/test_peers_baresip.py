"""Debian baresip calls the engine on 127.0.0.1: audio, RFC 2833 digits, BYE both ways, REFER, bridging."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ivr.app import DialFailed
from tests.ivr.peers.fixtures import BaresipPool, Ivr
from tests.ivr.peers.harness import Baresip, analyse_tone, read_wav, wait_until, write_tone

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip (Debian baresip-core) not installed"),
]

MakePeer = Callable[..., Baresip]


@pytest.fixture
def baresips(tmp_path: Path) -> Iterator[BaresipPool]:
    pool = BaresipPool(tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="module")
def ivr() -> Iterator[Ivr]:
    server = Ivr().start()
    yield server
    server.stop()


def heard(peer: Baresip, what: str = "dec", skip_s: float = 0.0) -> tuple[float, float, int, int]:
    """(dominant Hz, active seconds, silent holes, longest hole ms) of what ``peer`` heard in its last call."""
    path = peer.recording(what)
    assert path is not None, f"{peer.user} recorded nothing"
    samples, rate = read_wav(path)
    report = analyse_tone(samples[int(skip_s * rate) :], rate)
    return report.frequency, report.active_s, report.silent_holes, report.longest_hole_ms


def test_call_answered_audio_digits_and_caller_bye(ivr: Ivr, baresips: MakePeer) -> None:
    caller = baresips("caller", user="13800000001")
    caller.start(dial=ivr.uri(), seconds=40)
    caller.wait_log("Call established")
    record = ivr.record(index=-1)
    assert record.caller == "13800000001" and record.called == "12345"
    wait_until(lambda: record.audio_frames >= 100, 10, what="2 s of the caller's audio at the IVR")
    for digit in "47#":
        caller.press(digit)
        time.sleep(0.3)  # keys are distinct key presses, not one long tone
    wait_until(lambda: len(record.digits) >= 3, 10, what="three RFC 2833 digits at the IVR")
    assert record.digits == [("4", "rfc4733"), ("7", "rfc4733"), ("#", "rfc4733")]
    time.sleep(0.5)
    caller.hangup()
    wait_until(lambda: record.hangup is not None, 10, what="the IVR to see the BYE")
    assert record.hangup == ("remote_bye", True)
    wait_until(lambda: ivr.live_calls() == 0, 5, what="the call to be gone from the engine")
    caller.stop()
    # what the caller heard: the IVR's 440 Hz tone, without gaps, for the whole call
    freq, active, holes, longest = heard(caller)
    assert abs(freq - 440) < 5, freq
    assert active > 2.5
    assert holes == 0, f"{holes} silent 20 ms frames (longest {longest} ms)"
    # what the IVR heard: the caller's 1 kHz tone (RMS well above silence, except while a key is down)
    loud = [r for r in record.audio_rms if r > 3000]
    assert len(loud) >= 0.7 * len(record.audio_rms)


def test_ivr_hangs_up_with_bye(ivr: Ivr, baresips: MakePeer) -> None:
    caller = baresips("caller2")
    caller.start(dial=ivr.uri(), seconds=30)
    caller.wait_log("Call established")
    record = ivr.record(index=-1)
    wait_until(lambda: record.audio_frames >= 25, 10, what="audio")
    caller.press("0")  # the test app hangs up on 0
    caller.wait_call_end()
    assert record.hangup == ("local", False)
    wait_until(lambda: ivr.live_calls() == 0, 5, what="the call to be gone from the engine")


def test_refer_lands_caller_at_agent(ivr: Ivr, baresips: MakePeer, tmp_path_factory: pytest.TempPathFactory) -> None:
    agent_tone = write_tone(tmp_path_factory.mktemp("tone") / "agent.wav", 660.0, 30.0)
    agent = baresips("agent", user="agent", auto_answer=True, audio_source=agent_tone)
    agent.start()
    assert ivr.app is not None
    ivr.app.agent = agent.uri
    caller = baresips("caller3")
    caller.start(dial=ivr.uri(), seconds=40)
    caller.wait_log("Call established")
    record = ivr.record(index=-1)
    wait_until(lambda: record.audio_frames >= 50, 10, what="audio")
    caller.press("9")  # the test app transfers on 9
    wait_until(lambda: record.transfer is not None, 15, what="the transfer result")
    assert record.transfer == {"accepted": True, "succeeded": True, "status": 200}
    agent.wait_log("Call established")
    for peer in (caller, agent):  # let audio flow both ways between caller and agent
        wait_until(lambda p=peer: p.recorded_seconds() >= 2.5, 10, what=f"2.5 s heard by {peer.user}")
    caller.hangup()
    agent.wait_call_end()
    caller.stop()
    agent.stop()
    agent_freq, agent_active, *_ = heard(agent)  # the agent hears the caller's 1 kHz
    assert abs(agent_freq - 1000) < 10 and agent_active > 1.5
    caller_freq, caller_active, *_ = heard(caller)  # the caller's last call: hears the agent's 660 Hz
    assert abs(caller_freq - 660) < 10 and caller_active > 1.5


def test_bridge_caller_and_dialed_agent(ivr: Ivr, baresips: MakePeer, tmp_path_factory: pytest.TempPathFactory) -> None:
    agent_tone = write_tone(tmp_path_factory.mktemp("tone") / "agent.wav", 660.0, 30.0)
    agent = baresips("agent2", user="agent", auto_answer=True, audio_source=agent_tone)
    agent.start()
    assert ivr.app is not None
    ivr.app.agent = agent.uri
    caller = baresips("caller4")
    caller.start(dial=ivr.uri(), seconds=40)
    caller.wait_log("Call established")
    record = ivr.record(index=-1)
    wait_until(lambda: record.audio_frames >= 50, 10, what="audio")
    caller.press("8")  # the test app dials the agent and bridges on 8
    wait_until(lambda: record.bridged or record.dial_error is not None, 15, what="the bridge")
    assert record.bridged, record.dial_error
    agent.wait_log("Call established")
    wait_until(lambda: agent.recorded_seconds() >= 2.5, 10, what="2.5 s heard by the agent")
    caller.hangup()
    agent.wait_call_end()  # the IVR hangs up the agent leg when the caller leaves
    wait_until(lambda: ivr.live_calls() == 0, 5, what="both legs to end")
    caller.stop()
    agent.stop()
    agent_freq, agent_active, *_ = heard(agent)
    assert abs(agent_freq - 1000) < 10 and agent_active > 1.5
    # the caller heard 440 Hz from the IVR first, then the agent's 660 Hz through the bridge
    caller_path = caller.recording()
    assert caller_path is not None
    samples, rate = read_wav(caller_path)
    tail = analyse_tone(samples[-int(1.5 * rate) :], rate)
    assert abs(tail.frequency - 660) < 10, tail


def test_dial_unanswered_agent_is_cancelled(ivr: Ivr, baresips: BaresipPool) -> None:
    agent = baresips("ringing", user="agent")  # no auto-answer: it rings until we CANCEL
    agent.start()

    async def dial() -> DialFailed:
        try:
            await ivr.engine.dial(agent.uri, timeout=1.5)
        except DialFailed as exc:
            return exc
        raise AssertionError("the agent answered")

    failure = ivr.runner.run(dial())
    assert (failure.status, failure.reason) == (0, "timeout")
    agent.wait_log("Incoming call")
    agent.wait_call_end()  # the CANCEL ended the ringing call at the agent
    wait_until(lambda: ivr.live_calls() == 0, 5, what="the cancelled leg to be gone")


def test_two_callers_at_once_each_get_their_audio_and_digits(ivr: Ivr, baresips: BaresipPool) -> None:
    callers = [baresips(f"parallel{i}", user=f"1390000000{i}") for i in range(2)]
    for caller in callers:
        caller.start(dial=ivr.uri(), seconds=40)
    for caller in callers:
        caller.wait_log("Call established")
    records = {}
    for caller in callers:
        wait_until(lambda c=caller: any(r.caller == c.user for r in ivr.records()), 10, what="both calls")
        records[caller.user] = next(r for r in reversed(ivr.records()) if r.caller == caller.user)
    callers[0].press("1")
    callers[1].press("2")
    wait_until(lambda: all(r.digits for r in records.values()), 10, what="a digit on each call")
    assert records[callers[0].user].digits == [("1", "rfc4733")]
    assert records[callers[1].user].digits == [("2", "rfc4733")]
    for caller in callers:
        wait_until(lambda c=caller: c.recorded_seconds() >= 2.0, 10, what="2 s of audio")
        caller.hangup()
        caller.wait_call_end()
        caller.stop()
        freq, active, holes, longest = heard(caller)
        assert abs(freq - 440) < 5 and active >= 1.5 and holes == 0, (freq, active, holes, longest)
