"""Routing rules: conditions, order and ``stop``, YAML with path-naming errors, dry runs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from closeloop.act.routing import (
    DryRun,
    RoutedItem,
    RoutingRule,
    RoutingRuleError,
    dry_run,
    dump_rules,
    example_rules,
    explain_match,
    load_rules,
    matches,
    route,
)
from closeloop.analysis.taxonomy import load_taxonomy
from closeloop.store.models import Analysis, Customer, FeedbackItem

ISSUE_EXAMPLE = """
rules:
  - id: vip-logistics
    name: {zh: 高价值客户物流投诉, en: Logistics complaint from a high-value customer}
    when:
      categories_any: [logistics]
      sentiment: negative
      complaint: true
      min_lifetime_value: 5000
    then: {team: logistics, priority: urgent, sla: {first_response: 4h, resolve: 2d}, tags: [vip]}
  - id: complaints
    name: 其他投诉
    when: {complaint: true}
    then: {team: customer-service, sla: {first_response: 1d}}
"""

LATE_PARCEL = RoutedItem(
    id=1,
    text="快递太慢了，等了十天才到，包装也破了",
    channel="taobao",
    kind="review",
    rating=1,
    rating_scale=(1, 5),
    language="zh-CN",
    product="SKU-1001 保温杯",
    categories=("logistics", "packaging"),
    sentiment="negative",
    complaint=True,
    customer_tier="金卡",
    customer_region="华东",
    customer_lifetime_value=12000.0,
)


def _rule(when: dict | None = None, **then: object) -> RoutingRule:
    action = {"team": "customer-service", **then}
    return load_rules([{"id": "r", "name": "rule", "when": when or {}, "then": action}])[0]


def _problems(source: object) -> list[str]:
    with pytest.raises(RoutingRuleError) as caught:
        load_rules(source)  # type: ignore[arg-type]
    return caught.value.problems


def test_the_issue_example_routes_to_logistics_urgent_with_a_four_hour_first_response():
    decision = route(LATE_PARCEL, load_rules(ISSUE_EXAMPLE))
    assert decision is not None
    assert (decision.rule_id, decision.team, decision.priority) == ("vip-logistics", "logistics", "urgent")
    assert decision.sla.first_response == timedelta(hours=4)
    assert decision.sla.resolve == timedelta(days=2)
    assert decision.tags == ("vip",)
    assert decision.matched == (
        "categories_any: logistics",
        "sentiment: negative",
        "complaint: true",
        "min_lifetime_value: 12000 ≥ 5000",
    )


def test_a_low_value_customer_falls_through_to_the_next_rule_and_no_rule_means_none():
    rules = load_rules(ISSUE_EXAMPLE)
    small = replace(LATE_PARCEL, customer_lifetime_value=300.0)
    decision = route(small, rules)
    assert decision is not None and (decision.rule_id, decision.team) == ("complaints", "customer-service")
    assert decision.priority == "normal" and decision.sla.first_response == timedelta(days=1)
    assert decision.sla.resolve is None
    assert route(replace(small, complaint=False), rules) is None


@pytest.mark.parametrize(
    ("when", "item_changes", "expected"),
    [
        ({"categories_any": ["price", "logistics"]}, {}, True),
        ({"categories_any": ["price"]}, {}, False),
        ({"categories_all": ["logistics", "packaging"]}, {}, True),
        ({"categories_all": ["logistics", "price"]}, {}, False),
        ({"sentiment": ["negative", "neutral"]}, {}, True),
        ({"sentiment": ["positive"]}, {}, False),
        ({"sentiment": ["negative"]}, {"sentiment": None}, False),
        ({"complaint": True}, {}, True),
        ({"complaint": False}, {}, False),
        ({"complaint": False}, {"complaint": None}, False),  # unknown is not "no"
        ({"channels": ["JD", "Taobao"]}, {}, True),
        ({"channels": ["jd"]}, {}, False),
        ({"kinds": ["review"]}, {}, True),
        ({"kinds": ["ticket", "chat"]}, {}, False),
        ({"rating_max": 2}, {}, True),
        ({"rating_max": 2}, {"rating": 3}, False),
        ({"rating_max": 2}, {"rating": None}, False),
        ({"rating_min": 4}, {"rating": 4}, True),
        ({"rating_min": 4}, {}, False),
        ({"rating_max": 2, "rating_scale_max": 5}, {}, True),
        ({"rating_max": 2, "rating_scale_max": 5}, {"rating_scale": (0, 10)}, False),  # an NPS of 1
        ({"rating_max": 2, "rating_scale_max": 5}, {"rating_scale": None}, False),
        ({"customer_tiers": ["金卡", "钻石"]}, {}, True),
        ({"customer_tiers": ["VIP"]}, {"customer_tier": "vip"}, True),
        ({"customer_tiers": ["钻石"]}, {}, False),
        ({"customer_tiers": ["金卡"]}, {"customer_tier": None}, False),
        ({"customer_regions": ["华东"]}, {}, True),
        ({"customer_regions": ["华*"]}, {"customer_region": "华南"}, True),
        ({"customer_regions": ["海外"]}, {}, False),
        ({"min_lifetime_value": 12000}, {}, True),
        ({"min_lifetime_value": 12000.01}, {}, False),
        ({"min_lifetime_value": 0}, {"customer_lifetime_value": None}, False),
        ({"keywords_any": ["退款", "快递"]}, {}, True),
        ({"keywords_any": ["退款"]}, {}, False),
        ({"keywords_any": ["late"]}, {"text": "Parcel arrived LATE again"}, True),
        ({"keywords_any": ["sku"]}, {"text": "ＳＫＵ写错了"}, True),  # full-width letters
        ({"products": ["SKU-1001 保温杯"]}, {}, True),
        ({"products": ["sku-10*"]}, {}, True),
        ({"products": ["SKU-2*"]}, {}, False),
        ({"products": ["*"]}, {"product": None}, False),
        ({"languages": ["zh"]}, {}, True),
        ({"languages": ["zh"]}, {"language": "zh_Hans"}, True),
        ({"languages": ["en"]}, {}, False),
        ({"languages": ["zh"]}, {"language": "zhx"}, False),
        ({"needs_review": True}, {"needs_review": True}, True),
        ({"needs_review": True}, {}, False),
        ({"needs_review": False}, {}, True),
        ({}, {}, True),  # an empty `when` is a catch-all
    ],
)
def test_each_condition(when: dict, item_changes: dict, expected: bool):
    item = replace(LATE_PARCEL, **item_changes)
    assert matches(item, _rule(when)) is expected
    assert (route(item, [_rule(when)]) is not None) is expected


def test_all_conditions_must_hold():
    rule = _rule({"categories_any": ["logistics"], "channels": ["jd"]})
    assert not matches(LATE_PARCEL, rule)
    assert matches(replace(LATE_PARCEL, channel="jd"), rule)


def test_explanations_name_each_condition_that_held():
    when = {
        "channels": ["taobao"],
        "rating_max": 2,
        "rating_scale_max": 5,
        "customer_regions": ["华*"],
        "keywords_any": ["退款", "包装"],
        "products": ["SKU-*"],
        "languages": ["zh"],
    }
    assert explain_match(LATE_PARCEL, _rule(when).when) == [
        "channels: taobao",
        "rating_scale_max: 5",
        "rating_max: 1 ≤ 2",
        "customer_regions: 华东 ~ 华*",
        "keywords_any: 包装",
        "products: SKU-1001 保温杯 ~ SKU-*",
        "languages: zh-CN",
    ]
    assert explain_match(replace(LATE_PARCEL, channel="jd"), _rule(when).when) is None


ORDERED = """
- id: logistics
  name: {zh: 物流差评, en: Negative delivery}
  when: {categories_any: [logistics], sentiment: [negative]}
  then: {team: logistics, priority: normal, sla: {first_response: 1d, resolve: 3d}, tags: [物流]}
  stop: false
