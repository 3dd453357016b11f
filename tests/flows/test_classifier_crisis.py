"""Suicide and missing-person emergencies, emergencies as situations rather than words, and the product rule.

Every sentence here was written for this file by the classifier developer and is in no training file and no corpus
(so these check generalisation of the rules, not training fit).
"""

from __future__ import annotations

import pytest
import yaml

from flows.classifier import Classifier
from flows.policy import DEFAULT_PATH, PolicyError, load_policy, parse_policy
from tests.flows.classifier_checks import rules_classifier


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.default()


SUICIDE = [
    "我跟你们说 我真的撑不住了 我想死 药我都准备好了",
    "我在楼顶 往下看挺高的 我不想活了 就想找个人说一声",
    "喂 我老公刚才发消息说活够了 让我照顾好孩子 电话再打就关机了",
    "我妹妹把自己锁在卫生间里 说要割腕 我们在外面怎么叫都不开",
    "你好，我室友刚在宿舍里写了一封遗书，人现在不见了，我很害怕。",
]

MISSING = [
    "我爸有老年痴呆 下午说去楼下遛弯 到现在天黑了还没回来 手机也没带",
    "我家孙女在菜市场门口走丢了 四岁 扎两个小辫子 穿红衣服",
    "我们小区门口有个小女孩一个人在哭 问她也说不清家在哪 找不到妈妈了",
    "婆婆糊涂好几年了 今天早上出门买早点 到现在联系不上 我们到处找了",
    "我外孙今年八岁 下午去同学家写作业 说好五点回来 现在七点多了还没回家 同学家说他早走了 我们小区里都找遍了",
]

# Signs of a stroke or of a fall the person cannot get up from, told without asking for an ambulance.
MEDICAL_SIGNS = [
    "我在公交站这边 旁边一个大爷刚才坐着坐着嘴巴歪了 跟他说话也说不清 手一直抖",
    "我是住在六楼的 我家老头子刚刚在卫生间滑倒了 人是醒的 就是起不来 喊腰疼",
]

# The same words, no danger now: not emergencies.
NOT_EMERGENCIES = [
    "说起物业我就冒火 收了钱楼道灯坏了三个月都不修 我们是锦苑小区的",
    "我孙子在那个培训机构报了名 交了三千块钱 现在机构跑路了 钱一直没退回来 找了街道也没人管",
]


