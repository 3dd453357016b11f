"""Scored keyword + pinyin classifier: caller's words → :class:`Classification` (see flows/README.md)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from flows.classifier.learned import LearnedModel, Prediction, default_sources, load_model
from flows.classifier.matcher import CHAR, PINYIN, Hit, Matcher
from flows.classifier.model import Classification
from flows.classifier.text import Prepared, looks_typed, normalise, split_breaks
from flows.policy import EmergencyRule, Policy, load_policy
from flows.terms import Term, parse_term

# Emergency rule order when several fire at the same strength (fire before a casualty it caused, etc.).
_PRIORITY = ("fire", "gas_leak", "traffic_accident", "crime", "suicide", "missing_person", "medical")
_TYPE_ORDER = ("表扬", "举报", "投诉", "建议", "求助", "咨询")
_OTHER_CITY = "other_city"
_PAST_INFIXES = ("过", "过一次", "过一回", "过两次", "过几次", "过好几次", "过一场")
_SWITCH_CUES = ("另外", "还有", "顺便", "顺带", "对了", "再问")  # addendum cues that switch topic (not 还想, 也要)


@dataclass(frozen=True)
class _Scored:
    kind: str  # "rule" | "cat"
    key: str
    score: float
    hits: tuple[Hit, ...]


def _terms(label: str, sources: Iterable[str], *, pinyin: bool = True, pinyin_min: int = 2,
           gap: int | None = None) -> list[tuple[str, Term]]:
    """Parsed keywords. Non-emergency terms are ``strict``: a two-syllable pinyin-only match must not straddle
    two words of the utterance (emergency terms are not, since a false alarm is confirmed anyway)."""
    out = []
    for src in sources:
        term = replace(parse_term(src), pinyin_min=pinyin_min, gap=gap, strict=not label.startswith("em:"))
        if not pinyin:
            term = replace(term, pinyin=False)
        out.append((label, term))
    return out


def _past_variants(label: str, sources: Iterable[str]) -> list[tuple[str, Term]]:
    """着火 → 着过火 (past, discounted) and 着了火 (current): two-character triggers with an aspect particle."""
    out = []
    for src in sources:
        term = parse_term(src)
        if len(term.groups) == 1 and len(term.groups[0]) == 1:
            for alt in term.groups[0][0]:
                if len(alt) == 2:
                    for mid in _PAST_INFIXES:  # 着过火, 着过一次火
                        past = f"{alt[0]}{mid}{alt[1]}"
                        out.append((f"{label}:past", Term(past, (((past,),),), 1.0, False)))
                    out.append((label, Term(f"{alt[0]}了{alt[1]}", (((f"{alt[0]}了{alt[1]}",),),), term.weight,
                                            False)))
    return out


def _a_not_a(norm: str, start: int) -> bool:
    """是不是 / 有没有 around a negation cue starting at ``start``."""
    return 0 < start and start + 1 < len(norm) and norm[start - 1] == norm[start + 1]


def _inside(hit: Hit, exclusions: list[Hit]) -> bool:
    """A part of ``hit`` is a fragment of an excluded word (烟 in 抽烟, 撞 in 撞歪); a part that is the whole
    excluded word on purpose (加油站…抽烟) does not count, unless the hit only matched by sound."""
    spans = [(x.start, x.end) for x in exclusions]  # a two-part exclusion (井盖…被偷) covers its whole extent
    by_sound = hit.quality < CHAR  # a pinyin-only hit on an excluded word (熏死 for 寻死) is that word
    return any(a < e and s < b and (by_sound or not (a <= s and e <= b)) for a, b in hit.spans for s, e in spans)


def _overlaps(a: Hit, b: Hit) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a.spans for s2, e2 in b.spans)


def _greedy(hits: list[Hit]) -> tuple[float, tuple[Hit, ...]]:
    """Sum of the best non-overlapping hits (each keyword counted once)."""
    chosen: list[Hit] = []
    used_terms: set[str] = set()
    for h in sorted(hits, key=lambda h: (-h.weight, -(h.end - h.start), h.start)):
        if h.term.source in used_terms or any(_overlaps(h, c) for c in chosen):
            continue
        chosen.append(h)
        used_terms.add(h.term.source)
    return sum(h.weight for h in chosen), tuple(sorted(chosen, key=lambda h: h.start))


class Classifier:
    """Build once from a :class:`Policy`; :meth:`classify` is pure and fast (well under 1 ms per utterance)."""

    def __init__(self, policy: Policy, *, use_examples: bool = True, sources: list[Path] | None = None) -> None:
        self.policy = policy
        t = policy.text
        entries: list[tuple[str, Term]] = []
        for em in policy.emergency:
            entries += _terms(f"em:{em.id}:strong", em.triggers, pinyin_min=2)
            entries += _past_variants(f"em:{em.id}:strong", em.triggers)
            entries += _terms(f"em:{em.id}:weak", em.weak_triggers, pinyin_min=3)
            entries += _terms(f"em:{em.id}:x", em.exclude, pinyin=False, gap=1)
        for rule in policy.rules:
            entries += _terms(f"rule:{rule.id}", rule.keywords)
            entries += _terms(f"rule:{rule.id}:x", rule.exclude, pinyin=False, gap=1)
            entries += _terms(f"unless:{rule.id}", rule.unless, pinyin=False)
        for code, cat in policy.categories.items():
            entries += _terms(f"cat:{code}", cat.keywords)
            entries += _terms(f"cat:{code}:x", cat.exclude, pinyin=False, gap=1)
        for rtype, words in policy.request_types.items():
            entries += _terms(f"type:{rtype}", words, pinyin=False)
        for name, cues in (("neg", t.negation_cues), ("past", t.past_cues), ("hyp", t.hypothetical_cues),
                           ("now", t.present_cues), ("add", t.addendum_cues), ("want", t.intent_cues),
                           ("back", t.retraction_cues), ("after", t.aftermath_cues)):
            entries += _terms(f"cue:{name}", cues, pinyin=False)
        home = {policy.city.name, *policy.city.aliases, *policy.city.districts}
        names = [n for n in policy.other_city.names if n not in home and not any(n in h for h in home)]
        w = policy.other_city.name_weight
        entries += _terms(f"rule:{_OTHER_CITY}", [f"{n}^{w}" for n in names], pinyin=False)
        # "在苏州" / "河南的" / "上海那边": the matter is located there (explicit, outweighs the in-scope topic)
        entries += _terms(f"rule:{_OTHER_CITY}", [f"(在|到|回|去|老家|我们|是)+{n}^{w + 1.5}" for n in names] +
                          [f"{n}+(的|那边|那里|那块|那儿|市|省|县)^{w + 1.5}" for n in names], pinyin=False, gap=0)
        entries += _terms(f"rule:{_OTHER_CITY}", policy.other_city.cues, pinyin=False)
        entries += _terms(f"unless:{_OTHER_CITY}", policy.other_city.here_cues, pinyin=False)
        # 北京路 / 上海街 / 南京大道: street and shop names in this city, not another city
        places = "(路|街|大街|大道|道|桥|广场|商场|小区|饭店|宾馆|酒店|花园|公馆)"
        entries += _terms(f"rule:{_OTHER_CITY}:x", [f"{n}+{places}" for n in names], pinyin=False, gap=0)
        self._matcher = Matcher(entries, gap=policy.gap, clause_labels=("rule:",))
        self._empty = sorted({normalise(p) for p in (*t.empty_phrases, *t.fillers)} - {""}, key=len, reverse=True)
        self._drop = t.filler_chars
        self._rewrite = sorted(((normalise(a), normalise(b)) for a, b in t.rewrite.items() if normalise(a)),
                               key=lambda p: -len(p[0]))
        self._em: dict[str, EmergencyRule] = {em.id: em for em in policy.emergency}
        self._model: LearnedModel | None = None
        if use_examples and policy.learned.enabled:
            files = sources if sources is not None else default_sources()
            fingerprint = repr((sorted(t.rewrite.items()), t.filler_chars))
            self._model = load_model(files, self._normalise, fingerprint, policy.learned.alpha)
        self._rules = {r.id: r for r in policy.rules}

    @classmethod
    def default(cls) -> Classifier:
        """The classifier of flows/policy.yaml."""
        return cls(load_policy())

    @classmethod
    def from_file(cls, path: Path | str) -> Classifier:
        return cls(load_policy(path))

    # -- public ---------------------------------------------------------------------------------------------------
    def _normalise(self, text: str) -> str:
        return self._normalise_marked(text, breaks=False)

    def _normalise_marked(self, text: str, *, breaks: bool) -> str:
        norm = normalise(text if isinstance(text, str) else str(text), self._drop, breaks=breaks)
        for src, dst in self._rewrite:
            if src in norm:
                norm = norm.replace(src, dst)
        return norm

    def classify(self, text: str, *, typed: bool | None = None) -> Classification:
        """``typed``: the words were typed (web/app message), not recognised from speech, so no homophone
        (pinyin) matching; None decides by the text itself (sentence punctuation, which ASR never writes)."""
        norm, breaks, stops = split_breaks(self._normalise_marked(text, breaks=True))
        utt = Prepared.of(norm, speech=not (looks_typed(text) if typed is None else typed), breaks=breaks,
                          stops=stops)
        by_label: dict[str, list[Hit]] = defaultdict(list)
        for h in self._matcher.find(utt):
            by_label[h.label].append(h)
        for label in [lb for lb in by_label if lb.endswith(":x")]:
            base = label[:-2]
            for lb in [x for x in by_label if x.startswith(base) and not x.endswith(":x")]:
                by_label[lb] = [h for h in by_label[lb] if not _inside(h, by_label[label])]
        # 是不是 / 有没有: an A-not-A question, not a negation
        by_label["cue:neg"] = [h for h in by_label.get("cue:neg", []) if not _a_not_a(norm, h.start)]
        # 到现在 / 至今: a state lasting until now, not an event happening now
        by_label["cue:now"] = [h for h in by_label.get("cue:now", [])
                               if (h.start == 0 or norm[h.start - 1] not in "到至直")
                               and not any(_overlaps(h, a) for a in by_label.get("cue:after", []))]  # 现在好点了
        rtype = self._request_type(by_label)
        ranked = self._rank(by_label)
        emergency = self._emergency(text, norm, by_label, ranked)
        if emergency is not None:
            ruled = replace(emergency, request_type=emergency.request_type or "求助")
        else:
            ruled = self._decide(text, norm, ranked, rtype, by_label)
        hazard = any(by_label.get(f"cue:{k}") for k in ("hyp", "past", "back", "after"))
        blocked = frozenset(lb.partition(":")[2] for lb, hs in by_label.items() if lb.startswith("unless:") and hs)
        return self._combine(text, norm, ruled, rtype, hazard, blocked)

    # -- emergency ------------------------------------------------------------------------------------------------
    def _context(self, hit: Hit, cues: dict[str, list[Hit]]) -> str:
        """'negated', 'past', 'hypothetical' or 'current' for one emergency trigger hit."""
        if any(hit.start - 3 <= c.end <= hit.start for c in cues["neg"]):
            return "negated"
        # 怕着火 / 万一漏气 / 火灾隐患: the cue before the trigger or right after it; 有燃气味 … 怕出事 stays current
        # … unless the caller broke off between the cue and the trigger (物业费年年涨 你等一下 楼下着火了)
        if any((hit.start - 10 <= c.start < hit.end and not any(c.end <= n.start < hit.start for n in cues["now"]))
               or hit.end <= c.start <= hit.end + 3 for c in cues["hyp"]):
            return "hypothetical"
        if any(c.start >= hit.end and not any(n.end == c.start for n in cues["neg"]) for c in cues["back"]):
            return "hypothetical"  # 着火了 哈哈 骗你的: taken back (still confirmed when nothing else explains it)
        if hit.label.endswith(":past"):  # 着过火: experiential aspect, past whatever else is said
            return "past"
        window = self.policy.thresholds.past_window
        if any(hit.start - window <= c.start < hit.start for c in cues["past"]) or cues["after"]:
            # 上个月着火 / 交通事故赔偿谈不拢: past or aftermath, unless something is happening right now
            near_now = any(abs(c.start - hit.start) <= 8 for c in cues["now"])
            return "current" if near_now else "past"
        return "current"

    def _emergency(self, text: str, norm: str, by_label: dict[str, list[Hit]],
                   ranked: list[_Scored]) -> Classification | None:
        cues = {k: by_label.get(f"cue:{k}", []) for k in ("neg", "past", "hyp", "now", "back", "after")}
        # a trigger inside an experiential form of the same rule (火 in 着过一次火) is past with it
        past_spans = {(lb.split(":")[1], h.start, h.end) for lb, hs in by_label.items() if lb.endswith(":past")
                      for h in hs}
        current: list[tuple[float, int, Hit, bool]] = []
        discounted: list[tuple[float, int, Hit, bool]] = []
        for label, hits in by_label.items():
            if not label.startswith("em:") or label.endswith(":x"):
                continue
            rid, strength = label.split(":")[1:3]
            for h in hits:
                ctx = self._context(h, cues)
                if ctx == "current" and any(r == rid and a <= h.start and h.end <= b for r, a, b in past_spans):
                    ctx = "past"
                if ctx == "negated":
                    continue
                short = max(e - s for s, e in h.spans) <= 2
                if strength == "weak":
                    conf = 0.6 if h.quality >= CHAR else 0.5
                elif h.quality >= CHAR:
                    conf = 0.95
                else:
                    conf = 0.6 if short else (0.75 if h.quality >= PINYIN else 0.65)
                entry = (conf, _PRIORITY.index(rid), h, strength == "strong")
                (current if ctx == "current" else discounted).append(entry)
        best_other = ranked[0].score if ranked else 0.0
        th = self.policy.thresholds
        if current:
            conf, _, hit, _ = max(current, key=lambda e: (e[0], e[3], -e[1]))
            rid = hit.label.split(":")[1]
            if not any(e[3] for e in current):
                distinct = _greedy([h for _, _, h, _ in current if h.label.split(":")[1] == rid])[1]
                if len(distinct) >= 2 and best_other < th.weak_pair_override:  # two different weak signs
                    conf = 0.7
                elif len(distinct) >= 2 or best_other >= th.weak_override:  # weak signs inside a clear matter
                    return None
                elif len(norm) > th.lone_weak_max_chars:  # one weak word (闹, 烧) somewhere in a long narrative
                    return None
            return self._em_result(text, hit, conf, current)
        if discounted and best_other < self.policy.min_score:
            conf, _, hit, _ = max(discounted, key=lambda e: (e[0], e[3], -e[1]))
            return self._em_result(text, hit, min(conf, 0.5), discounted)
        return None

    def _em_result(self, text: str, hit: Hit, conf: float,
                   all_hits: list[tuple[float, int, Hit, bool]]) -> Classification:
        rid = hit.label.split(":")[1]
        em = self._em[rid]
        evidence = tuple(dict.fromkeys(h.evidence for _c, _p, h, _s in sorted(all_hits, key=lambda e: -e[0])
                                       if h.label.split(":")[1] == rid))
        return Classification(text=text, disposition="emergency", channel=self.policy.emergency_channel(rid),
                              rule=rid, confidence=conf,
                              evidence=evidence, request_type="求助", confirm=conf < em.confirm_below)

    # -- negative list and categories -----------------------------------------------------------------------------
    def _rank(self, by_label: dict[str, list[Hit]]) -> list[_Scored]:
        out = []
        for label, hits in by_label.items():
            kind, _, key = label.partition(":")
            if kind not in ("rule", "cat") or key.endswith(":x") or not hits:
                continue
            if kind == "rule" and by_label.get(f"unless:{key}"):  # 社保转过来 (here), 举报…违建 (someone else's)
                continue
            score, chosen = _greedy(hits)
            out.append(_Scored(kind, key, score, chosen))
        out.sort(key=lambda s: (-s.score, s.kind != "rule", s.key == "other", s.hits[0].start))
        return [s for s in out if s.score > 0]

    def _request_type(self, by_label: dict[str, list[Hit]]) -> str | None:
        scores = {t: _greedy(by_label.get(f"type:{t}", []))[0] for t in _TYPE_ORDER}
        best = max(_TYPE_ORDER, key=lambda t: (scores[t], -_TYPE_ORDER.index(t)))
        return best if scores[best] > 0 else None

    def _as(self, text: str, s: _Scored, conf: float, rtype: str | None) -> Classification:
        evidence = tuple(h.evidence for h in s.hits)
        if s.kind == "cat":
            return Classification(text, "accept", category=s.key, confidence=conf, evidence=evidence,
                                  request_type=rtype or "求助")
        if s.key == _OTHER_CITY:
            return Classification(text, "redirect", channel="other_city_12345", rule=_OTHER_CITY, confidence=conf,
                                  evidence=evidence, request_type=rtype)
        rule = self._rules[s.key]
        return Classification(text, rule.disposition, channel=rule.channel, rule=rule.id, confidence=conf,
                              evidence=evidence, request_type=rtype)

    def _decide(self, text: str, norm: str, ranked: list[_Scored], rtype: str | None,
                by_label: dict[str, list[Hit]]) -> Classification:
        floor = self.policy.min_score
        rules = [s for s in ranked if s.kind == "rule" and s.score >= floor]
        cats = [s for s in ranked if s.kind == "cat" and s.score >= floor]
        if len(cats) > 1 and cats[0].key == "other":
            cats = cats[1:] + cats[:1]
        if not rules and not cats:
            return self._unmatched(text, norm, ranked, rtype)
        rule, cat = (rules[0] if rules else None), (cats[0] if cats else None)
        main, second = rule or cat, None
        if rule is not None and cat is not None:
            addendum = by_label.get("cue:add", [])
            r0, c0 = rule.hits[0].start, cat.hits[0].start
            # 路灯坏了 … 还有 我想问问离婚: the negative-list part comes after an addendum cue that follows the
            # in-scope matter (or right after the cue); 违法解除合同 … 另外 路灯坏了: the reverse
            switch = [c for c in addendum if c.matched.startswith(_SWITCH_CUES)]
            is_addendum = any(r0 - 1 <= c.end <= r0 for c in addendum) or any(
                c0 < c.start and c.end <= r0 <= c.end + 10 for c in switch)
            cat_addendum = any(r0 < c.start and c.end <= c0 <= c.end + 10 for c in switch)
            explicit = [h for h in rule.hits if h.term.weight >= 3]
            # 我要去告他 / 我想申请仲裁: the caller states what they want done; that is the main part
            intent = any(h.start - 4 <= c.end <= h.start for h in explicit for c in by_label.get("cue:want", []))
            stronger = intent or (bool(explicit) and rule.score >= 0.4 * cat.score) or rule.score > cat.score
            rule_wins = cat_addendum or (not is_addendum and stronger)
            main, second = (rule, cat) if rule_wins else (cat, rule)
        assert main is not None
        rivals = [s.score for s in ranked if s is not main and s is not second]
        runner = max([second.score if second else 0.0, *rivals, 0.0])
        conf = min(0.97, 0.4 + 0.12 * main.score) * (0.6 + 0.4 * main.score / (main.score + runner))
        result = self._as(text, main, conf, rtype)
        if second is not None:
            result = replace(result, secondary=self._as(text, second, min(0.9, 0.3 + 0.1 * second.score), rtype))
        return result

    def _from_label(self, text: str, label: str, conf: float, evidence: tuple[str, ...],
                    rtype: str | None) -> Classification | None:
        disposition, _, key = label.partition(":")
        if disposition == "emergency" and key in self._em:
            return Classification(text, "emergency", channel=self.policy.emergency_channel(key), rule=key,
                                  confidence=conf, evidence=evidence, request_type="求助", confirm=True)
        if disposition == "accept":
            return Classification(text, "accept", category=key if key in self.policy.categories else "other",
                                  confidence=conf, evidence=evidence, request_type=rtype or "求助")
        if key == _OTHER_CITY:
            return Classification(text, "redirect", channel="other_city_12345", rule=key, confidence=conf,
                                  evidence=evidence, request_type=rtype)
        if key in self._rules:
            rule = self._rules[key]
            return Classification(text, rule.disposition, channel=rule.channel, rule=key, confidence=conf,
                                  evidence=evidence, request_type=rtype)
        if disposition == "clarify":
            return Classification(text, "clarify", confidence=conf, evidence=evidence, request_type=rtype)
        return None

    def _combine(self, text: str, norm: str, ruled: Classification, rtype: str | None,
                 hazard: bool, blocked: frozenset[str] = frozenset()) -> Classification:
        """The keyword decision, checked against the learned model (thresholds in policy ``learned:``, chosen by
        leave-one-author-out accuracy over flows/classifier/training; see bench/classifier_accuracy.py --cross).

        - an alarm from the rules stands unless the model finds almost nothing of an emergency in the words
          (抢票, 管网抢修, 燃气卡没反应): then the model's non-emergency reading is taken, the alarm kept as secondary;
        - the model raises an alarm the rules missed (头一歪 筷子掉了 叫他也不吭声) when its emergency share is high
          enough and no hypothetical/past/taken-back/aftermath cue was heard (万一着火, 上周着过火); such an alarm is
          always confirmed first (是否需要为您转接120？);
        - otherwise the model overrules a less sure rule decision only when it is itself nearly certain.
        """
        if self._model is None:
            return ruled
        cfg = self.policy.learned
        pred = self._model.predict_prepared(norm, cfg.temperature)
        if pred is None or not pred.evidence:  # nothing the model learned is in the words ("G", "喂")
            return ruled
        em_share = pred.by_disposition.get("emergency", 0.0)
        if ruled.disposition == "emergency":
            # a strong alarm is only questioned when it rests on short words alone (没反应, 抢了), never on a pattern
            # that ties two parts together (打价…见血, 煤气…锈穿)
            specific = any("…" in ev or len(ev) > 3 for ev in ruled.evidence)
            sure = ruled.confidence >= self.policy.thresholds.strong
            floor = (0.0 if specific else cfg.veto_strong_below) if sure else cfg.veto_below
            if em_share >= floor or self._window_share(norm, ruled) >= floor:
                return ruled
            other = max((d for d in pred.by_disposition if d != "emergency"), key=lambda d: pred.by_disposition[d])
            if other == "clarify" or pred.by_disposition[other] < 0.9:  # only a concrete other matter outvotes it
                return ruled
            taken = self._from_label(text, pred.best_of[other], round(0.3 + 0.4 * pred.by_disposition[other], 3),
                                     pred.evidence, rtype)
            return replace(taken, secondary=ruled) if taken is not None else ruled
        # the model alone raises an alarm only in a call short enough for its certainty to mean something (its
        # training sentences are short; a long narrative about a hazard is no emergency by its words)
        if (not hazard and ruled.confidence < self.policy.thresholds.strong
                and len(norm) <= self.policy.thresholds.model_alarm_max_chars):
            alarm_share, alarm = self._part_share(norm, em_share, pred)
            if alarm_share >= cfg.emergency_share:
                raised = self._from_label(text, alarm.best_of["emergency"], round(min(0.6, alarm_share), 3),
                                          alarm.evidence, rtype)
                if raised is not None:
                    return replace(raised, secondary=ruled if ruled.disposition != "clarify" else None)
        # 不能一拒了之: the model alone never turns an accepted matter away, nor a concrete one into clarify
        turns_away = ruled.disposition == "accept" and pred.disposition in ("redirect", "decline")
        vague = pred.disposition == "clarify" and len(self._content(norm)) >= cfg.clarify_below_chars
        allowed = not vague and (not turns_away or len(norm) <= cfg.turn_away_max_chars)
        allowed = allowed and pred.label.partition(":")[2] not in blocked  # a rule's `unless` binds the model too
        if (allowed and ruled.confidence < cfg.rule_sure and pred.share >= cfg.model_sure
                and pred.disposition != ruled.disposition):
            taken = self._from_label(text, pred.label, round(0.3 + 0.4 * pred.share, 3), pred.evidence, rtype)
            if taken is not None:
                return taken
        if (ruled.disposition == pred.disposition == "accept" and ruled.category == "other" and pred.share >= 0.5
                and pred.label != "accept:other"):
            return replace(ruled, category=pred.label.partition(":")[2], evidence=ruled.evidence + pred.evidence)
        return ruled

    def _part_share(self, norm: str, em_share: float, pred: Prediction) -> tuple[float, Prediction]:
        """The whole call's emergency share, or for a long call whose whole is not enough, the highest share of
        its parts (halves, overlapping): 物业费的事 … 哎你等等 楼道里怎么冒这么大的烟 is an emergency even though most
        of the words are about the fee."""
        assert self._model is not None
        if len(norm) <= self.policy.thresholds.long_call or em_share >= self.policy.learned.emergency_share:
            return em_share, pred
        size = max(18, len(norm) // 2)
        for start in range(0, len(norm) - size + 1, max(1, size // 2)):
            part = self._model.predict_prepared(norm[start : start + size], self.policy.learned.temperature)
            if part is not None and part.by_disposition.get("emergency", 0.0) > em_share:
                em_share, pred = part.by_disposition.get("emergency", 0.0), part
        return em_share, pred

    def _window_share(self, norm: str, ruled: Classification) -> float:
        """The model's emergency share for the words around the rule's trigger alone: a long call about something
        else must not outvote 楼下好像着火了 said in the middle of it."""
        assert self._model is not None
        if len(norm) <= self.policy.thresholds.long_call:  # a short call is its own window
            return 0.0
        for ev in ruled.evidence:
            part = ev.lstrip("≈").split("…")[0].split("≈")[0]
            at = norm.find(part) if part else -1
            if at >= 0:
                window = norm[max(0, at - 12) : at + len(part) + 12]
                pred = self._model.predict_prepared(window, self.policy.learned.temperature)
                return pred.by_disposition.get("emergency", 0.0) if pred else 1.0
        return 1.0  # no trigger found in the words: keep the alarm

    def _content(self, norm: str) -> str:
        """The words left when phrases that carry no content (喂 你好 我想问一下) are taken out."""
        content = norm
        for phrase in self._empty:
            content = content.replace(phrase, "")
        return content

    def _unmatched(self, text: str, norm: str, ranked: list[_Scored], rtype: str | None) -> Classification:
        content = self._content(norm)
        t = self.policy.text
        weak = [s for s in ranked if s.kind == "cat"]
        if len(content) >= t.accept_fallback_chars or (weak and len(content) >= max(t.min_content_chars, 6)):
            code = weak[0].key if weak else "other"
            evidence = tuple(h.evidence for h in weak[0].hits) if weak else ()
            return Classification(text, "accept", category=code, confidence=0.35, evidence=evidence,
                                  request_type=rtype or "求助")
        return Classification(text, "clarify", confidence=0.9 if not content else 0.7, request_type=rtype,
                              evidence=(f"content:{content}",) if content else ())
