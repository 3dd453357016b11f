"""The shared identifiers (see flows/policy.yaml, their home) that the flow engine needs without the policy.

Used to expand templated prompt ids (``redirect.{channel}``) in ``hotline flows check`` and to name a category
when the classifier gives only its code.
"""

from __future__ import annotations

DISPOSITIONS = ("emergency", "accept", "redirect", "decline", "clarify")
EMERGENCY_CHANNELS = ("110", "119", "120", "122")
REDIRECT_CHANNELS = ("court", "arbitration", "12388", "reconsideration", "petition", "12348", "12315",
                     "other_city_12345")
CHANNELS = EMERGENCY_CHANNELS + REDIRECT_CHANNELS
EMERGENCY_RULES = {"fire": "119", "gas_leak": "119", "crime": "110", "medical": "120", "traffic_accident": "122"}
REDIRECT_RULES = {"litigation": "court", "labour_arbitration": "arbitration", "official_misconduct": "12388",
                  "admin_reconsideration": "reconsideration", "petition_case": "petition", "legal_aid": "12348",
                  "consumer_dispute": "12315", "other_city": "other_city_12345"}
DECLINE_RULES = ("privacy", "illegal_building", "burial", "fengshui", "benefits_ineligible", "job_demand",
                 "dismiss_official", "malicious", "repeat", "beyond_policy")
CATEGORY_NAMES = {
    "heating": "供暖", "water": "供水", "power": "供电", "gas": "燃气", "roads": "道路", "street_lights": "路灯",
    "sanitation": "环境卫生", "noise": "噪音扰民", "pollution": "环境污染", "street_vending": "占道经营",
    "wages": "劳动工资", "social_insurance": "社会保险", "education": "教育", "transport": "交通出行",
    "food_safety": "食品安全", "business_licence": "证照办理", "health": "医疗卫生", "hukou": "户籍",
    "housing": "住房", "property_management": "物业管理", "elderly_care": "养老服务", "pets": "宠物管理",
    "greening": "园林绿化", "other": "其他",
}
# values a template placeholder may take, for static checks of templated prompt ids
TEMPLATE_VALUES: dict[str, tuple[str, ...]] = {
    "channel": CHANNELS,
    "rule": DECLINE_RULES + tuple(REDIRECT_RULES) + tuple(EMERGENCY_RULES),
    "disposition": DISPOSITIONS,
}