@pytest.mark.parametrize("text", MEDICAL_SIGNS)
def test_signs_of_a_stroke_or_a_fall_without_getting_up_are_medical_emergencies(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert (r.disposition, r.channel) == ("emergency", "120"), r


@pytest.mark.parametrize("text", NOT_EMERGENCIES)
def test_anger_and_a_child_named_in_an_ordinary_complaint_raise_no_alarm(clf: Classifier, text: str) -> None:
    assert clf.classify(text).disposition != "emergency"


@pytest.mark.parametrize("text", SUICIDE)
def test_suicidal_statements_are_emergencies_with_their_own_rule(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert (r.disposition, r.rule) == ("emergency", "suicide"), r
    assert r.channel == load_policy().emergency_channel("suicide") and r.evidence, r


@pytest.mark.parametrize("text", MISSING)
def test_missing_vulnerable_people_are_emergencies(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert (r.disposition, r.rule, r.channel) == ("emergency", "missing_person", "110"), r


@pytest.mark.parametrize("text", [
    "孩子的疫苗接种本丢了 想问一下去哪里补办",
    "我家狗丢了两天了 能不能帮忙发个寻狗启事",
    "我们快递不见了 驿站说已经签收 我想投诉",
])
def test_lost_things_are_not_missing_people(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert r.disposition != "emergency", r


@pytest.mark.parametrize("text", [
    # a figure of speech inside a complaint is not a suicidal statement
    "我们家就靠这点补贴过日子，街道一直拖着不发，再这样下去真的活不下去了，请领导帮忙催一下，我们已经等了四个多月了。",
    # hazards and past events inside a long narrative: in scope, not an emergency
    "我们那栋楼的配电房上个月冒过一次烟，电力公司来换了个开关，可是现在里面又一直嗡嗡响，晚上吵得人睡不着觉，我们担心哪天又出事，想请供电部门再来看看。",
    "上个礼拜我停在小区门口的电动车被偷了，门口的监控早就坏了，物业一直说报修了，请督促物业把监控修好。",
    "我要反映一下东湖路那个小卖部 里面天天有人打牌 声音很大 一直到半夜",
    # typed text: no homophone matching (街道|花家地 is an address, not 刀划)
    "朝阳区望京街道花家地小区3号楼的楼道灯坏了一个月了，请物业尽快修。",
    "屋里只有十二度，家里有老人，暖气一直不热。",
    # the parts of a pattern stay inside one sentence (高血压。… 人 is no 压人); 干不动了 is no one lying still
    "我今年五十八了，有高血压。人老了干不动了，想问问提前退休需要什么条件？",
])
def test_words_in_a_narrative_are_not_an_emergency(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert r.disposition == "accept", r


def test_pinyin_matches_only_inside_words_and_only_for_speech(clf: Classifier) -> None:
    spoken = clf.classify("我们在望京街道花家地小区三号楼 楼道灯坏了")
    assert spoken.disposition != "emergency", spoken  # 道花 straddles 街道|花家地
    assert clf.classify("楼下着伙了 快来").rule == "fire"  # a homophone word (着伙) is still heard as 着火
    rules = rules_classifier()  # the keyword rules alone: evidence ≈ would be a pinyin match
    assert any("≈" in e for e in rules.classify("楼下着伙了 快来").evidence)
    typed = rules.classify("楼下着伙了，快来", typed=True)
    assert not any("≈" in e for e in typed.evidence), typed  # typed text has no ASR homophones
    assert rules.classify("楼下着伙了，快来").evidence == typed.evidence  # punctuation: typed


def test_a_pause_separates_words(clf: Classifier) -> None:
    r = clf.classify("你们这个电话怎么这么难打 我打了一上午才打通")
    assert r.disposition != "emergency", r  # 难打|我打了: nobody is hitting the caller


def test_long_government_complaint_is_not_turned_away_by_the_model_alone(clf: Classifier) -> None:
    r = clf.classify("我们村去年修路占了我家两分地，镇政府当时说好按标准补偿，到现在一年多了一分钱没见到，"
                     "我去镇上问了好几次，每次都说在走程序，请上级督促镇政府把补偿落实。")
    assert r.disposition == "accept", r


def _policy_with(**city: object) -> str:
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    data["cities"][data["active_city"]].update(city)
    return yaml.safe_dump(data, allow_unicode=True)


def test_city_decides_the_suicide_channel_and_support_line() -> None:
    p = parse_policy(_policy_with(emergency_channels={"suicide": "120"}), "p.yaml")
    assert p.emergency_channel("suicide") == "120"
    assert "emergency.120" in p.prompt_ids()
    r = Classifier(p).classify("我不想活了 药都吃下去了一半")
    assert (r.rule, r.channel) == ("suicide", "120"), r
    line = load_policy().support_line("suicide")
    assert line is not None and line.number == "12356" and line.name == "心理援助热线"
    assert parse_policy(_policy_with(support_lines={}), "p.yaml").support_line("suicide") is None


@pytest.mark.parametrize(("city", "message"), [
    ({"support_lines": {"suicide": "12315"}}, "is not a support channel"),
    ({"support_lines": {"suicide": "nope"}}, "is not a support channel"),
    ({"emergency_channels": {"arson": "110"}}, "unknown emergency rule"),
])
def test_city_crisis_settings_are_validated(city: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(_policy_with(**city), "p.yaml")


def test_thresholds_are_validated() -> None:
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    data["thresholds"]["lone_weak_max_chars"] = 0
    with pytest.raises(PolicyError, match=r"thresholds\.lone_weak_max_chars"):
        parse_policy(yaml.safe_dump(data, allow_unicode=True), "p.yaml")
    data = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    data["learned"]["turn_away_max_chars"] = -1
    with pytest.raises(PolicyError, match=r"learned\.turn_away_max_chars"):
        parse_policy(yaml.safe_dump(data, allow_unicode=True), "p.yaml")


@pytest.mark.parametrize("text", [
    "我之前在苏州交了八年公积金，现在调过来这边上班了，想问公积金能不能转过来，在这边怎么办？",
    "我老家是河南的 户口也在那边 现在在这边上班 想问灵活就业的社保能不能在这边交",
])
def test_a_procedure_here_that_names_another_place_is_not_sent_there(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert r.disposition == "accept", r


def test_a_matter_located_elsewhere_is_still_sent_there(clf: Classifier) -> None:
    r = clf.classify("我在苏州工业园区那边 我们小区门口的路灯坏了好几天了")
    assert (r.disposition, r.rule) == ("redirect", "other_city"), r


def test_reporting_someone_elses_illegal_building_is_accepted(clf: Classifier) -> None:
    own = clf.classify("我家院子里盖了个棚子 城管说是违建要拆 你们跟城管说说别拆")
    assert (own.disposition, own.rule) == ("decline", "illegal_building"), own
    other = clf.classify("我要举报我们楼下有户人家在院子里盖了个棚子 城管说要拆 到现在还在 你们跟城管说说别拖了")
    assert other.disposition == "accept", other


def test_asking_why_a_benefit_was_refused_is_accepted(clf: Classifier) -> None:
    r = clf.classify("街道说我家不符合低保条件，可是一直没说为什么，我想要一个书面答复。")
    assert r.disposition == "accept", r


def test_negative_list_patterns_stay_inside_one_clause() -> None:
    from flows.classifier.matcher import Matcher
    from flows.classifier.text import Prepared, normalise, split_breaks
    from flows.terms import parse_term

    entries = [("rule:x", parse_term("退钱+不给")), ("cat:y", parse_term("退钱+不给")),
               ("rule:z", parse_term("退钱&不给"))]
    m = Matcher(entries, clause_labels=("rule:",))

    def labels(text: str) -> set[str]:
        norm, breaks, stops = split_breaks(normalise(text, breaks=True))
        return {h.label for h in m.find(Prepared.of(norm, breaks=breaks, stops=stops))}

    assert labels("他说退钱又不给") == {"rule:x", "cat:y", "rule:z"}
    assert labels("他说退钱 我说不给") == {"cat:y", "rule:z"}  # a pause: a rule's A+B is two statements
    assert labels("他说退钱。我说不给") == set()  # a sentence end: no A+B at all, and no A&B for a rule
    assert labels("他说退钱。我说不给，还不给退钱。") == {"rule:z"}  # A&B both inside the second sentence


@pytest.mark.parametrize(("text", "channel"), [
    ("那个 你们 能不能 来一辆120 好不好 我头晕 站不住了", "120"),
    ("我要120 我 我胸口闷 说不出话", "120"),
    ("喂 派个警察过来行不行 有个男的一直在踹我家门", "110"),
])
def test_an_explicit_request_for_an_emergency_service_in_broken_speech(clf: Classifier, text: str,
                                                                       channel: str) -> None:
    r = clf.classify(text)
    assert (r.disposition, r.channel) == ("emergency", channel), r
