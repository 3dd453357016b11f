"""Any sequence of events leaves the runner consistent: no exception, no action after the end, a hang-up ends."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.events import (
    Digits,
    Event,
    Failed,
    Hangup,
    HangupCall,
    NoInput,
    NoMatch,
    OrderCreated,
    Play,
    PromptDone,
    Recognized,
    Started,
    TransferDone,
)
from flows.loader import load_flow
from flows.runner import ChannelRoute, Context, new_call, step
from tests.kit.classifier import FakeClassifier

FLOW = load_flow(Path(__file__).resolve().parents[2] / "flows" / "definitions" / "hotline.yaml")
CTX = Context(FLOW, FakeClassifier(), {"119": ChannelRoute(True, "119")})
WORDS = ["着火了", "路灯坏了", "风水", "离婚", "人工", "对", "不是", "城东区", "幺三八幺二三四五六七八", "", "嗯"]

events = st.one_of(
    st.builds(Recognized, st.sampled_from(WORDS), st.just(""), st.floats(0, 1), st.booleans()),
    st.builds(Digits, st.text(alphabet="0123456789*#", max_size=13), st.booleans()),
    st.just(NoInput()), st.builds(NoMatch), st.builds(PromptDone, st.integers(0, 40), st.booleans()),
    st.builds(OrderCreated, st.just("X1")), st.builds(Failed, st.just("boom")),
    st.builds(TransferDone, st.sampled_from(["bridged", "transferred", "no_agent", "failed", "caller_hung_up"])),
    st.builds(Hangup), st.builds(Started, st.just("c"), st.just("1"), st.booleans()),
)


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.lists(events, max_size=60))
def test_random_event_sequences(speech: bool, sequence: list[Event]) -> None:
    state, actions = step(new_call(CTX), Started("c", "13800000000", speech))
    last_play = max((a.play_id for a in actions if isinstance(a, Play)), default=0)
    for event in sequence:
        if isinstance(event, PromptDone) and event.play_id == 0:
            event = PromptDone(last_play)  # often the one the runner waits for
        was_done = state.finished
        state, actions = step(state, event)
        last_play = max([last_play, *(a.play_id for a in actions if isinstance(a, Play))])
        if was_done:
            assert actions == []
        if isinstance(event, Hangup):
            assert state.finished and not any(isinstance(a, Play) for a in actions)
        if any(isinstance(a, HangupCall) for a in actions):
            assert state.finished


TEXT = (Path(__file__).resolve().parents[2] / "flows" / "definitions" / "hotline.yaml").read_text("utf-8")
LINES = TEXT.splitlines()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(LINES) - 1), st.sampled_from(["", "  x: [", "type: 5", "- a", "  bad: {type: menu}",
                                                         "    retries: ten", "nodes: 1", "\t", "  : :"]))
def test_mangled_flow_files_give_flow_errors_only(line: int, replacement: str) -> None:
    from flows.loader import FlowError, parse_flow

    text = "\n".join([*LINES[:line], replacement, *LINES[line + 1:]])
    try:
        parse_flow(text, "h.yaml")
    except FlowError as exc:
        assert exc.problems and all(p.file == "h.yaml" and p.line >= 1 for p in exc.problems)
