"""One whole keypad call through the real product: baresip calls ``hotline serve`` (default application, no speech
model, no agents) and does what a caller does; the tests check what the caller heard, what the service logged
and stored, and that malformed SIP sent in the middle of the call changes nothing for the caller.

The call takes about a minute and a half of real audio, so it is made once (module fixture) and each test
checks one promise of the product on it.
"""

from __future__ import annotations

import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from config.loader import load_config
from config.prompts import PromptsConfig
from prompts.service import PromptService
from tests.ivr.peers.harness import Baresip, wait_until, write_tone
from tests.system.system_audio import (
    Match,
    find_prompt,
    longest_hole_ms,
    pcm16,
    pcm_corr,
    read_live_wav,
    segment,
    trim_tail,
)
from tests.system.system_serve import Serve, serve_env

pytestmark = pytest.mark.peers

CALLER = "13800000000"
CONTACT = "13912345678"
KEYPAD_READBACK = {"category": "求助", "address": "稍后由话务员确认", "time": "稍后由话务员确认", "phone": CONTACT}
HEARD = 0.85  # envelope correlation that counts as "this prompt is playing"
MATCH = 0.9  # whole-prompt envelope correlation in the final recording
HOLE_SLACK_MS = 60  # a recorded prompt may have no silent stretch longer than the rendered one's plus this


@dataclass
class CallResult:
    recording: np.ndarray
    prompts: dict[str, np.ndarray]
    heard: dict[str, Match]
    pressed_at: dict[str, float]
    orders: list[dict[str, object]]
    sip_replies: dict[str, bytes | None]
    serve_log: str
    caller_log: str
    serve_exit: int | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _heard(caller: Baresip, prompt: np.ndarray, after_s: float, head_s: float = 2.5, timeout: float = 40.0) -> Match:
    """Wait until the caller's live recording contains the first ``head_s`` of ``prompt`` after ``after_s``."""
    found: list[Match] = []

    def check() -> bool:
        rec = read_live_wav(caller.recording())
        match = find_prompt(rec, prompt, after_s=after_s, head_s=head_s)
        if match.envelope_corr >= HEARD and match.start_s + head_s <= len(rec) / 8000:
            found.append(match)
            return True
        return False

    wait_until(check, timeout, 0.3, what=f"a prompt of {len(prompt) / 8000:.1f} s after {after_s:.1f} s")
    return found[-1]


