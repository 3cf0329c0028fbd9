"""Routing rules: which team gets a feedback item, at what priority, under which SLA.

A rule is ``when`` (conditions, all must hold) → ``then`` (team, priority, SLA, tags). Rules are loaded
from YAML or JSON (errors name the path, e.g. ``rules[2].when.sentiment[0]``) and evaluated in order on
every new or re-analysed item.

Evaluation, decided here once:
- Disabled rules are skipped. The first matching rule decides: its id, team and SLA, and it starts the
  priority and the tags.
- If that rule has ``stop: true`` (the default) evaluation ends there. With ``stop: false`` evaluation
  goes on, and every later matching rule *contributes*: it adds its tags, raises the priority if its own
  is higher (never lowers it), and shortens each SLA target that it sets shorter (never lengthens).
  Its team is ignored. The first contributing rule with ``stop: true`` ends evaluation.
- A condition on something the item lacks (no rating, no customer, complaint unknown) does not hold,
  so a rule never fires on missing data. An empty ``when`` matches every item (a catch-all).

Conditions (all optional, lists need at least one entry):
- ``categories_any`` / ``categories_all``: category ids (``logistics``, ``packaging`` … as in the taxonomy).
- ``sentiment``: any of ``negative`` / ``neutral`` / ``positive``.
- ``complaint``, ``needs_review``: true or false.
- ``channels``, ``kinds``: exact names (``taobao``, ``review`` …), case-insensitive.
- ``rating_max`` / ``rating_min``: the item's raw rating, inclusive, on its own scale (``rating_max: 2``
  holds for 1 or 2 stars of 5). Ratings on different scales are not comparable, so add
  ``rating_scale_max: 5`` to hold only for items rated out of 5 (an NPS 0–10 item then never matches).
- ``customer_tiers`` (case-insensitive), ``customer_regions`` and ``products`` (case-insensitive, exact
  or glob: ``"广东*"``, ``"SKU-10*"``), ``min_lifetime_value`` (≥).
- ``keywords_any``: case-insensitive substrings of the text; full-width and half-width forms are the same.
- ``languages``: ``zh`` holds for ``zh``, ``zh-CN``, ``zh_Hans`` …
"""

from __future__ import annotations

import fnmatch
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from closeloop.act.sla import Sla
from closeloop.ask.definitions import Localized, text_for

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")  # least to most pressing
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")

Priority = Literal["urgent", "high", "normal", "low"]
Sentiment = Literal["negative", "neutral", "positive"]

_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$"


def _entries() -> Any:
    """An optional list condition: absent means "any", present needs at least one entry."""
    return Field(default=None, min_length=1)


class RoutingRuleError(ValueError):
    """Routing rules that cannot be accepted; ``problems`` are ``"path: message"`` strings."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid routing rules / 路由规则有误:\n  " + "\n  ".join(problems))
        self.problems = problems


def fold(text: str) -> str:
    """Text as compared by conditions: NFKC (full-width ``ＳＫＵ`` → ``SKU``), case-folded, stripped."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


class Conditions(BaseModel):
    """What an item must be for a rule to fire; every condition given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories_any: list[str] | None = _entries()
    categories_all: list[str] | None = _entries()
    sentiment: list[Sentiment] | None = _entries()
    complaint: bool | None = None
    channels: list[str] | None = _entries()
    kinds: list[str] | None = _entries()
    rating_min: float | None = None
    rating_max: float | None = None
    rating_scale_max: float | None = None
    customer_tiers: list[str] | None = _entries()
    customer_regions: list[str] | None = _entries()
    min_lifetime_value: float | None = Field(default=None, ge=0)
    keywords_any: list[str] | None = _entries()
    products: list[str] | None = _entries()
    languages: list[str] | None = _entries()
    needs_review: bool | None = None

    @field_validator("sentiment", mode="before")
    @classmethod
    def _one_sentiment(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator(
        "categories_any",
        "categories_all",
        "channels",
        "kinds",
        "customer_tiers",
        "customer_regions",
        "keywords_any",
        "products",
        "languages",
    )
    @classmethod
    def _no_blank_entries(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not entry.strip() for entry in value):
            raise ValueError("entries must not be empty")
        return value

    @model_validator(mode="after")
    def _rating_range(self) -> Conditions:
        if self.rating_min is not None and self.rating_max is not None and self.rating_min > self.rating_max:
            raise ValueError("rating_min is larger than rating_max: no item could match")
        return self


class Action(BaseModel):
    """What happens to a matching item: the team it goes to, priority, SLA and tags."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str = Field(min_length=1, max_length=64)  # Case.team is String(64)
    priority: Priority = "normal"
    sla: Sla = Field(default_factory=Sla)
    tags: list[str] = Field(default_factory=list)

    @field_validator("team")
    @classmethod
    def _team_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("team must not be empty")
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(tag.strip() for tag in value if tag.strip()))


