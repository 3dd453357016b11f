"""The 12345 scope policy (flows/policy.yaml) as validated data.

``load_policy(path)`` returns a :class:`Policy` or raises :class:`PolicyError` whose message names the file, the
line and the key (``flows/policy.yaml:212: rules.3.channel: unknown channel 'cort'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from flows.terms import parse_term

DEFAULT_PATH = Path(__file__).resolve().parent / "policy.yaml"
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: the policy is large

DISPOSITIONS = ("emergency", "accept", "redirect", "decline", "clarify")
EMERGENCY_RULES = ("fire", "gas_leak", "crime", "medical", "traffic_accident", "suicide", "missing_person")
REQUEST_TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
URGENCIES = ("emergency", "urgent", "normal", "complex")
REQUIRED_CHANNELS = ("110", "119", "120", "122", "court", "arbitration", "12388", "reconsideration", "petition",
                     "12348", "12315", "other_city_12345")
REQUIRED_CATEGORIES = ("heating", "water", "power", "gas", "roads", "street_lights", "sanitation", "noise",
                       "pollution", "street_vending", "wages", "social_insurance", "education", "transport",
                       "food_safety", "business_licence", "health", "hukou", "housing", "property_management",
                       "elderly_care", "pets", "greening", "other")


class PolicyError(ValueError):
    """The policy file is unreadable or invalid; ``str()`` is ``file:line: key: problem`` (one line per problem)."""

    def __init__(self, problems: list[tuple[str, int | None, str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(_fmt(*p) for p in problems))


def _fmt(file: str, line: int | None, key: str, msg: str) -> str:
    where = f"{file}:{line}" if line is not None else file
    return f"{where}: {key}: {msg}" if key else f"{where}: {msg}"


def _numbers_as_text(value: Any) -> Any:
    """An unquoted 12345 in a word list is meant as text."""
    if isinstance(value, list):
        return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in value]
    return value


Words = Annotated[list[str], BeforeValidator(_numbers_as_text)]


def _check_keywords(values: list[str]) -> list[str]:
    for value in values:
        parse_term(value)
    return values


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deadline(_Strict):
    hours: float | None = Field(default=None, gt=0)
    working_days: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> Deadline:
        if (self.hours is None) == (self.working_days is None):
            raise ValueError("give exactly one of hours or working_days")
        return self

    def describe(self) -> str:
        return f"{self.hours:g}小时" if self.hours is not None else f"{self.working_days:g}个工作日"


class TextRules(_Strict):
    filler_chars: str = ""
    rewrite: dict[str, str] = {}
    fillers: Words = []
    empty_phrases: Words = []
    min_content_chars: int = Field(default=2, ge=0)
    accept_unmatched_chars: int = Field(default=5, ge=0)
    accept_fallback_chars: int = Field(default=8, ge=0)  # no clear fallback answer: accept from this much content
    addendum_cues: Words = []
    intent_cues: Words = []
    negation_cues: Words = []
    past_cues: Words = []
    hypothetical_cues: Words = []
    present_cues: Words = []
    retraction_cues: Words = []
    aftermath_cues: Words = []  # 赔偿/保险公司/谈不拢: the emergency already happened; the call is about its aftermath


class EmergencyRule(_Strict):
    id: Literal["fire", "gas_leak", "crime", "medical", "traffic_accident", "suicide", "missing_person"]
    channel: Literal["110", "119", "120", "122"]
    citation: str
    confirm_below: float = Field(default=0.8, gt=0, le=1)
    triggers: Words = Field(min_length=1)
    weak_triggers: Words = []
    exclude: Words = []

    _kw = field_validator("triggers", "weak_triggers", "exclude")(_check_keywords)

    @property
    def prompt(self) -> str:
        return f"emergency.{self.channel}"

    @property
    def confirm_prompt(self) -> str:
        return f"emergency.confirm.{self.channel}"


class Channel(_Strict):
    name: str
    number: str | None = None
    kind: Literal["emergency", "redirect", "support"]  # support: a line named to the caller (12356), no prompt
    path: str | None = None


class CityChannel(_Strict):
    mode: Literal["transfer", "internal", "spoken"]
    target: str | None = None

    @model_validator(mode="after")
    def _target(self) -> CityChannel:
        if self.mode == "transfer" and not (self.target or "").startswith(("sip:", "sips:", "tel:")):
            raise ValueError("a transfer needs a target SIP URI (sip:…) or tel: URI")
        if self.mode == "internal" and not self.target:
            raise ValueError("an internal transfer needs a target (queue or seat id)")
        return self


class City(_Strict):
    name: str
    aliases: Words = []
    districts: Words = []
    channels: dict[str, CityChannel]
    # per emergency rule: the channel this city uses instead of the rule's own (suicide: 110 or 120 by city policy)
    emergency_channels: dict[str, Literal["110", "119", "120", "122"]] = {}
    # per emergency rule: a support line the city has and names to the caller (suicide: 12356 心理援助热线)
    support_lines: dict[str, str] = {}


class OtherCity(_Strict):
    prompt: str
    name_weight: float = Field(default=2.5, gt=0)
    cues: Words = []
    names: Words = []
    # the matter is handled here although another place is named (社保转过来, 在这边办, 异地备案): no redirect
    here_cues: Words = []

    _kw = field_validator("cues", "names", "here_cues")(_check_keywords)


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    disposition: Literal["redirect", "decline"]
    channel: str | None = None
    citation: str
    description: str
    lawful_path: str
    prompt: str | None = None
    keywords: Words = Field(min_length=1)
    exclude: Words = []
    # the rule does not apply when one of these is said (举报 … 违建不拆: someone else's building, an in-scope report)
    unless: Words = []

    _kw = field_validator("keywords", "exclude", "unless")(_check_keywords)

    @model_validator(mode="after")
    def _channel(self) -> Rule:
        if self.disposition == "redirect" and not self.channel:
            raise ValueError("a redirect rule needs a channel")
        if self.disposition == "decline" and self.channel:
            raise ValueError("a decline rule has no channel")
        return self

    @property
    def prompt_id(self) -> str:
        if self.prompt:
            return self.prompt
        return f"redirect.{self.channel}" if self.disposition == "redirect" else f"decline.{self.id}"


class Category(_Strict):
    name: str
    unit: str
    deadline: Deadline
    keywords: Words = Field(min_length=1)
    exclude: Words = []

    _kw = field_validator("keywords", "exclude")(_check_keywords)


class Deadlines(_Strict):
    by_urgency: dict[Literal["emergency", "urgent", "normal", "complex"], Deadline] = {}
    by_type: dict[Literal["咨询", "求助", "投诉", "举报", "建议", "表扬"], Deadline] = {}
    category_applies_to: list[Literal["咨询", "求助", "投诉", "举报", "建议", "表扬"]] = []


class Learned(_Strict):
    """How the learned model (flows/classifier/learned.py) and the keyword rules are combined."""

    enabled: bool = True
    veto_below: float = Field(default=0.01, ge=0, le=1)  # model emergency share under which a weak rule alarm
    veto_strong_below: float = Field(default=1e-6, ge=0, le=1)  # … and a strong one (a clear trigger) is dropped
    emergency_share: float = Field(default=0.2, ge=0, le=1)  # model emergency share that raises a confirmed alarm
    rule_sure: float = Field(default=1.0, ge=0, le=1)  # a rule decision at least this confident stands
    model_sure: float = Field(default=0.99, ge=0, le=1)  # the model's share it needs to overrule a less sure rule
    alpha: float = Field(default=0.3, gt=0)  # additive smoothing of the model
    temperature: float = Field(default=1.0, gt=0)  # divides the model's log-odds (NB is over-sure)
    # The product rule (不能一拒了之): between accept and redirect/decline an unsure decision is accept. The model
    # alone never turns an accepted matter away (nor a concrete one into clarify) unless this is true.
    turn_away_max_chars: int = Field(default=45, ge=0)  # … except in a call this short (training-like); 0: never
    clarify_below_chars: int = Field(default=12, ge=0)  # the model's `clarify` is taken only for less content


class Thresholds(_Strict):
    """The constants that decide between the keyword rules' candidates (flows/classifier/engine.py)."""

    weak_override: float = Field(default=2.5, gt=0)  # a lone weak emergency sign yields to a match this strong
    weak_pair_override: float = Field(default=3.5, gt=0)  # two weak signs yield only to an explicit matter
    strong: float = Field(default=0.9, gt=0, le=1)  # a rule decision this confident rests on a clear keyword
    past_window: int = Field(default=16, ge=0)  # a past cue this many characters before a trigger makes it past
    long_call: int = Field(default=36, ge=1)  # normalised characters beyond which the model also judges parts
    lone_weak_max_chars: int = Field(default=40, ge=1)  # a lone weak sign raises an alarm only in a shorter call
    model_alarm_max_chars: int = Field(default=40, ge=1)  # the model alone raises an alarm only in a shorter call


