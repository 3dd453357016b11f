"""Due times: working days over the chinesecalendar package's holidays and 调休 working days, config overrides,
the start-up warning for dates it does not cover; type/urgency/category rules."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge.deadlines import (
    ChineseCalendar,
    WorkCalendar,
    calendar_from_config,
    due_time,
    first_uncovered,
    load_policy_rules,
    pick_rule,
    warn_uncovered,
)
from config import load_config
from config.bridge import BridgeConfig, CalendarConfig, DeadlineRule

TZ = ZoneInfo("Asia/Shanghai")
CFG = load_config(BridgeConfig, "bridge", env={})
CAL = calendar_from_config(CFG.calendar)
LIB = ChineseCalendar()


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


def test_shipped_config_types_no_holidays_the_package_has() -> None:
    assert CFG.calendar.holidays == [] and CFG.calendar.working_weekends == []
    assert LIB.first_year <= 2025 and LIB.last_year >= 2026, LIB.name


def test_2025_national_day_from_the_package() -> None:
    """2025: Oct 1-8 off (国庆 + 中秋), Sun Sep 28 and Sat Oct 11 调休 working days — none of it in config."""
    fri = datetime(2025, 9, 26, 10, tzinfo=TZ)
    assert CAL.add_working_days(fri, 1) == datetime(2025, 9, 28, 17, tzinfo=TZ)  # Sunday, 调休
    tue = datetime(2025, 9, 30, 10, tzinfo=TZ)
    assert CAL.add_working_days(tue, 1) == datetime(2025, 10, 9, 17, tzinfo=TZ)  # Oct 8 (Wed) still off
    assert CAL.add_working_days(tue, 3) == datetime(2025, 10, 11, 17, tzinfo=TZ)  # Saturday, 调休
    assert CAL.add_working_days(tue, 4) == datetime(2025, 10, 13, 17, tzinfo=TZ)
    weekends_only = WorkCalendar()
    assert weekends_only.add_working_days(tue, 1) == datetime(2025, 10, 1, 17, tzinfo=TZ)  # what the package fixes


def test_2026_spring_festival_from_the_package() -> None:
    """2026: Feb 15-23 off, Sat Feb 14 and Sat Feb 28 调休 working days."""
    fri = datetime(2026, 2, 13, 10, tzinfo=TZ)
    assert CAL.add_working_days(fri, 1) == datetime(2026, 2, 14, 17, tzinfo=TZ)
    assert CAL.add_working_days(fri, 2) == datetime(2026, 2, 24, 17, tzinfo=TZ)
    assert CAL.add_working_days(fri, 5) == datetime(2026, 2, 27, 17, tzinfo=TZ)
    assert CAL.add_working_days(fri, 6) == datetime(2026, 2, 28, 17, tzinfo=TZ)
    d = CFG.deadlines  # a 咨询 (2 working days) called on New Year's Eve: Jan 1-3 off, Sun Jan 4 调休
    assert due_time(d, CAL, {}, datetime(2025, 12, 31, 11, tzinfo=TZ), "咨询", "normal", None) == \
        datetime(2026, 1, 5, 17, tzinfo=TZ)


def test_config_overrides_win_over_the_package() -> None:
    cal = calendar_from_config(CalendarConfig(holidays=[date(2026, 11, 30)], working_weekends=[date(2026, 10, 2)]))
    assert not LIB.is_working_day(date(2026, 10, 2)) and cal.is_working_day(date(2026, 10, 2))
    assert LIB.is_working_day(date(2026, 11, 30)) and not cal.is_working_day(date(2026, 11, 30))
    fri = datetime(2026, 11, 27, 10, tzinfo=TZ)
    assert cal.add_working_days(fri, 1) == datetime(2026, 12, 1, 17, tzinfo=TZ)  # Mon Nov 30 made a day off
    assert cal.add_working_days(datetime(2026, 9, 30, 9, tzinfo=TZ), 1) == datetime(2026, 10, 2, 17, tzinfo=TZ)


def test_year_outside_the_package_falls_back_to_config_then_weekends(caplog: pytest.LogCaptureFixture) -> None:
    assert LIB.is_working_day(date(LIB.last_year + 1, 1, 1)) is None  # the package's NotImplementedError
    thu = datetime(2026, 12, 31, 10, tzinfo=TZ)
    assert CAL.add_working_days(thu, 1) == datetime(2027, 1, 1, 17, tzinfo=TZ)  # uncovered: Mon-Fri only
    assert CAL.add_working_days(thu, 2) == datetime(2027, 1, 4, 17, tzinfo=TZ)
    typed = calendar_from_config(CalendarConfig(holidays=[date(2027, 1, 1)], working_weekends=[date(2027, 1, 2)]))
    assert typed.add_working_days(thu, 1) == datetime(2027, 1, 2, 17, tzinfo=TZ)  # config for the missing year
    assert typed.add_working_days(thu, 2) == datetime(2027, 1, 4, 17, tzinfo=TZ)

    today = date(2026, 12, 3)  # injected: 2027-01-01 is 29 days ahead
    with caplog.at_level(logging.WARNING, logger="bridge.deadlines"):
        assert warn_uncovered(CAL, today) == date(2027, 1, 1)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "2027-01-01" in lines[0] and "bridge.yaml calendar" in lines[0], lines
    assert "chinesecalendar" in lines[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bridge.deadlines"):
        assert warn_uncovered(CAL, date(2026, 10, 1)) is None  # Nov 30 is still 2026
        assert warn_uncovered(typed, today) is None  # 2027 given in config
    assert caplog.records == []
    assert first_uncovered(CAL, date(2026, 11, 2)) == date(2027, 1, 1)  # exactly 60 days ahead
    assert first_uncovered(CAL, date(2026, 11, 1)) is None
    assert first_uncovered(WorkCalendar(), today) == today  # no package, no config: nothing covered


def test_handoff_start_warns_once_on_its_clock(make_handoff: Callable[..., Any],
                                               caplog: pytest.LogCaptureFixture) -> None:
    h = make_handoff()
    h.clock = lambda: datetime(2026, 12, 20, 3, tzinfo=UTC)

    async def go() -> None:
        await h.start()
        await h.close()

    with caplog.at_level(logging.WARNING, logger="bridge.deadlines"):
        asyncio.run(go())
    lines = [r.getMessage() for r in caplog.records if r.name == "bridge.deadlines"]
    assert len(lines) == 1 and "2027-01-01" in lines[0], lines


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
