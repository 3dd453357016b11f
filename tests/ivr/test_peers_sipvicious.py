"""SIPVicious (Debian ``sipvicious``: svmap, svwar, svcrack) against the engine, on 127.0.0.1 only.

svwar cannot tell registrar users from other names; svcrack is locked out before it reaches the password (one log
line); svmap, svwar and svcrack scanning during a SIPp call leave the call untouched.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.ivr import GuardConfig, RegistrarUser
from tests.ivr.peers.fixtures import Ivr
from tests.ivr.peers.harness import SippResult, free_port, run_sipp, wait_until

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(shutil.which("svwar") is None, reason="sipvicious (Debian package) not installed"),
]

USERS = [RegistrarUser(username="1001", password="agent-pw"), RegistrarUser(username="1005", password="pw-1005")]
STATIC = {"1003": "sip:1003@127.0.0.1:5999"}  # an agent extension that exists without registering
WORDS = ["123456", "1001", "password", "12345", "agent", "agent-pw", "qwerty"]  # the real one is 6th
GUARD_LOG = "ivr.engine.guard"


@pytest.fixture
def ivr_factory() -> Iterator[list[Ivr]]:
    started: list[Ivr] = []
    yield started
    for server in started:
        server.stop()


def start_ivr(started: list[Ivr], **guard: object) -> Ivr:
    server = Ivr(registrar_users=USERS, static_agents=STATIC, guard=GuardConfig(**guard)).start()  # type: ignore[arg-type]
    started.append(server)
    return server


def sipvicious(tool: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run one tool from its own free local port (-P), never 5060."""
    return subprocess.run([tool, "-P", str(free_port()), *args], capture_output=True, text=True, timeout=timeout)


def table(output: str) -> dict[str, str]:
    """svwar/svcrack/svmap result table: first column -> second column."""
    rows = re.findall(r"(?m)^\| (\S+)\s+\| (\S.*?)\s+\|$", output)
    return {a: b for a, b in rows if a not in ("Extension", "SIP")}


def svwar(ivr: Ivr, *args: str) -> subprocess.CompletedProcess[str]:
    return sipvicious("svwar", "-e1001-1010", *args, f"udp://{ivr.target}")


def test_svwar_register_scan_finds_no_extension(ivr_factory: list[Ivr]) -> None:
    ivr = start_ivr(ivr_factory, rate=0.0)  # no rate limit: it is the answers that give nothing away
    plain = svwar(ivr)  # REGISTER, svwar's default
    assert table(plain.stdout) == {} and "found nothing" in plain.stderr, plain.stdout + plain.stderr
    # told to go on although an unknown name got a challenge: every name gets that same 401, none stands out
    forced = svwar(ivr, "--force")  # the range starts with 1001, a registrar user
    assert table(forced.stdout) == {} and "found nothing" in forced.stderr, forced.stdout + forced.stderr
    assert "exists" not in forced.stderr


def test_svwar_options_and_invite_scans_answer_every_name_alike(ivr_factory: list[Ivr]) -> None:
    ivr = start_ivr(ivr_factory, rate=0.0)
    options = svwar(ivr, "-m", "OPTIONS")
    assert table(options.stdout) == {} and "found nothing" in options.stderr, options.stdout + options.stderr
    invite = svwar(ivr, "-m", "INVITE")  # the hotline answers any number it is called at
    found = table(invite.stdout)
    probed = {str(n) for n in range(1001, 1011)}
    assert probed <= set(found) or not (probed & set(found)), found  # all or none of the range ...
    assert len(set(found.values())) <= 1, found  # ... with one and the same verdict
    assert len(found) in (0, len(probed) + 1), found  # + svwar's own random "surely unknown" name


def test_svcrack_is_locked_out_before_the_right_password(
    ivr_factory: list[Ivr], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, GUARD_LOG)
    ivr = start_ivr(ivr_factory, auth_max_failures=3, auth_window=60.0, auth_lock_seconds=600.0)
    words = tmp_path / "words.txt"
    words.write_text("\n".join(WORDS) + "\n")
    result = sipvicious("svcrack", "-u", "1001", "-d", str(words), f"udp://{ivr.target}")
    assert table(result.stdout) == {} and "found nothing" in result.stderr, result.stdout + result.stderr
    assert "agent-pw" not in result.stdout + result.stderr
    lines = [r.getMessage() for r in caplog.records if r.name == GUARD_LOG and "lock-out" in r.getMessage()]
    assert lines == ["REGISTER lock-out: source 127.0.0.1 and user 1001 locked for 600 s after 3 failed digests "
                     "within 60 s"]  # fmt: skip
    assert ivr.runner.call(lambda: ivr.engine.registrar.lookup("1001", ivr.engine.now())) is None