class Route(_Strict):
    """How the active city reaches a channel."""

    channel: str
    name: str
    mode: Literal["transfer", "internal", "spoken"]
    target: str | None
    number: str | None
    path: str | None


class Policy(_Strict):
    version: int
    citation_default: str
    min_score: float = Field(default=1.0, gt=0)
    gap: int = Field(default=8, ge=0, le=40)
    learned: Learned = Learned()
    thresholds: Thresholds = Thresholds()
    text: TextRules
    request_types: dict[Literal["咨询", "求助", "投诉", "举报", "建议", "表扬"], Words]
    emergency: list[EmergencyRule]
    channels: dict[str, Channel]
    active_city: str
    cities: dict[str, City]
    other_city: OtherCity
    rules: list[Rule]
    categories: dict[str, Category]
    deadlines: Deadlines

    _kw = field_validator("request_types")(lambda v: {k: _check_keywords(x) for k, x in v.items()})

    @model_validator(mode="after")
    def _references(self) -> Policy:
        missing = [c for c in REQUIRED_CHANNELS if c not in self.channels]
        if missing:
            raise ValueError(f"channels: missing {', '.join(missing)}")
        missing = [c for c in REQUIRED_CATEGORIES if c not in self.categories]
        if missing:
            raise ValueError(f"categories: missing {', '.join(missing)}")
        ids = [r.id for r in self.emergency]
        if sorted(ids) != sorted(EMERGENCY_RULES):
            raise ValueError(f"emergency: need each of {', '.join(EMERGENCY_RULES)} exactly once, got {ids}")
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.id in seen or rule.id in EMERGENCY_RULES:
                raise ValueError(f"rules.{i}.id: duplicate rule id {rule.id!r}")
            seen.add(rule.id)
            if rule.channel is not None and rule.channel not in self.channels:
                raise ValueError(f"rules.{i}.channel: unknown channel {rule.channel!r}")
        if self.active_city not in self.cities:
            raise ValueError(f"active_city: {self.active_city!r} is not one of cities ({', '.join(self.cities)})")
        for cid, city in self.cities.items():
            for ch in city.channels:
                if ch not in self.channels:
                    raise ValueError(f"cities.{cid}.channels.{ch}: unknown channel {ch!r}")
            for field, mapping in (("emergency_channels", city.emergency_channels),
                                   ("support_lines", city.support_lines)):
                for rid in mapping:
                    if rid not in EMERGENCY_RULES:
                        raise ValueError(f"cities.{cid}.{field}.{rid}: unknown emergency rule {rid!r}")
            for rid, ch in city.support_lines.items():
                if ch not in self.channels or self.channels[ch].kind != "support":
                    raise ValueError(f"cities.{cid}.support_lines.{rid}: {ch!r} is not a support channel")
        return self

    # -- look-ups ------------------------------------------------------------------------------------------
    @property
    def city(self) -> City:
        return self.cities[self.active_city]

    def rule(self, rule_id: str) -> Rule | EmergencyRule:
        for r in self.emergency:
            if r.id == rule_id:
                return r
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def emergency_channel(self, rule_id: str) -> str:
        """The channel an emergency rule goes to in the active city (its own unless the city overrides it)."""
        own = next(e.channel for e in self.emergency if e.id == rule_id)
        return self.city.emergency_channels.get(rule_id, own)

    def support_line(self, rule_id: str) -> Route | None:
        """The support line the active city names for an emergency rule (suicide: 12356), if it has one."""
        ch = self.city.support_lines.get(rule_id)
        return self.route(ch) if ch else None

    def route(self, channel: str) -> Route:
        """How to reach ``channel`` here: transfer (SIP URI), internal seat, or a spoken number/path."""
        ch = self.channels[channel]
        local = self.city.channels.get(channel)
        mode = local.mode if local else "spoken"
        target = local.target if local else None
        return Route(channel=channel, name=ch.name, mode=mode, target=target, number=ch.number, path=ch.path)

    def deadline(self, category: str | None, request_type: str | None, urgency: str = "normal") -> Deadline:
        """The governing time limit: the tightest of the urgency, category (for outage-like types) and type rules."""
        found: list[Deadline] = []
        d = self.deadlines
        if urgency in d.by_urgency:
            found.append(d.by_urgency[urgency])
        if category in self.categories and (request_type in d.category_applies_to or request_type is None):
            found.append(self.categories[category].deadline)
        if request_type in d.by_type:
            found.append(d.by_type[request_type])
        if not found:
            return Deadline(working_days=5)
        return min(found, key=lambda x: x.hours if x.hours is not None else (x.working_days or 0) * 24 * 1.4)

    def prompt_ids(self) -> set[str]:
        """Every prompt id this policy can ask the flow to play (all must exist in the prompt catalogue)."""
        ids = {"scope.explanation", "decline.offer_agent", "redirect.offer_agent", self.other_city.prompt}
        for e in self.emergency:
            ch = self.emergency_channel(e.id)
            ids |= {e.prompt, e.confirm_prompt, f"emergency.{ch}", f"emergency.confirm.{ch}"}
        ids |= {r.prompt_id for r in self.rules}
        ids |= {f"redirect.{c}" for c, ch in self.channels.items() if ch.kind == "redirect"}
        return ids