class RoutingRule(BaseModel):
    """One routing rule: ``when`` the conditions hold, ``then`` the action; ``stop`` ends evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN)
    name: Localized
    enabled: bool = True
    when: Conditions = Field(default_factory=Conditions)
    then: Action
    stop: bool = True

    def display_name(self, lang: str | None = None) -> str:
        """The rule's name in ``lang`` (``zh`` when not given), falling back to the other language."""
        return text_for(self.name, lang)


class _RuleSet(BaseModel):
    """The rules of one file, in evaluation order, with unique ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[RoutingRule]

    @model_validator(mode="after")
    def _unique_ids(self) -> _RuleSet:
        first_at: dict[str, int] = {}
        problems = []
        for index, rule in enumerate(self.rules):
            if rule.id in first_at:
                problems.append(
                    f"rules[{index}].id: duplicate rule id {rule.id!r} (first at rules[{first_at[rule.id]}])"
                )
            first_at.setdefault(rule.id, index)
        if problems:
            raise RoutingRuleError(problems)
        return self


@dataclass(frozen=True)
class RoutedItem:
    """What routing needs to know about one feedback item, its latest analysis and its customer."""

    id: int | str
    text: str = ""
    channel: str | None = None
    kind: str | None = None
    rating: float | None = None
    rating_scale: tuple[float, float] | None = None  # (min, max), e.g. (1, 5) for stars
    language: str | None = None
    product: str | None = None
    categories: tuple[str, ...] = ()
    sentiment: str | None = None
    complaint: bool | None = None
    needs_review: bool = False
    customer_tier: str | None = None
    customer_region: str | None = None
    customer_lifetime_value: float | None = None

    @classmethod
    def from_records(cls, item: Any, analysis: Any = None, customer: Any = None) -> RoutedItem:
        """Built from a stored ``FeedbackItem``, its ``Analysis`` (or None) and ``Customer`` (or None).

        Only attributes are read, so any objects with the same names do (no database access here).
        """
        scale_min, scale_max = (
            getattr(item, "rating_scale_min", None),
            getattr(item, "rating_scale_max", None),
        )
        return cls(
            id=item.id,
            text=item.text or "",
            channel=item.channel,
            kind=item.kind,
            rating=item.rating,
            rating_scale=(scale_min, scale_max) if scale_min is not None and scale_max is not None else None,
            language=(analysis.language if analysis is not None else None) or item.language,
            product=item.product,
            categories=tuple(analysis.categories or ()) if analysis is not None else (),
            sentiment=analysis.sentiment if analysis is not None else None,
            complaint=analysis.complaint if analysis is not None else None,
            needs_review=bool(analysis.needs_review) if analysis is not None else False,
            customer_tier=customer.tier if customer is not None else None,
            customer_region=customer.region if customer is not None else None,
            customer_lifetime_value=customer.lifetime_value if customer is not None else None,
        )


@dataclass(frozen=True)
class Decision:
    """Where routing sends an item. ``matched`` explains the deciding rule's conditions
    (``"sentiment: negative"``); ``contributors`` are later ``stop: false`` chain rules that added to it."""

    rule_id: str
    team: str
    priority: Priority
    sla: Sla
    tags: tuple[str, ...]
    matched: tuple[str, ...]
    contributors: tuple[str, ...] = ()


def _fmt(number: float) -> str:
    return f"{number:g}"


def _glob_match(value: str | None, patterns: list[str]) -> str | None:
    """The first pattern (exact or glob, case-insensitive) that ``value`` matches."""
    if value is None:
        return None
    folded = fold(value)
    for pattern in patterns:
        if fnmatch.fnmatchcase(folded, fold(pattern)):
            return pattern
    return None


def _language_matches(language: str | None, wanted: list[str]) -> bool:
    if not language:
        return False
    code = language.strip().lower().replace("_", "-")
    return any(code == w.lower() or code.startswith(w.lower().replace("_", "-") + "-") for w in wanted)


def explain_match(item: RoutedItem, when: Conditions) -> list[str] | None:
    """Why every condition of ``when`` holds for ``item`` (one line each), or None if any does not."""
    reasons: list[str] = []
    categories = {fold(category) for category in item.categories}
    if when.categories_any is not None:
        hits = [c for c in when.categories_any if fold(c) in categories]
        if not hits:
            return None
        reasons.append(f"categories_any: {', '.join(hits)}")
    if when.categories_all is not None:
        if not all(fold(c) in categories for c in when.categories_all):
            return None
        reasons.append(f"categories_all: {', '.join(when.categories_all)}")
    if when.sentiment is not None:
        if item.sentiment not in when.sentiment:
            return None
        reasons.append(f"sentiment: {item.sentiment}")
    if when.complaint is not None:
        if item.complaint is None or item.complaint != when.complaint:
            return None
        reasons.append(f"complaint: {str(item.complaint).lower()}")
    for name, wanted, actual in (("channels", when.channels, item.channel), ("kinds", when.kinds, item.kind)):
        if wanted is not None:
            if actual is None or fold(actual) not in {fold(w) for w in wanted}:
                return None
            reasons.append(f"{name}: {actual}")
    rating_reasons = _rating_reasons(item, when)
    if rating_reasons is None:
        return None
    reasons.extend(rating_reasons)
    customer_reasons = _customer_reasons(item, when)
    if customer_reasons is None:
        return None
    reasons.extend(customer_reasons)
    if when.keywords_any is not None:
        text = fold(item.text)
        hits = [keyword for keyword in when.keywords_any if fold(keyword) in text]
        if not hits:
            return None
        reasons.append(f"keywords_any: {', '.join(hits)}")
    if when.products is not None:
        pattern = _glob_match(item.product, when.products)
        if pattern is None:
            return None
        reasons.append(f"products: {item.product} ~ {pattern}")
    if when.languages is not None:
        if not _language_matches(item.language, when.languages):
            return None
        reasons.append(f"languages: {item.language}")
    if when.needs_review is not None:
        if item.needs_review != when.needs_review:
            return None
        reasons.append(f"needs_review: {str(item.needs_review).lower()}")
    return reasons


def _rating_reasons(item: RoutedItem, when: Conditions) -> list[str] | None:
    if when.rating_min is None and when.rating_max is None and when.rating_scale_max is None:
        return []
    if item.rating is None:
        return None
    reasons = []
    if when.rating_scale_max is not None:
        if item.rating_scale is None or item.rating_scale[1] != when.rating_scale_max:
            return None
        reasons.append(f"rating_scale_max: {_fmt(item.rating_scale[1])}")
    if when.rating_min is not None:
        if item.rating < when.rating_min:
            return None
        reasons.append(f"rating_min: {_fmt(item.rating)} ≥ {_fmt(when.rating_min)}")
    if when.rating_max is not None:
        if item.rating > when.rating_max:
            return None
        reasons.append(f"rating_max: {_fmt(item.rating)} ≤ {_fmt(when.rating_max)}")
    return reasons


def _customer_reasons(item: RoutedItem, when: Conditions) -> list[str] | None:
    reasons = []
    if when.customer_tiers is not None:
        tiers = {fold(tier) for tier in when.customer_tiers}
        if item.customer_tier is None or fold(item.customer_tier) not in tiers:
            return None
        reasons.append(f"customer_tiers: {item.customer_tier}")
    if when.customer_regions is not None:
        pattern = _glob_match(item.customer_region, when.customer_regions)
        if pattern is None:
            return None
        reasons.append(f"customer_regions: {item.customer_region} ~ {pattern}")
    if when.min_lifetime_value is not None:
        value = item.customer_lifetime_value
        if value is None or value < when.min_lifetime_value:
            return None
        reasons.append(f"min_lifetime_value: {_fmt(value)} ≥ {_fmt(when.min_lifetime_value)}")
    return reasons


def matches(item: RoutedItem, rule: RoutingRule) -> bool:
    """True when every condition of ``rule`` holds for ``item`` (``enabled`` is not looked at)."""
    return explain_match(item, rule.when) is not None


def _shorter(current: timedelta | None, other: timedelta | None) -> timedelta | None:
    if current is None:
        return other
    if other is None:
        return current
    return min(current, other)


def _contribute(decision: Decision, rule: RoutingRule) -> Decision:
    """``decision`` with a later chain rule's tags added, priority raised and SLA tightened."""
    action = rule.then
    priority = max(decision.priority, action.priority, key=PRIORITIES.index)
    sla = Sla(
        first_response=_shorter(decision.sla.first_response, action.sla.first_response),
        resolve=_shorter(decision.sla.resolve, action.sla.resolve),
    )
    tags = tuple(dict.fromkeys((*decision.tags, *action.tags)))
    return Decision(
        rule_id=decision.rule_id,
        team=decision.team,
        priority=priority,
        sla=sla,
        tags=tags,
        matched=decision.matched,
        contributors=(*decision.contributors, rule.id),
    )