def test_svcrack_finds_the_password_without_the_lockout(ivr_factory: list[Ivr], tmp_path: Path) -> None:
    """The control: the same attack with a lock-out it never reaches cracks the password."""
    ivr = start_ivr(ivr_factory, auth_max_failures=100)
    words = tmp_path / "words.txt"
    words.write_text("\n".join(WORDS) + "\n")
    result = sipvicious("svcrack", "-u", "1001", "-d", str(words), f"udp://{ivr.target}")
    assert table(result.stdout) == {"1001": "agent-pw"}, result.stdout + result.stderr


def test_scans_during_a_call_leave_it_alone(ivr_factory: list[Ivr], tmp_path: Path) -> None:
    ivr = start_ivr(ivr_factory, auth_max_failures=3)
    outcome: list[SippResult] = []
    caller = threading.Thread(target=lambda: outcome.append(run_sipp("scanned_call.xml", ivr.target, tmp_path)))
    caller.start()
    try:
        wait_until(lambda: ivr.live_calls() == 1, 10, what="the SIPp call to be answered")
        words = tmp_path / "words.txt"
        words.write_text("\n".join(WORDS) + "\n")
        scans: dict[str, subprocess.CompletedProcess[str]] = {}
        live_after: dict[str, int] = {}

        def scan(name: str, args: tuple[str, ...]) -> None:
            scans[name] = sipvicious(*args)
            live_after[name] = ivr.live_calls()

        runs = {
            "svmap": ("svmap", "127.0.0.1", "-p", str(ivr.engine.port)),
            "svwar": ("svwar", "--force", "-e1000-1010", f"udp://{ivr.target}"),
            "svcrack": ("svcrack", "-u", "1005", "-d", str(words), f"udp://{ivr.target}"),  # sends at once, then waits
        }
        threads = [threading.Thread(target=scan, args=item) for item in runs.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        caller.join(60)
    assert live_after["svmap"] == live_after["svwar"] == 1, live_after  # the call was up all through these scans
    assert f"127.0.0.1:{ivr.engine.port}" in table(scans["svmap"].stdout), scans["svmap"].stdout  # it did scan
    assert table(scans["svwar"].stdout) == {} and table(scans["svcrack"].stdout) == {}
    (result,) = outcome
    assert result.ok, result.stderr + result.messages
    (record,) = ivr.records()
    wait_until(lambda: record.hangup is not None, 5, what="the call to end")
    assert record.hangup == ("remote_bye", True) and record.digits == [("5", "info")]
    assert ivr.call_errors() == 0


def test_call_acl_refuses_a_sipp_call_from_outside_and_takes_one_from_inside(
    ivr_factory: list[Ivr], tmp_path: Path
) -> None:
    outside = start_ivr(ivr_factory, call_acl=["10.0.0.0/8"])
    result = run_sipp("acl_refused.xml", outside.target, tmp_path / "out")
    assert result.ok, result.stderr + result.messages
    assert outside.records() == [] and outside.runner.call(lambda: outside.engine.core.stats["acl_refused"]) == 1
    inside = start_ivr(ivr_factory, call_acl=["10.0.0.0/8", "127.0.0.0/8"])
    result = run_sipp("bye_from_ivr.xml", inside.target, tmp_path / "in")
    assert result.ok, result.stderr + result.messages


def test_svwar_flood_is_rate_limited_and_logged_once(
    ivr_factory: list[Ivr], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, GUARD_LOG)
    ivr = start_ivr(ivr_factory, rate=20.0, burst=20)
    sipvicious("svwar", "-m", "OPTIONS", "-e1000-1299", f"udp://{ivr.target}")  # as fast as it can
    limited = ivr.runner.call(lambda: ivr.engine.core.stats["rate_limited"])
    assert limited > 0
    lines = [r.getMessage() for r in caplog.records if r.name == GUARD_LOG]
    assert len(lines) == 1 and "127.0.0.1" in lines[0], lines  # once per source per minute, not per message
