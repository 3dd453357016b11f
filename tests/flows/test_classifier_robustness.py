"""ASR-style input: homophones matched on pinyin, fillers, dialect, negation, past and hypothetical mentions,
split cases, confirmation of uncertain emergencies, and never crashing on odd input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.classifier import Classifier


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.default()


@pytest.mark.parametrize(
    ("text", "rule", "heard_as"),
    [
        ("楼下着伙了", "fire", "着伙≈着火"),
        ("找火了 在三楼", "fire", "找火≈着火"),
        ("隔壁起伙了 快来", "fire", "起伙≈起火"),
        ("没气泄露了 味道好大", "gas_leak", "没气泄露≈煤气泄"),
        ("一开门全是煤汽味", "gas_leak", "煤汽味≈煤气味"),
        ("出车货了 快来", "traffic_accident", "出车货≈出车祸"),
        ("家里有人昏谜了", "medical", "昏谜≈昏迷"),
    ],
)
def test_homophones_match_on_pinyin_and_are_confirmed(clf: Classifier, text: str, rule: str, heard_as: str) -> None:
    r = clf.classify(text)
    assert (r.disposition, r.rule) == ("emergency", rule), r
    assert any(heard_as in e for e in r.evidence), r.evidence
    if any("≈" in e for e in r.evidence) and r.confidence < 0.8:
        assert r.confirm  # a pinyin-only match is confirmed: 是否需要为您转接119？


def test_exact_words_transfer_without_confirmation(clf: Classifier) -> None:
    r = clf.classify("厨房着火了")
    assert r.disposition == "emergency" and not r.confirm and r.confidence >= 0.9


@pytest.mark.parametrize(
    "text",
    ["大家好 我想问个事", "我们大伙儿想反映一下小区的路灯", "这伙人天天在楼下摆摊", "看人家小区都装了电梯"],
)
def test_common_words_that_sound_like_emergencies_are_not(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert r.disposition != "emergency", r


def test_function_characters_do_not_make_pinyin_matches(clf: Classifier) -> None:
    r = clf.classify("燃气灶一直打不着 是不是没气了")  # 着是 sounds like 肇事
    assert (r.disposition, r.category) == ("accept", "gas")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("嗯 那个 就是 我们这边 然后 停水了", "water"),
        ("呃 那个 啊 就是说 路灯 那个 不亮", "street_lights"),
        ("喂 喂 你好 嗯 那个 我们小区的 那个 垃圾 好几天没人收了", "sanitation"),
    ],
)
def test_fillers(clf: Classifier, text: str, category: str) -> None:
    r = clf.classify(text)
    assert (r.disposition, r.category) == ("accept", category), r


@pytest.mark.parametrize(
    ("text", "disposition", "label"),
    [
        ("莫得水了 一整天了", "accept", "water"),
        ("咋回事啊 俺家又没电了", "accept", "power"),
        ("俺屋头着火了", "emergency", "fire"),
        ("我遭打了 他们还在外头", "emergency", "crime"),
        ("想问下公积金咋提取", "accept", "social_insurance"),
    ],
)
def test_dialect_words(clf: Classifier, text: str, disposition: str, label: str) -> None:
    r = clf.classify(text)
    assert (r.disposition, r.category or r.rule) == (disposition, label), r


def test_negation_not_a_fire_but_a_burst_pipe(clf: Classifier) -> None:
    r = clf.classify("不是着火 是水管爆了 水哗哗地流")
    assert (r.disposition, r.category) == ("accept", "water"), r


def test_a_not_a_question_is_not_a_negation(clf: Classifier) -> None:
    r = clf.classify("厨房里一股臭鸡蛋的味儿 是不是天然气漏了")
    assert (r.disposition, r.rule) == ("emergency", "gas_leak"), r


def test_past_event_with_a_present_problem_is_accepted(clf: Classifier) -> None:
    r = clf.classify("上个月楼里着过火 到现在楼道还是黑的 没人来修")
    assert r.disposition == "accept", r


def test_past_event_alone_is_confirmed_not_dropped(clf: Classifier) -> None:
    r = clf.classify("上个月着过火")
    assert r.disposition == "emergency" and r.confirm and r.rule == "fire"


def test_past_marker_overridden_by_now(clf: Classifier) -> None:
    r = clf.classify("昨天晚上着火了 现在又烧起来了")
    assert r.disposition == "emergency" and not r.confirm


@pytest.mark.parametrize(
    "text",
    ["我们小区消防通道被车堵了 万一着火了消防车进不来", "路口老是出车祸 建议装个红绿灯",
     "楼上往下扔垃圾 差点砸到人"],
)
def test_hazards_and_hypotheticals_are_accepted(clf: Classifier, text: str) -> None:
    assert clf.classify(text).disposition == "accept"


def test_weak_sign_alone_is_confirmed(clf: Classifier) -> None:
    r = clf.classify("楼道里有烟")
    assert r.disposition == "emergency" and r.rule == "fire" and r.confirm


def test_split_wages_and_lawsuit(clf: Classifier) -> None:
    r = clf.classify("老板拖欠我三个月工资 我还要起诉他")
    assert (r.disposition, r.category) == ("accept", "wages"), r
    assert r.secondary is not None
    assert (r.secondary.disposition, r.secondary.channel, r.secondary.rule) == ("redirect", "court", "litigation")


def test_split_lawsuit_first_with_housing_part(clf: Classifier) -> None:
    r = clf.classify("我要起诉我的房东 押金一直不退")
    assert (r.disposition, r.rule) == ("redirect", "litigation")
    assert r.secondary is not None and r.secondary.category == "housing"


def test_split_decline_with_in_scope_part(clf: Classifier) -> None:
    r = clf.classify("我家违建你们别拆 另外楼下的路灯坏了")
    assert (r.disposition, r.rule) == ("decline", "illegal_building")
    assert r.secondary is not None and r.secondary.disposition == "accept"


def test_other_city_versus_visiting_caller(clf: Classifier) -> None:
    assert clf.classify("我在上海的房子漏水 物业不管").rule == "other_city"
    assert clf.classify("我从上海来的 想问问居住证怎么办").category == "hukou"


@pytest.mark.parametrize(
    ("text", "rtype"),
    [
        ("我要投诉楼下的饭店油烟太大", "投诉"),
        ("我要举报有人偷排污水", "举报"),
        ("想咨询一下社保怎么补缴", "咨询"),
        ("建议在小区门口增设一个公交站", "建议"),
        ("我想表扬一下社区的王书记", "表扬"),
        ("家里停电了 帮忙看看", "求助"),
    ],
)
def test_request_types(clf: Classifier, text: str, rtype: str) -> None:
    assert clf.classify(text).request_type == rtype


def test_evidence_names_the_matched_words(clf: Classifier) -> None:
    r = clf.classify("隔壁饭店油烟太大 熏得没法开窗")
    assert r.category == "pollution" and "油烟" in r.evidence


@pytest.mark.parametrize("text", ["", "   ", "！！！？？", "12345", "abc", "🙂🙂", "\x00\x01", "喂" * 2000])
def test_odd_input_never_crashes(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert r.disposition in ("emergency", "accept", "redirect", "decline", "clarify")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_any_text(text: str) -> None:
    r = _CLF.classify(text)
    assert r.disposition in ("emergency", "accept", "redirect", "decline", "clarify")
    assert 0.0 <= r.confidence <= 1.0
    if r.disposition == "emergency":
        assert r.channel in ("110", "119", "120", "122") and r.evidence


_CLF = Classifier.default()


def test_examples_file_teaches_wording_no_keyword_explains(tmp_path: Path) -> None:
    from flows.policy import load_policy

    examples = tmp_path / "examples.txt"
    examples.write_text("# comment\ndecline:malicious\t天天半夜给你们唱歌听\ndecline:malicious\t我给你们唱首歌听听\n"
                        "accept:water\t水龙头不出水了\nbroken line without a tab\n", encoding="utf-8")
    policy = load_policy()
    with_examples = Classifier(policy, sources=[examples])
    without = Classifier(policy, use_examples=False)
    text = "我想给你们唱首歌 听不听"  # no keyword at all
    assert without.classify(text).disposition == "accept" and not without.classify(text).evidence
    r = with_examples.classify(text)
    assert (r.disposition, r.rule) == ("decline", "malicious"), r
    assert r.confidence <= 0.7 and any("唱" in e or "歌" in e for e in r.evidence)
    # a sure keyword decision stands
    assert with_examples.classify("家里停水了") == without.classify("家里停水了")