def route(item: RoutedItem, rules: Sequence[RoutingRule]) -> Decision | None:
    """Where ``item`` goes under ``rules`` (in order, see the module docstring), or None: no rule fired."""
    decision: Decision | None = None
    for rule in rules:
        if not rule.enabled:
            continue
        reasons = explain_match(item, rule.when)
        if reasons is None:
            continue
        if decision is None:
            decision = Decision(
                rule_id=rule.id,
                team=rule.then.team,
                priority=rule.then.priority,
                sla=rule.then.sla,
                tags=tuple(rule.then.tags),
                matched=tuple(reasons),
            )
        else:
            decision = _contribute(decision, rule)
        if rule.stop:
            break
    return decision


@dataclass(frozen=True)
class DryRun:
    """What one rule would have matched among ``examined`` items.

    ``matched_ids``: items the rule's conditions hold for. ``by_team`` / ``by_priority``: where those
    items would end up (under the whole rule set when one was given, else under this rule alone).
    ``shadowed_ids``: matched items an earlier rule takes first, so this rule would not decide them.
    ``samples``: up to ``sample_size`` (item id, explanation lines) pairs.
    """

    rule_id: str
    examined: int
    matched_ids: list[int | str]
    by_team: dict[str, int]
    by_priority: dict[str, int]
    shadowed_ids: list[int | str] = field(default_factory=list)
    samples: list[tuple[int | str, list[str]]] = field(default_factory=list)