def _orders(db: Path) -> list[dict[str, object]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute("SELECT * FROM work_orders ORDER BY id").fetchall()
        except sqlite3.OperationalError:
            return []
    return [dict(r) for r in rows]


def _sip_probe(target_port: int, payload: bytes, timeout: float = 3.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        s.sendto(payload.replace(b"@PORT@", str(s.getsockname()[1]).encode()), ("127.0.0.1", target_port))
        try:
            return s.recv(65535)
        except TimeoutError:
            return None


def _request(method: str, port: int, call_id: str | None) -> bytes:
    lines = [
        f"{method} sip:12345@127.0.0.1:{port} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:@PORT@;branch=z9hG4bK{uuid.uuid4().hex[:12]};rport",
        "Max-Forwards: 70",
        f"From: <sip:probe@127.0.0.1>;tag={uuid.uuid4().hex[:8]}",
        f"To: <sip:12345@127.0.0.1:{port}>",
        f"CSeq: 1 {method}",
        "Contact: <sip:probe@127.0.0.1:@PORT@>",
    ]
    if call_id:
        lines.append(f"Call-ID: {call_id}")
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _malformed_sip(port: int) -> dict[str, bytes | None]:
    rng = np.random.default_rng(12345)
    garbage = bytes(rng.integers(0, 256, 600, dtype=np.uint8)) + b"\r\n\r\n"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as burst:  # 200 more, 1 byte to 1400 bytes each
        for size in rng.integers(1, 1400, 200):
            burst.sendto(bytes(rng.integers(0, 256, int(size), dtype=np.uint8)), ("127.0.0.1", port))
    return {
        "garbage": _sip_probe(port, garbage, timeout=1.0),
        "options_without_call_id": _sip_probe(port, _request("OPTIONS", port, None)),
        "invite_without_call_id": _sip_probe(port, _request("INVITE", port, None)),
        "options_after": _sip_probe(port, _request("OPTIONS", port, uuid.uuid4().hex)),
    }


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallResult]:
    root = tmp_path_factory.mktemp("system_call")
    cache = root / "prompt-cache"
    began = time.monotonic()
    service = PromptService.from_config(
        load_config(PromptsConfig, "prompts", env={"HOTLINE_PROMPTS__CACHE_DIR": str(cache)})
    )
    ids = ["greeting", "recording_notice", "asr_unavailable", "menu.keypad", "ask.phone_keypad",
           "confirm.yes_no_keypad", "transfer.no_agent_callback", "goodbye"]  # fmt: skip
    prompts = {i: pcm16(service.audio(i)) for i in ids}
    prompts["confirm.readback"] = pcm16(service.audio("confirm.readback", KEYPAD_READBACK))
    serve = Serve(root / "serve", serve_env(root / "serve", cache), debug=True)
    caller = Baresip(root / "caller", user=CALLER, audio_source=write_tone(root / "silence.wav", 0.0, 240.0, 0.0))
    heard: dict[str, Match] = {}
    pressed: dict[str, float] = {}
    try:
        with _explained(serve, heard, pressed):
            result = _make_the_call(serve, caller, service, prompts, heard, pressed, root, began)
        yield result
    finally:
        caller.stop()
        serve.kill()
        service.close()


@contextmanager
def _explained(serve: Serve, heard: dict[str, Match], pressed: dict[str, float]) -> Iterator[None]:
    """A failure while making the call says what the caller had heard and pressed, and what the server logged."""
    try:
        yield
    except Exception as exc:
        so_far = ", ".join(f"{pid} at {m.start_s:.1f} s" for pid, m in heard.items()) or "nothing"
        keys = ", ".join(f"{step} at {t:.1f} s" for step, t in pressed.items()) or "none"
        what = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
        raise AssertionError(
            f"{what}\ncaller heard: {so_far}; keys pressed: {keys}\n"
            f"--- {serve.log_path}, last 60 lines ---\n{serve.log_tail(60)}"
        ) from exc


def _make_the_call(
    serve: Serve,
    caller: Baresip,
    service: PromptService,
    prompts: dict[str, np.ndarray],
    heard: dict[str, Match],
    pressed: dict[str, float],
    root: Path,
    began: float,
) -> CallResult:
    serve.wait_listening()
    timings = {"serve_start_s": time.monotonic() - began}
    caller.start(dial=f"sip:12345@{serve.target}", seconds=240)

    def rec_s() -> float:
        return caller.recorded_seconds()

    heard["greeting"] = _heard(caller, prompts["greeting"], 0.0, timeout=30)
    heard["recording_notice"] = _heard(caller, prompts["recording_notice"], heard["greeting"].start_s + 2)
    heard["asr_unavailable"] = _heard(caller, prompts["asr_unavailable"], heard["recording_notice"].start_s + 2)
    heard["menu.keypad"] = _heard(caller, prompts["menu.keypad"], heard["asr_unavailable"].start_s + 2, 1.2)
    pressed["menu"] = rec_s()
    caller.press("1")  # 反映问题
    heard["ask.phone_keypad"] = _heard(caller, prompts["ask.phone_keypad"], pressed["menu"], 1.2)
    pressed["phone"] = rec_s()
    for key in CONTACT + "#":
        caller.press(key)
        time.sleep(0.25)  # the caller's own key rhythm (each key needs its RFC 4733 end packets)
    heard["confirm.readback"] = _heard(caller, prompts["confirm.readback"], pressed["phone"], 3.0)
    heard["confirm.yes_no_keypad"] = _heard(
        caller, prompts["confirm.yes_no_keypad"], heard["confirm.readback"].start_s + 10, 1.2
    )
    pressed["confirm"] = rec_s()
    caller.press("1")  # 信息正确
    db = root / "serve" / "hotline.db"
    wait_until(lambda: _orders(db), 15, 0.2, what="a work order in the SQLite database")
    order_no = str(_orders(db)[0]["order_no"])
    prompts["order.created"] = pcm16(service.audio("order.created", {"order_no": order_no}))
    prompts["callback.promise"] = pcm16(service.audio("callback.promise", {"order_no": order_no}))
    heard["order.created"] = _heard(caller, prompts["order.created"], pressed["confirm"], 2.0)
    pressed["malformed_sip"] = rec_s()  # while order.created plays (it cannot be interrupted)
    replies = _malformed_sip(serve.port)
    caller.wait_call_end(timeout=90)
    timings["call_s"] = time.monotonic() - began - timings["serve_start_s"]
    recording = read_live_wav(caller.recording())
    exit_code = serve.terminate()  # SIGTERM after a real call
    return CallResult(
        recording, prompts, heard, pressed, _orders(db), replies, serve.log(), caller.log(), exit_code, timings
    )


def _assert_played_whole(result: CallResult, prompt_id: str, after_s: float) -> Match:
    """The prompt up to its last sound is in the recording after ``after_s``: same energy contour, no new holes."""
    prompt = trim_tail(result.prompts[prompt_id])
    match = find_prompt(result.recording, prompt, after_s=after_s)
    assert match.envelope_corr >= MATCH, (prompt_id, match)
    heard = segment(result.recording, match)
    assert len(heard) >= len(prompt) - 160, f"{prompt_id}: the caller heard only {len(heard) / 8000:.2f} s"
    assert longest_hole_ms(heard) <= longest_hole_ms(prompt) + HOLE_SLACK_MS, f"{prompt_id}: a hole in the audio"
    return match


def test_system_greeting_reaches_a_real_caller(call: CallResult) -> None:
    """Issue 3: the rendered greeting is what a baresip caller hears first, whole and without holes."""
    greeting = call.prompts["greeting"]
    match = _assert_played_whole(call, "greeting", 0.0)
    assert match.start_s < 2.0, f"greeting heard only {match.start_s:.2f} s into the call"
    assert pcm_corr(call.recording, greeting, match.start_s) >= 0.8  # the same waveform, not just similar energy
    following = call.heard["recording_notice"]
    assert following.start_s >= match.start_s + match.duration_s - 0.2, "the greeting was cut short"


def test_system_keypad_mode_without_a_model(call: CallResult) -> None:
    """Issue 4: with no model the IVR says so in the log and to the caller, then takes keys."""
    assert "DTMF (keypad) mode" in call.serve_log
    assert "Traceback" not in call.serve_log
    notice = _assert_played_whole(call, "asr_unavailable", call.heard["recording_notice"].start_s + 2)
    menu = call.heard["menu.keypad"]
    assert menu.start_s >= notice.start_s + notice.duration_s - 0.2
    # the key "1" pressed during the menu was handled: the next question (the phone number) followed it
    assert call.heard["ask.phone_keypad"].start_s >= call.pressed_at["menu"] - 0.5
    assert call.heard["ask.phone_keypad"].start_s < call.pressed_at["menu"] + 6


def test_system_keypad_call_creates_an_order_and_ends_politely(call: CallResult) -> None:
    """The whole keypad call: menu 1, phone number + #, confirm 1 → an order, callback promise, goodbye, BYE."""
    assert len(call.orders) == 1
    order = call.orders[0]
    assert order["contact_number"] == CONTACT
    assert order["caller_number"] == CALLER
    assert order["request_type"] == "求助"
    assert order["due_at"], "the order has no due time"
    called, due = datetime.fromisoformat(str(order["call_time"])), datetime.fromisoformat(str(order["due_at"]))
    assert timedelta(days=5) <= due - called <= timedelta(days=15), (called, due)  # 求助: 5 working days
    assert due.replace(tzinfo=due.tzinfo or UTC).astimezone(ZoneInfo("Asia/Shanghai")).hour == 17  # end of day
    assert order["disposition"] == "accept"
    readback = _assert_played_whole(call, "confirm.readback", call.pressed_at["phone"])  # the number read back
    created = _assert_played_whole(call, "order.created", readback.start_s + 5)
    no_agent = _assert_played_whole(call, "transfer.no_agent_callback", created.start_s + 5)
    promise = _assert_played_whole(call, "callback.promise", no_agent.start_s + 5)
    goodbye = _assert_played_whole(call, "goodbye", promise.start_s + 5)
    assert bool(order["callback_requested"]) and order["status"] == "callback_pending"
    assert order["transfer_outcome"] == "no_agent"
    # the IVR ended the call (the caller never hung up), after the whole goodbye
    assert len(call.recording) / 8000 >= goodbye.start_s + goodbye.duration_s - 0.1
    assert "/hangup" not in call.caller_log


def test_system_malformed_sip_during_a_call(call: CallResult) -> None:
    """Garbage and requests without Call-ID get 400 or nothing; the caller's prompt plays on without a gap."""
    garbage = call.sip_replies["garbage"]
    assert garbage is None or garbage.startswith(b"SIP/2.0 400"), garbage
    for name in ("options_without_call_id", "invite_without_call_id"):
        reply = call.sip_replies[name]
        assert reply is not None and reply.startswith(b"SIP/2.0 400"), (name, reply)
    after = call.sip_replies["options_after"]
    assert after is not None and after.startswith(b"SIP/2.0 200"), after
    created = _assert_played_whole(call, "order.created", call.pressed_at["confirm"])
    assert created.start_s <= call.pressed_at["malformed_sip"] <= created.start_s + created.duration_s
    assert "Traceback" not in call.serve_log


def test_system_sigterm_after_a_call_exits_0(call: CallResult) -> None:
    """``hotline serve`` stops cleanly on SIGTERM after having served the call above."""
    assert call.serve_exit == 0, call.serve_log[-2000:]
    assert "hotline serve: shutting down" in call.serve_log
    assert "Traceback" not in call.serve_log
