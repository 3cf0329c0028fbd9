"""Survey definitions: loading from YAML/JSON, path-naming errors, variants, language fallback."""

from __future__ import annotations

import json

import pytest

from closeloop.ask.definitions import (
    Localized,
    NpsQuestion,
    SurveyDefinitionError,
    example_surveys,
    load_survey,
    normalize_language,
    text_for,
)

MINIMAL = """
id: after-order
title: {zh: 购物体验, en: Your order}
questions:
  - {id: nps, type: nps, required: true, text: 您会推荐我们吗？}
  - {id: why, type: text, explains: nps, text: {zh: 原因？, en: "Why?"}}
  - id: wrong
    type: single
    show_if: {question: nps, op: "<=", value: 6}
    text: What went wrong?
    choices:
      - {id: delivery, label: {zh: 物流, en: Delivery}}
      - {id: price, label: {zh: 价格, en: Price}}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(SurveyDefinitionError) as caught:
        load_survey(text)
    return caught.value.problems


def test_loads_yaml_with_branching_and_plain_string_texts():
    survey = load_survey(MINIMAL)
    assert [q.id for q in survey.questions] == ["nps", "why", "wrong"]
    nps = survey.question("nps")
    assert isinstance(nps, NpsQuestion) and nps.scale == (0, 10) and nps.required
    assert nps.text == Localized(zh="您会推荐我们吗？")  # a Chinese plain string is taken as zh
    assert survey.question("wrong").text == Localized(en="What went wrong?")
    condition = survey.question("wrong").show_if[0]  # one mapping becomes a list of one condition
    assert (condition.question, condition.op, condition.value) == ("nps", "<=", 6)


def test_loads_the_same_survey_from_json_and_from_a_dict():
    from_yaml = load_survey(MINIMAL)
    as_dict = from_yaml.model_dump(mode="json")
    assert load_survey(json.dumps(as_dict, ensure_ascii=False)) == from_yaml
    assert load_survey(as_dict) == from_yaml


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (
            '{question: nps, op: "<=", value: 6}',
            "{question: q9, value: 1}",
            "questions[2].show_if: unknown question 'q9'",
        ),
        (
            '{question: nps, op: "<=", value: 6}',
            "{question: wrong, value: delivery}",
            "questions[2].show_if: question 'wrong' does not come before this one",
        ),
        ('{question: nps, op: "<=", value: 6}', "{question: nps, value: low}", "compare it with numbers"),
        (
            '{question: nps, op: "<=", value: 6}',
            "{question: why, value: x}",
            "cannot use the free-text question",
        ),
        ("explains: nps", "explains: wrong", "questions[1].explains: question 'wrong' must come before"),
        ('op: "<="', 'op: "~="', "questions[2].show_if[0].op"),
        ("type: single", "type: dropdown", "questions[2]: Input tag 'dropdown'"),
        ("id: price", "id: delivery", "questions[2].choices[1].id: duplicate choice id 'delivery'"),
        (
            "text: What went wrong?",
            "text: {}",
            "questions[2].text: needs a Chinese (zh) or English (en) text",
        ),
        ("id: after-order", "id: After Order", "id: String should match pattern"),
    ],
)
def test_errors_name_the_path(replace, by, expected):
    assert replace in MINIMAL
    problems = _problems(MINIMAL.replace(replace, by))
    assert any(problem.startswith(expected) or expected in problem for problem in problems), problems


def test_condition_on_a_choice_must_use_a_known_choice_and_no_ordering():
    base = MINIMAL + "  - {id: more, type: text, text: 'More?', show_if: {question: wrong, value: colour}}\n"
    assert _problems(base) == [
        "questions[3].show_if: 'colour' is not a choice of 'wrong' (choices: delivery, price)"
    ]
    ordered = (
        MINIMAL + "  - {id: more, type: text, text: 'More?', show_if: {question: wrong, op: '<', value: 2}}\n"
    )
    assert "needs a scored question" in _problems(ordered)[0]


def test_duplicate_question_ids_and_bad_selection_bounds():
    duplicate = MINIMAL + "  - {id: why, type: text, text: again}\n"
    assert "questions[3].id: duplicate question id 'why'" in _problems(duplicate)
    bounds = MINIMAL + (
        "  - {id: m, type: multiple, text: m, max_selections: 3,"
        " choices: [{id: a, label: A}, {id: b, label: B}]}\n"
    )
    assert _problems(bounds) == ["questions[3].max_selections: 3 is more than the 2 choices"]


def test_syntax_errors_and_non_mappings_are_reported():
    assert _problems("id: [")[0].startswith("not valid YAML or JSON")
    assert "must be a mapping" in _problems("- just a list")[0]


def test_variant_picks_order_subset_and_wording():
    survey = load_survey(
        MINIMAL
        + """variants:
  - {id: long, weight: 2}
  - id: short
    questions: [nps, why]
    texts: {nps: {zh: 您会推荐吗？, en: "Recommend us?"}}
"""
    )
    assert survey.variant_weights == {"long": 2.0, "short": 1.0}
    short = survey.with_variant("short")
    assert [q.id for q in short.questions] == ["nps", "why"]
    assert text_for(short.question("nps").text, "en") == "Recommend us?"
    assert short.variants == [] and short.metadata["variant"] == "short"
    assert [q.id for q in survey.with_variant("long").questions] == ["nps", "why", "wrong"]
    assert survey.with_variant(None) is survey


def test_variant_must_keep_what_a_question_depends_on_before_it():
    broken = MINIMAL + "variants:\n  - {id: v, questions: [wrong, nps]}\n"
    assert _problems(broken) == [
        "variants[0].questions: 'wrong' depends on 'nps', which must be listed before it in this variant"
    ]
    unknown = MINIMAL + "variants:\n  - {id: v, questions: [nps, zz], texts: {yy: x}}\n"
    assert _problems(unknown) == [
        "variants[0].texts: unknown question 'yy'",
        "variants[0].questions[1]: unknown question 'zz'",
    ]


@pytest.mark.parametrize(
    ("localized", "lang", "expected"),
    [
        (Localized(zh="中文", en="English"), "zh-CN", "中文"),
        (Localized(zh="中文", en="English"), "en_US", "English"),
        (Localized(zh="中文", en="English"), "fr", "中文"),  # unknown language → default zh
        (Localized(zh="中文"), "en", "中文"),  # missing English falls back to Chinese
        (Localized(en="English"), "zh", "English"),
        (None, "zh", ""),
    ],
)
def test_text_for_falls_back(localized, lang, expected):
    assert text_for(localized, lang) == expected


def test_normalize_language():
    assert [normalize_language(x) for x in ("zh-Hans", "ZH", "en-GB", "", None)] == [
        "zh",
        "zh",
        "en",
        "zh",
        "zh",
    ]
    assert normalize_language("de", default="en") == "en"


def test_bundled_examples_load():
    examples = example_surveys()
    assert set(examples) == {"post_purchase_nps", "support_csat", "effort_ces"}
    nps = examples["post_purchase_nps"]
    assert nps.question("went_wrong").show_if[0].value == 6
    assert [q.id for q in nps.with_variant("short").questions] == ["nps", "why"]
    assert [q.type for q in examples["effort_ces"].questions] == ["ces", "text"]
