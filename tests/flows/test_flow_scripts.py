"""Regression transcripts (tests/flows/scripts) through the real classifier, policy routes and hotline flow,
and the ``hotline flows`` command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.setup import ContextFactory
from flows.simulate import run_script
from hotline.cli import main

SCRIPTS = sorted((Path(__file__).resolve().parent / "scripts").glob("*.txt"))


@pytest.fixture(scope="module")
def factory() -> ContextFactory:
    made = ContextFactory.from_config()
    assert made.classifier is not None, "the policy classifier must load"
    return made


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script(script: Path, factory: ContextFactory) -> None:
    result = run_script(script.read_text(encoding="utf-8"), factory.new_context)
    assert result.ok, "\n".join(result.failures + result.transcript)


def test_a_failing_expectation_fails_the_script(factory: ContextFactory) -> None:
    result = run_script("> 着火了\n? play ask.address\n! play emergency.119\n?end goodbye\n", factory.new_context)
    assert not result.ok and len(result.failures) == 3


def test_cli_simulate_script_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flows", "simulate", "--script", str(SCRIPTS[0])]) == 0
    bad = tmp_path / "bad.txt"
    bad.write_text("> 着火了\n? play goodbye\n", "utf-8")
    assert main(["flows", "simulate", "--script", str(bad)]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flows", "check", "--no-model"]) == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text("flow: b\nstart: a\nnodes:\n  a: {type: say, prompt: greeting}\n", "utf-8")
    assert main(["flows", "check", "--no-model", str(broken)]) == 1
    assert f"{broken}:4: error: node 'a': say node needs 'next'" in capsys.readouterr().out


def test_session_deps_from_configuration() -> None:
    from flows.setup import session_deps
    from tests.kit.handoff import FakeHandoff
    from tests.kit.prompts import FakePrompts

    deps = session_deps(FakePrompts(), FakeHandoff())
    ctx = deps.contexts()
    assert ctx.flow.name == "hotline" and ctx.classifier is not None and ctx.routes["119"].transfer
    assert deps.speech is None and deps.max_call_seconds == 1800 and deps.dependency_timeout == 15
