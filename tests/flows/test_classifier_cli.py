"""``hotline classify`` end to end (the installed console script, in a subprocess) and the keyword syntax."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from flows.classifier import Classifier
from flows.classifier.matcher import Matcher
from flows.classifier.text import Prepared, normalise
from flows.classify_cli import classify_stream
from flows.terms import TermSyntaxError, parse_term

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = ROOT / ".venv" / "bin" / "hotline"
KEYS = ["text", "disposition", "category", "channel", "rule", "confidence"]


def _run(stdin: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    exe = [str(HOTLINE)] if HOTLINE.exists() else [sys.executable, "-m", "hotline"]
    return subprocess.run([*exe, "classify", *args], input=stdin, capture_output=True, timeout=120, cwd=ROOT)


def test_cli_end_to_end() -> None:
    lines = [
        "厨房着火了 快来人",
        json.dumps({"text": "老板拖欠工资三个月了", "id": 7}, ensure_ascii=False),
        "我要起诉我的房东",
        "",
        "喂 你好",
        '{"no_text": 1}',
        "{broken json",
        "你把举报我的人的电话告诉我",
    ]
    proc = _run(("\n".join(lines) + "\n").encode("utf-8"))
    assert proc.returncode == 0, proc.stderr.decode()
    out = [json.loads(x) for x in proc.stdout.decode("utf-8").splitlines()]
    assert len(out) == 7  # the empty line is skipped; bad lines get an error record
    assert list(out[0]) == KEYS
    assert (out[0]["disposition"], out[0]["channel"], out[0]["rule"]) == ("emergency", "119", "fire")
    assert (out[1]["text"], out[1]["disposition"], out[1]["category"]) == ("老板拖欠工资三个月了", "accept", "wages")
    assert (out[2]["disposition"], out[2]["channel"], out[2]["rule"]) == ("redirect", "court", "litigation")
    assert out[3]["disposition"] == "clarify" and out[3]["category"] is None
    assert "error" in out[4] and out[4]["line"] == 6
    assert "error" in out[5] and "JSON" in out[5]["error"]
    assert (out[6]["disposition"], out[6]["rule"], out[6]["channel"]) == ("decline", "privacy", None)
    assert "着火" in proc.stdout.decode("utf-8")  # ensure_ascii=False


def test_cli_explain_and_bad_bytes() -> None:
    proc = _run("楼下着伙了\n".encode() + b"\xff\xfe\n", "--explain")
    assert proc.returncode == 0
    first, second = (json.loads(x) for x in proc.stdout.decode("utf-8").splitlines())
    assert first["confirm"] is True and first["evidence"] == ["着伙≈着火"]
    assert second["disposition"] == "clarify"


def test_cli_invalid_policy(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: 1\n", encoding="utf-8")
    proc = _run(b"x\n", "--policy", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:" in proc.stderr.decode("utf-8") and proc.stdout == b""


def test_classify_stream_counts_bad_lines() -> None:
    out = io.StringIO()
    bad = classify_stream(Classifier.default(), io.StringIO('停水了\n[1, 2]\n"路灯坏了"\n'), out)
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    assert bad == 1 and records[0]["category"] == "water" and "error" in records[1]
    assert records[2]["category"] == "street_lights"


@pytest.mark.parametrize("src", ["", "(a|", "a+", "a&&b", "(a|)", "x^0", "a(b|c)", "a b"])
def test_term_syntax_errors(src: str) -> None:
    with pytest.raises(TermSyntaxError):
        parse_term(src)


def test_term_forms() -> None:
    t = parse_term("~(违建|加盖)&(别拆|保留)+手续^2.5")
    assert t.weight == 2.5 and not t.pinyin
    assert t.groups == ((("违建", "加盖"),), (("别拆", "保留"), ("手续",)))


def _hits(terms: list[str], text: str, gap: int = 8) -> list[str]:
    m = Matcher([(s, parse_term(s)) for s in terms], gap=gap)
    return [h.evidence for h in m.find(Prepared.of(normalise(text)))]


def test_matcher_sequence_gap_and_all_of() -> None:
    assert _hits(["煤气+泄漏"], "煤气那个就是泄漏了") == ["煤气…泄漏"]
    assert _hits(["煤气+泄漏"], "泄漏了煤气") == []
    assert _hits(["煤气+泄漏"], "煤气一二三四五六七八九泄漏", gap=8) == []
    assert _hits(["违建&别拆"], "别拆我家违建") == ["违建…别拆"]


def test_matcher_pinyin_heteronyms_and_known_words() -> None:
    assert _hits(["着火"], "着伙了") == ["着伙≈着火"]
    assert _hits(["打架"], "大家好") == []  # 大家 is a word of its own
    assert _hits(["~着火"], "着伙了") == []
    assert _hits(["煤气泄漏"], "没气泄露") == ["没气泄露≈煤气泄漏"]  # 露 reads lou as well as lu


def test_normalise() -> None:
    assert normalise("ＡＢＣ，着火了！ 119", "") == "abc着火了119"
    assert normalise("嗯着火了", "嗯") == "着火了"
