"""Due times: working days over a holiday calendar with 调休 working weekends; type/urgency/category rules."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bridge.deadlines import WorkCalendar, due_time, load_policy_rules, pick_rule
from config import load_config
from config.bridge import BridgeConfig, DeadlineRule

TZ = ZoneInfo("Asia/Shanghai")
CFG = load_config(BridgeConfig, "bridge", env={})
CAL = WorkCalendar.of(CFG.calendar.holidays, CFG.calendar.working_weekends)


def test_weekend_skipped() -> None:
    fri = datetime(2026, 11, 27, 10, tzinfo=TZ)
    assert CAL.add_working_days(fri, 1) == datetime(2026, 11, 30, 17, tzinfo=TZ)  # Monday
    assert CAL.add_working_days(fri, 5) == datetime(2026, 12, 4, 17, tzinfo=TZ)


def test_national_day_holidays_and_make_up_saturday() -> None:
    before = datetime(2026, 9, 30, 9, tzinfo=TZ)  # Wednesday before 国庆
    # Oct 1-7 off, Oct 8 (Thu) working, Oct 9 (Fri), Oct 10 (Sat, 调休) working
    assert CAL.add_working_days(before, 1) == datetime(2026, 10, 8, 17, tzinfo=TZ)
    assert CAL.add_working_days(before, 3) == datetime(2026, 10, 10, 17, tzinfo=TZ)
    assert CAL.is_working_day(date(2026, 9, 20)) and not CAL.is_working_day(date(2026, 10, 3))


def test_rules_by_type_urgency_and_category() -> None:
    mon = datetime(2026, 11, 23, 10, tzinfo=TZ)
    d = CFG.deadlines
    assert due_time(d, CAL, {}, mon, "咨询", "normal", "noise") == datetime(2026, 11, 25, 17, tzinfo=TZ)
    assert due_time(d, CAL, {}, mon, "投诉", "normal", "noise") == datetime(2026, 12, 7, 17, tzinfo=TZ)
    assert due_time(d, CAL, {}, mon, "投诉", "normal", "heating") == datetime(2026, 11, 24, 10, tzinfo=TZ)
    assert due_time(d, CAL, {}, mon, "投诉", "emergency", "noise") == datetime(2026, 11, 23, 12, tzinfo=TZ)
    assert pick_rule(d, {}, "投诉", "emergency", "heating")[1] == "urgency:emergency"


def test_policy_file_category_rules(tmp_path: Path) -> None:
    p = tmp_path / "policy.yaml"
    p.write_text("categories:\n  pets: {name: 宠物, deadline: {working_days: 1}}\n  roads: {deadline_hours: 48}\n"
                 "  other: {name: 其他}\n", encoding="utf-8")
    rules = load_policy_rules(p)
    assert rules == {"pets": DeadlineRule(working_days=1), "roads": DeadlineRule(hours=48)}
    mon = datetime(2026, 11, 23, 10, tzinfo=TZ)
    assert due_time(CFG.deadlines, CAL, rules, mon, "投诉", "normal", "pets") == datetime(2026, 11, 24, 17, tzinfo=TZ)
    assert load_policy_rules(tmp_path / "missing.yaml") == {}
    (tmp_path / "bad.yaml").write_text("categories: [: bad", encoding="utf-8")
    assert load_policy_rules(tmp_path / "bad.yaml") == {}


def test_flows_policy_file_deadlines_section() -> None:
    from bridge.deadlines import merge_policy

    root = Path(__file__).resolve().parents[2]
    merged, rules = merge_policy(CFG.deadlines, root / "flows" / "policy.yaml")
    if not (root / "flows" / "policy.yaml").exists():
        assert merged == CFG.deadlines and rules == {}
        return
    mon = datetime(2026, 11, 23, 10, tzinfo=TZ)
    assert rules["water"] == DeadlineRule(hours=24)
    # a water outage complaint: the category's 24 h; a water-fee consultation: the 咨询 limit (category not applied)
    assert due_time(merged, CAL, rules, mon, "投诉", "normal", "water") == datetime(2026, 11, 24, 10, tzinfo=TZ)
    consult = due_time(merged, CAL, rules, mon, "咨询", "normal", "water")
    assert consult == CAL.add_working_days(mon, merged.by_type["咨询"].working_days or 0)
    assert merged.category_applies_to and "咨询" not in merged.category_applies_to


def test_merge_policy_from_file(tmp_path: Path) -> None:
    from bridge.deadlines import merge_policy

    p = tmp_path / "policy.yaml"
    p.write_text("categories:\n  pets: {deadline: {working_days: 1}}\n"
                 "deadlines:\n  by_type: {咨询: {working_days: 4}}\n  category_applies_to: [投诉]\n", encoding="utf-8")
    merged, rules = merge_policy(CFG.deadlines, p)
    mon = datetime(2026, 11, 23, 10, tzinfo=TZ)
    assert merged.by_type["咨询"] == DeadlineRule(working_days=4) and merged.by_type["投诉"].working_days == 10
    assert due_time(merged, CAL, rules, mon, "咨询", "normal", "pets") == datetime(2026, 11, 27, 17, tzinfo=TZ)
    assert due_time(merged, CAL, rules, mon, "投诉", "normal", "pets") == datetime(2026, 11, 24, 17, tzinfo=TZ)
