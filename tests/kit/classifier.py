"""A table-driven classifier: isolates the flow runner and session from the real one (``flows.classifier``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FakeClassification:
    text: str
    disposition: str
    category: str | None = None
    channel: str | None = None
    rule: str | None = None
    confidence: float = 0.9
    request_type: str | None = "求助"
    confirm: bool = False
    secondary: FakeClassification | None = None


class FakeClassifier:
    """Classifies by the first table keyword found in the text; anything else is ``clarify``."""

    def __init__(self, table: dict[str, FakeClassification] | None = None) -> None:
        self.table = table if table is not None else default_table()
        self.calls: list[str] = []

    def classify(self, text: str) -> FakeClassification:
        self.calls.append(text)
        for keyword, result in self.table.items():
            if keyword in text:
                return FakeClassification(text, result.disposition, result.category, result.channel, result.rule,
                                          result.confidence, result.request_type, result.confirm, result.secondary)
        return FakeClassification(text, "clarify", confidence=0.9, request_type=None)


def default_table() -> dict[str, FakeClassification]:
    def e(rule: str, channel: str, confirm: bool = False) -> FakeClassification:
        return FakeClassification("", "emergency", None, channel, rule, 0.95, "求助", confirm)

    def r(rule: str, channel: str) -> FakeClassification:
        return FakeClassification("", "redirect", None, channel, rule, 0.9, None)

    return {
        "欠薪和离婚": FakeClassification("", "redirect", None, "court", "litigation", 0.8, None, secondary=(
            FakeClassification("", "accept", category="wages", confidence=0.8))),
        "着火": e("fire", "119"),
        "好像有点烟": e("fire", "119", confirm=True),
        "拿刀": e("crime", "110"),
        "叫不醒": e("medical", "120"),
        "撞车": e("traffic_accident", "122"),
        "煤气味": e("gas_leak", "119"),
        "离婚": r("litigation", "court"),
        "仲裁": r("labour_arbitration", "arbitration"),
        "贪污": r("official_misconduct", "12388"),
        "罚款不服": r("admin_reconsideration", "reconsideration"),
        "信访": r("petition_case", "petition"),
        "请不起律师": r("legal_aid", "12348"),
        "商家不退": r("consumer_dispute", "12315"),
        "外地": r("other_city", "other_city_12345"),
        "风水": FakeClassification("", "decline", rule="fengshui", request_type=None),
        "土葬": FakeClassification("", "decline", rule="burial", request_type=None),
        "路灯": FakeClassification("", "accept", category="street_lights", request_type="求助"),
        "噪音": FakeClassification("", "accept", category="noise", request_type="投诉"),
    }