- id: disabled-vip
  name: 停用
  enabled: false
  when: {customer_tiers: [金卡]}
  then: {team: vip-desk, priority: urgent, tags: [never]}
- id: gold-low-rating
  name: {zh: 金卡低分, en: Gold low rating}
  when: {customer_tiers: [金卡], rating_max: 2}
  then: {team: customer-service, priority: high, sla: {first_response: 8h}, tags: [高价值客户, 物流]}
- id: complaints
  name: 投诉
  when: {complaint: true}
  then: {team: customer-service, priority: urgent, tags: [late]}
"""


def test_first_match_wins_and_disabled_rules_are_skipped():
    rules = load_rules(ORDERED)
    stop_everywhere = [rule.model_copy(update={"stop": True}) for rule in rules]
    decision = route(LATE_PARCEL, stop_everywhere)
    assert decision is not None
    assert (decision.rule_id, decision.priority, decision.tags, decision.contributors) == (
        "logistics",
        "normal",
        ("物流",),
        (),
    )
    other = replace(LATE_PARCEL, categories=("price",))
    decision = route(other, rules)
    assert decision is not None and decision.rule_id == "gold-low-rating"  # not the disabled rule
    assert decision.team == "customer-service" and "never" not in decision.tags


def test_stop_false_lets_later_rules_add_tags_raise_priority_and_shorten_the_sla_until_a_stop():
    decision = route(LATE_PARCEL, load_rules(ORDERED))
    assert decision is not None
    assert decision.rule_id == "logistics" and decision.team == "logistics"  # the first match decides
    assert decision.priority == "high"  # raised by gold-low-rating
    assert decision.sla.first_response == timedelta(hours=8)  # shortened by it
    assert decision.sla.resolve == timedelta(days=3)  # kept: it sets no resolve target
    assert decision.tags == ("物流", "高价值客户")  # added once each, in order
    assert decision.contributors == ("gold-low-rating",)  # its stop ends evaluation: no "late" tag
    assert decision.matched == ("categories_any: logistics", "sentiment: negative")


def test_a_later_rule_never_lowers_the_priority():
    rules = load_rules(ORDERED)
    first = rules[0].model_copy(update={"then": rules[0].then.model_copy(update={"priority": "urgent"})})
    decision = route(LATE_PARCEL, [first, *rules[1:]])
    assert (
        decision is not None
        and decision.priority == "urgent"
        and decision.contributors == ("gold-low-rating",)
    )


def test_when_the_contributing_rule_does_not_match_evaluation_goes_on_to_the_next():
    ordinary = replace(LATE_PARCEL, customer_tier="普通")
    decision = route(ordinary, load_rules(ORDERED))
    assert decision is not None
    assert decision.contributors == ("complaints",)
    assert (decision.team, decision.priority, decision.tags) == ("logistics", "urgent", ("物流", "late"))
    assert decision.sla.first_response == timedelta(days=1)


def test_loads_yaml_json_lists_and_mappings_alike():
    from_yaml = load_rules(ORDERED)
    as_data = dump_rules(from_yaml)
    assert load_rules(json.dumps(as_data, ensure_ascii=False)) == from_yaml
    assert load_rules({"rules": as_data}) == from_yaml
    assert load_rules(as_data) == from_yaml
    assert load_rules("") == [] and load_rules("rules: []") == []
    assert from_yaml[0].display_name("en") == "Negative delivery"
    assert from_yaml[0].display_name("zh-CN") == "物流差评"
    assert from_yaml[1].display_name("en") == "停用"  # falls back to the only language


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("id", None, "rules[0].id: Field required"),
        ("id", "a b", "rules[0].id: String should match pattern"),
        ("name", "", "rules[0].name: needs a Chinese (zh) or English (en) text"),
        ("then.team", "  ", "rules[0].then.team: team must not be empty"),
        ("then.team", None, "rules[0].then.team: Field required"),
        ("then.priority", "asap", "rules[0].then.priority: Input should be"),
        ("then.sla.first_response", "4 hours", "rules[0].then.sla.first_response: not a duration"),
        ("then.sla.resolve", "-1h", "rules[0].then.sla.resolve: not a duration"),
        ("then.sla", {"first_response": "1d", "resolve": "4h"}, "rules[0].then.sla: resolve must not be"),
        ("when.sentiment", ["negative", "angry"], "rules[0].when.sentiment[1]: Input should be"),
        ("when.categorie_any", ["x"], "rules[0].when.categorie_any: Extra inputs are not permitted"),
        ("when.channels", [], "rules[0].when.channels: List should have at least 1 item"),
        ("when.keywords_any", ["退款", " "], "rules[0].when.keywords_any: entries must not be empty"),
        ("when", {"rating_min": 4, "rating_max": 2}, "rules[0].when: rating_min is larger than rating_max"),
        ("when.min_lifetime_value", -1, "rules[0].when.min_lifetime_value: Input should be greater"),
    ],
)
def test_invalid_rules_are_refused_with_the_path(path: str, value: object, expected: str):
    rule: dict = {"id": "a", "name": "n", "when": {}, "then": {"team": "t", "sla": {}}}
    *parents, last = path.split(".")
    target = rule
    for parent in parents:
        target = target[parent]
    if value is None:
        del target[last]
    else:
        target[last] = value
    problems = _problems([rule])
    assert any(problem.startswith(expected) for problem in problems), problems
    later = _problems([{"id": "ok", "name": "fine", "then": {"team": "t"}}, rule])
    assert any(problem.startswith(expected.replace("rules[0]", "rules[1]")) for problem in later), later


def test_duplicate_ids_unknown_categories_and_bad_documents_are_refused():
    twice = [{"id": "a", "name": "n", "then": {"team": "t"}}] * 3
    assert _problems(twice) == [
        "rules[1].id: duplicate rule id 'a' (first at rules[0])",
        "rules[2].id: duplicate rule id 'a' (first at rules[0])",
    ]
    unknown = [
        {"id": "a", "name": "n", "when": {"categories_all": ["logistics", "shipping"]}, "then": {"team": "t"}}
    ]
    with pytest.raises(RoutingRuleError) as caught:
        load_rules(unknown, known_categories=["logistics", "price"])
    assert caught.value.problems == ["rules[0].when.categories_all[1]: unknown category 'shipping'"]
    assert "路由规则有误" in str(caught.value)
    assert _problems("rules: [unclosed")[0].startswith("not valid YAML or JSON")
    assert _problems("just text")[0].startswith("routing rules must be a list")
    assert _problems({"rules": [], "version": 2}) == ["version: Extra inputs are not permitted"]


def test_the_bundled_example_loads_against_the_default_taxonomy_and_routes_the_issue_example():
    rules = example_rules()
    load_rules(dump_rules(rules), known_categories=load_taxonomy().ids())
    assert all(rule.name.zh and rule.name.en for rule in rules)
    decision = route(LATE_PARCEL, rules)
    assert decision is not None
    assert (decision.team, decision.priority, decision.sla.first_response) == (
        "logistics",
        "urgent",
        timedelta(hours=4),
    )
    counterfeit = RoutedItem(id=2, text="收到的是假货！", sentiment="negative", complaint=True)
    assert route(counterfeit, rules).team == "quality"  # type: ignore[union-attr]
    praise = RoutedItem(id=3, text="很好", categories=("logistics",), sentiment="positive")
    assert route(praise, rules) is None


def _items() -> list[RoutedItem]:
    return [
        LATE_PARCEL,
        replace(LATE_PARCEL, id=2, customer_tier="普通", customer_lifetime_value=100.0),
        replace(LATE_PARCEL, id=3, categories=("price",), complaint=False, customer_tier=None),
        replace(LATE_PARCEL, id=4, sentiment="positive", complaint=False),
        replace(LATE_PARCEL, id=5, channel="jd", customer_tier=None, rating=None),
    ]


def test_dry_run_of_a_rule_alone_lists_matches_counts_and_explanations():
    rule = load_rules(ORDERED)[0]  # logistics, negative
    result = dry_run(_items(), rule, sample_size=2)
    assert isinstance(result, DryRun)
    assert (result.rule_id, result.examined, result.matched_ids) == ("logistics", 5, [1, 2, 5])
    assert result.by_team == {"logistics": 3} and result.by_priority == {"normal": 3}
    assert result.shadowed_ids == []
    assert result.samples == [
        (1, ["categories_any: logistics", "sentiment: negative"]),
        (2, ["categories_any: logistics", "sentiment: negative"]),
    ]


def test_dry_run_in_a_rule_set_shows_where_items_really_go_and_which_earlier_rules_take_them():
    rules = load_rules(ORDERED)
    candidate = _rule({"complaint": True}, team="after-sales", priority="high")
    result = dry_run(_items(), candidate, rules=rules)
    assert result.matched_ids == [1, 2, 5]
    assert result.shadowed_ids == [1, 2, 5]  # all go to the logistics rule first
    assert result.by_team == {"logistics": 3}
    # 1: raised to high by gold-low-rating; 2 and 5: raised to urgent by "complaints", which stops
    assert result.by_priority == {"urgent": 2, "high": 1}
    disabled = rules[1]
    result = dry_run(_items(), disabled, rules=rules)  # a disabled rule in place: as if switched on
    assert result.matched_ids == [1, 4]
    assert result.shadowed_ids == [1]  # the logistics rule comes first and keeps its team
    assert result.by_team == {"logistics": 1, "vip-desk": 1}
    assert result.by_priority == {"urgent": 2}  # item 1 raised by the (now enabled) rule


def test_routed_item_from_store_records():
    created = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    item = FeedbackItem(
        id=7,
        channel="jd",
        kind="review",
        text="物流太慢",
        rating=2.0,
        rating_scale_min=1.0,
        rating_scale_max=5.0,
        language="zh",
        product="SKU-9",
        created_at=created,
    )
    analysis = Analysis(
        sentiment="negative", complaint=True, categories=["logistics"], needs_review=False, language="zh-CN"
    )
    customer = Customer(external_id="c1", tier="钻石", region="华南", lifetime_value=30000.0)
    routed = RoutedItem.from_records(item, analysis, customer)
    assert routed == RoutedItem(
        id=7,
        text="物流太慢",
        channel="jd",
        kind="review",
        rating=2.0,
        rating_scale=(1.0, 5.0),
        language="zh-CN",
        product="SKU-9",
        categories=("logistics",),
        sentiment="negative",
        complaint=True,
        needs_review=False,
        customer_tier="钻石",
        customer_region="华南",
        customer_lifetime_value=30000.0,
    )
    bare = RoutedItem.from_records(item)
    assert bare.sentiment is None and bare.categories == () and bare.customer_tier is None
    assert bare.language == "zh"