def _with_candidate(rules: Sequence[RoutingRule], rule: RoutingRule) -> list[RoutingRule]:
    """``rules`` with ``rule`` in place of the one with its id (appended at the end if new), enabled."""
    candidate = rule if rule.enabled else rule.model_copy(update={"enabled": True})
    replaced = [candidate if existing.id == rule.id else existing for existing in rules]
    return replaced if any(existing.id == rule.id for existing in rules) else [*replaced, candidate]


def dry_run(
    items: Iterable[RoutedItem],
    rule: RoutingRule,
    *,
    rules: Sequence[RoutingRule] | None = None,
    sample_size: int = 5,
) -> DryRun:
    """What ``rule`` would have matched among ``items``, even while it is disabled.

    With ``rules`` (the current rule set), the rule takes the place of the rule with its id, or comes
    last when new, and every matched item is routed through the whole set: the counts then show where
    the items would really go, and ``shadowed_ids`` which of them earlier rules would take.
    """
    rule_set = _with_candidate(rules or (), rule)
    examined = 0
    matched_ids: list[int | str] = []
    shadowed: list[int | str] = []
    by_team: Counter[str] = Counter()
    by_priority: Counter[str] = Counter()
    samples: list[tuple[int | str, list[str]]] = []
    for item in items:
        examined += 1
        reasons = explain_match(item, rule.when)
        if reasons is None:
            continue
        matched_ids.append(item.id)
        decision = route(item, rule_set)
        if decision is not None:
            by_team[decision.team] += 1
            by_priority[decision.priority] += 1
            if decision.rule_id != rule.id:
                shadowed.append(item.id)
        if len(samples) < sample_size:
            samples.append((item.id, reasons))
    return DryRun(
        rule_id=rule.id,
        examined=examined,
        matched_ids=matched_ids,
        by_team=dict(by_team.most_common()),
        by_priority={p: by_priority[p] for p in reversed(PRIORITIES) if by_priority[p]},
        shadowed_ids=shadowed,
        samples=samples,
    )


