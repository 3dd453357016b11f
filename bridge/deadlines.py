"""Due times from request type, urgency and category rules, counted in working days with a holiday calendar.

The calendar's base is the State Council's, from the maintained ``chinesecalendar`` package (holidays and 调休
make-up working days, one release per year once the notice is published); ``config/bridge.yaml`` ``calendar:``
only overrides dates and fills years the installed package does not cover yet.  :func:`first_uncovered` finds
the first date in the coming days that neither covers (logged at start-up by the hand-off).

Pure: no clock, no I/O except :func:`load_policy_rules`, which reads category deadline rules from the flows policy
file when it exists (``categories: {code: {deadline: {working_days: N} | {hours: N}}}``; also accepts
``deadline_days`` / ``deadline_hours`` keys).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol

import yaml

from config.bridge import CalendarConfig, DeadlineConfig, DeadlineRule

log = logging.getLogger(__name__)


class BaseCalendar(Protocol):
    """An official working-day calendar for the years it covers."""

    @property
    def name(self) -> str: ...

    def is_working_day(self, d: date) -> bool | None:
        """Whether ``d`` is a working day; None when ``d`` is outside the years covered."""
        ...


class ChineseCalendar:
    """The State Council calendar of the ``chinesecalendar`` package (import name ``chinese_calendar``)."""

    def __init__(self) -> None:
        import chinese_calendar

        self._cc: Any = chinese_calendar
        years = [d.year for d in chinese_calendar.holidays]
        self.first_year, self.last_year = min(years), max(years)
        self.name = f"chinesecalendar {chinese_calendar.__version__} ({self.first_year}-{self.last_year})"
        self._memo: dict[date, bool | None] = {}  # is_workday scans the package's table for its year range

    def is_working_day(self, d: date) -> bool | None:
        if d not in self._memo:
            try:
                self._memo[d] = bool(self._cc.is_workday(d))
            except NotImplementedError:  # the package has no data for this year yet
                self._memo[d] = None
        return self._memo[d]


@dataclass(frozen=True)
class WorkCalendar:
    """Working days: ``holidays`` / ``working_weekends`` (config overrides) first, then ``base``, then Mon-Fri.

    A date counts as covered when ``base`` covers it or when ``holidays`` lists a holiday in its year (an operator
    who types in a year the package lacks gives that year's whole notice).
    """

    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()  # 调休, or any date to count as a working day
    base: BaseCalendar | None = None

    @classmethod
    def of(cls, holidays: Iterable[date], working_weekends: Iterable[date],
           base: BaseCalendar | None = None) -> WorkCalendar:
        return cls(frozenset(holidays), frozenset(working_weekends), base)

    def is_working_day(self, d: date) -> bool:
        if d in self.working_weekends:
            return True
        if d in self.holidays:
            return False
        verdict = self.base.is_working_day(d) if self.base is not None else None
        return d.weekday() < 5 if verdict is None else verdict

    def covers(self, d: date) -> bool:
        """Whether ``d`` is known from the base calendar or from a configured year (not only Mon-Fri guessed)."""
        if self.base is not None and self.base.is_working_day(d) is not None:
            return True
        return any(h.year == d.year for h in self.holidays)

    def add_working_days(self, start: datetime, days: float, end_hour: int = 17) -> datetime:
        """``days`` working days after ``start``: the due time is the end of the N-th following working day.

        Fractions round up to whole days (a 0.5-day rule is due at the end of the next working day).
        """
        whole = max(1, int(-(-days // 1)))
        d = start.date()
        counted = 0
        while counted < whole:
            d += timedelta(days=1)
            if self.is_working_day(d):
                counted += 1
        return datetime.combine(d, time(end_hour), tzinfo=start.tzinfo)


def calendar_from_config(cfg: CalendarConfig, base: BaseCalendar | None = None) -> WorkCalendar:
    """The hand-off's calendar: ``base`` (default: :class:`ChineseCalendar`) under the config overrides."""
    return WorkCalendar.of(cfg.holidays, cfg.working_weekends, base if base is not None else ChineseCalendar())


def first_uncovered(cal: WorkCalendar, today: date, days: int = 60) -> date | None:
    """The first date from ``today`` through ``today + days`` that ``cal`` does not cover, or None."""
    for n in range(days + 1):
        d = today + timedelta(days=n)
        if not cal.covers(d):
            return d
    return None


def warn_uncovered(cal: WorkCalendar, today: date, days: int = 60) -> date | None:
    """Log one warning for operators when a date in the next ``days`` days is not covered; returns that date."""
    gap = first_uncovered(cal, today, days)
    if gap is not None:
        base = cal.base.name if cal.base is not None else "no holiday package"
        log.warning("holiday calendar does not cover %s (%s, nor bridge.yaml calendar:): deadlines from that day count "
                    "Mon-Fri only; upgrade chinesecalendar or add that year's holidays and 调休 days to bridge.yaml "
                    "calendar:", gap.isoformat(), base)
    return gap


def pick_rule(cfg: DeadlineConfig, category_rules: dict[str, DeadlineRule], request_type: str,
              urgency: str, category: str | None) -> tuple[DeadlineRule, str]:
    """The governing rule and where it came from; the tightest of urgency, category and type rules wins."""
    candidates: list[tuple[DeadlineRule, str]] = []
    if urgency in cfg.by_urgency:
        candidates.append((cfg.by_urgency[urgency], f"urgency:{urgency}"))
    if category and (cfg.category_applies_to is None or request_type in cfg.category_applies_to):
        if category in cfg.by_category:
            candidates.append((cfg.by_category[category], f"category:{category}"))
        elif category in category_rules:
            candidates.append((category_rules[category], f"policy:{category}"))
    if request_type in cfg.by_type:
        candidates.append((cfg.by_type[request_type], f"type:{request_type}"))
    if not candidates:
        return DeadlineRule(working_days=5), "default"

    def span_hours(r: DeadlineRule) -> float:
        if r.hours is not None:
            return r.hours
        return (r.working_days or 5) * 24 * 1.4  # a working day spans ~1.4 calendar days on average

    return min(candidates, key=lambda c: span_hours(c[0]))


def due_time(cfg: DeadlineConfig, cal: WorkCalendar, category_rules: dict[str, DeadlineRule], start: datetime,
             request_type: str, urgency: str, category: str | None) -> datetime:
    rule, _src = pick_rule(cfg, category_rules, request_type, urgency, category)
    if rule.hours is not None:
        return start + timedelta(hours=rule.hours)
    return cal.add_working_days(start, rule.working_days or 5, cfg.work_end_hour)


def _rule_from(entry: Any) -> DeadlineRule | None:
    if not isinstance(entry, dict):
        return None
    dl = entry.get("deadline")
    if isinstance(dl, dict):
        try:
            return DeadlineRule.model_validate(dl)
        except ValueError:
            return None
    if isinstance(dl, int | float):
        return DeadlineRule(working_days=float(dl))
    if "deadline_hours" in entry:
        return DeadlineRule(hours=float(entry["deadline_hours"]))
    if "deadline_days" in entry:
        return DeadlineRule(working_days=float(entry["deadline_days"]))
    return None


def merge_policy(cfg: DeadlineConfig, path: Path | None) -> tuple[DeadlineConfig, dict[str, DeadlineRule]]:
    """The flows policy file's ``deadlines:`` section (by_urgency, by_type, category_applies_to) over ``cfg``,
    and its category rules; ``cfg`` unchanged when the file is absent."""
    rules = load_policy_rules(path)
    if path is None or not path.exists():
        return cfg, rules
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return cfg, rules
    sec = data.get("deadlines") if isinstance(data, dict) else None
    if not isinstance(sec, dict):
        return cfg, rules
    merged = cfg.model_copy(deep=True)
    for key in ("by_urgency", "by_type"):
        table = sec.get(key)
        if isinstance(table, dict):
            for name, raw in table.items():
                rule = _rule_from({"deadline": raw})
                if rule is not None:
                    getattr(merged, key)[str(name)] = rule
    applies = sec.get("category_applies_to")
    if isinstance(applies, list):
        merged.category_applies_to = [str(x) for x in applies]
    return merged, rules


def load_policy_rules(path: Path | None) -> dict[str, DeadlineRule]:
    """Category deadline rules from the flows policy file; empty when absent or unreadable (logged)."""
    if path is None or not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        log.warning("cannot read deadline rules from %s: %s", path, exc)
        return {}
    cats = data.get("categories") if isinstance(data, dict) else None
    rules: dict[str, DeadlineRule] = {}
    if isinstance(cats, dict):
        items: Iterable[tuple[Any, Any]] = cats.items()
    elif isinstance(cats, list):
        items = ((c.get("id") or c.get("code"), c) for c in cats if isinstance(c, dict))
    else:
        return {}
    for code, entry in items:
        rule = _rule_from(entry)
        if code and rule is not None:
            rules[str(code)] = rule
    return rules