# -- loading with line numbers ---------------------------------------------------------------------------------
def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if str(k.value) == str(key):
                    nxt = v
                    line = k.start_mark.line + 1
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
        if node is None:
            break
    return line


def _duplicates(node: yaml.Node, path: str, out: list[tuple[int, str, str]]) -> None:
    if isinstance(node, yaml.MappingNode):
        keys: dict[str, int] = {}
        for k, v in node.value:
            name = str(k.value)
            if name in keys:
                out.append((k.start_mark.line + 1, f"{path}{name}", f"duplicate key (first on line {keys[name]})"))
            keys.setdefault(name, k.start_mark.line + 1)
            _duplicates(v, f"{path}{name}.", out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _duplicates(v, f"{path}{i}.", out)


def parse_policy(text: str, file: str = "<policy>") -> Policy:
    """Validate policy YAML text; :class:`PolicyError` names ``file``, line and key of each problem."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyError([(file, mark.line + 1 if mark else None, "", f"invalid YAML: "
                            f"{getattr(exc, 'problem', None) or exc}")]) from exc
    if root is None or not isinstance(data, dict):
        raise PolicyError([(file, 1, "", "expected a mapping at the top level")])
    dups: list[tuple[int, str, str]] = []
    _duplicates(root, "", dups)
    if dups:
        raise PolicyError([(file, line, key, msg) for line, key, msg in dups])
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if not loc and msg.split(":", 1)[0].replace(".", "").replace("_", "").isalnum() and ": " in msg:
                key, msg = msg.split(": ", 1)  # model-level errors carry their key in the message
                loc = tuple(int(p) if p.isdigit() else p for p in key.split("."))
            problems.append((file, _line_of(root, loc), ".".join(str(p) for p in loc), msg))
        raise PolicyError(problems) from exc


def load_policy(path: Path | str | None = None) -> Policy:
    """Load flows/policy.yaml (or ``path``)."""
    file = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([(str(file), None, "", f"cannot read: {exc.strerror or exc}")]) from exc
    return parse_policy(text, str(file))