def _format_location(location: tuple[int | str, ...]) -> str:
    """``("rules", 2, "when", "sentiment", 0)`` → ``rules[2].when.sentiment[0]``."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _problems_from(error: ValidationError) -> list[str]:
    problems = []
    for detail in error.errors():
        cause = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, RoutingRuleError):
            problems.extend(cause.problems)
            continue
        prefix = _format_location(detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        problems.append(f"{prefix}: {message}" if prefix else message)
    return problems


def _unknown_categories(rules: list[RoutingRule], known: set[str]) -> list[str]:
    problems = []
    for index, rule in enumerate(rules):
        for name in ("categories_any", "categories_all"):
            for position, category in enumerate(getattr(rule.when, name) or []):
                if category not in known:
                    problems.append(f"rules[{index}].when.{name}[{position}]: unknown category {category!r}")
    return problems


def load_rules(
    source: str | bytes | Sequence[Any] | Mapping[str, Any],
    *,
    known_categories: Iterable[str] | None = None,
) -> list[RoutingRule]:
    """Rules in order from YAML or JSON text, a parsed list of rules, or a mapping ``{rules: [...]}``.

    Rule ids must be unique and every rule needs a team. With ``known_categories`` (the taxonomy's ids)
    a category condition naming another id is refused too. Raises ``RoutingRuleError``.
    """
    if isinstance(source, bytes):
        source = source.decode("utf-8")
    if isinstance(source, str):
        try:
            source = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise RoutingRuleError([f"not valid YAML or JSON: {exc}"]) from None
    if source is None:
        return []
    if isinstance(source, Mapping):
        source = dict(source)
    elif isinstance(source, Sequence) and not isinstance(source, str):
        source = {"rules": list(source)}
    else:
        raise RoutingRuleError(["routing rules must be a list of rules, or a mapping with a 'rules' list"])
    try:
        rules = _RuleSet.model_validate(source).rules
    except ValidationError as exc:
        raise RoutingRuleError(_problems_from(exc)) from None
    if known_categories is not None:
        problems = _unknown_categories(rules, set(known_categories))
        if problems:
            raise RoutingRuleError(problems)
    return rules


def dump_rules(rules: Sequence[RoutingRule]) -> list[dict[str, Any]]:
    """Rules as plain JSON-able data that ``load_rules`` reads back unchanged (durations in ISO 8601)."""
    return [rule.model_dump(mode="json", exclude_defaults=True) for rule in rules]


def example_rules() -> list[RoutingRule]:
    """The bundled example rule set of an online shop (``act/examples/routing.yaml``)."""
    return load_rules((EXAMPLES_DIR / "routing.yaml").read_text(encoding="utf-8"))
