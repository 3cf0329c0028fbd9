"""Answers: branching in order, validation with problems per question, partial answers, feedback items."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from closeloop.ask.answers import (
    AnswerError,
    CleanAnswers,
    is_complete,
    parse_one_click,
    to_feedback,
    validate_answers,
    visible_questions,
)
from closeloop.ask.definitions import example_surveys, load_survey
from closeloop.collect.records import CustomerRef, FeedbackRecord, validate_record

NPS = example_surveys()["post_purchase_nps"]
CSAT = example_surveys()["support_csat"]


def _codes(error: AnswerError) -> list[tuple[str, str]]:
    return [(problem["question"], problem["code"]) for problem in error.problems]


def _ids(survey, answers) -> list[str]:
    return [question.id for question in visible_questions(survey, answers)]


def test_branching_shows_what_went_wrong_only_to_detractors():
    assert _ids(NPS, {}) == ["nps", "why"]
    assert _ids(NPS, {"nps": 9}) == ["nps", "why"]
    assert _ids(NPS, {"nps": "6"}) == ["nps", "why", "went_wrong", "may_contact"]
    # a chained condition: "other" opens the follow-up text
    assert _ids(NPS, {"nps": 3, "went_wrong": ["price", "other"]}) == [
        "nps",
        "why",
        "went_wrong",
        "went_wrong_other",
        "may_contact",
    ]
    assert _ids(NPS, {"nps": 11}) == ["nps", "why"]  # an invalid score counts as not given


def test_answers_to_hidden_questions_are_dropped():
    clean = validate_answers(NPS, {"nps": 10, "why": "很好", "went_wrong": ["price"], "may_contact": "yes"})
    assert clean.values == {"nps": 10, "why": "很好"}
    assert clean.complete


def test_clean_values_are_typed():
    clean = validate_answers(
        NPS,
        {
            "nps": "4",
            "why": "  太慢了  ",
            "went_wrong": ["other", "delivery", "other"],
            "went_wrong_other": "包装破损",
            "may_contact": "no",
        },
    )
    assert clean.values == {
        "nps": 4,
        "why": "太慢了",
        "went_wrong": ["delivery", "other"],  # duplicates removed, definition order
        "went_wrong_other": "包装破损",
        "may_contact": "no",
    }
    assert clean.visible == ("nps", "why", "went_wrong", "went_wrong_other", "may_contact")


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"nps": 11}, [("nps", "out_of_range")]),
        ({"nps": -1}, [("nps", "out_of_range")]),
        ({"nps": 7.5}, [("nps", "not_a_number")]),
        ({"nps": "seven"}, [("nps", "not_a_number")]),
        ({"nps": True}, [("nps", "not_a_number")]),
        ({"nps": 2, "went_wrong": ["colour"]}, [("went_wrong", "unknown_choice")]),
        ({"nps": 2, "went_wrong": "price", "may_contact": "maybe"}, [("may_contact", "unknown_choice")]),
        ({"nps": 9, "why": "x" * 1001}, [("why", "too_long")]),
        ({"nps": 9, "why": 42}, [("why", "not_text")]),
        ({"nps": 9, "bogus": 1}, [("bogus", "unknown_question")]),
        ({}, [("nps", "required")]),
        ({"nps": "  "}, [("nps", "required")]),
    ],
)
def test_invalid_answers_name_the_question(answers, expected):
    with pytest.raises(AnswerError) as caught:
        validate_answers(NPS, answers)
    assert _codes(caught.value) == expected
    problem = caught.value.problems[0]
    assert problem["message"] and problem["message_zh"]


def test_messages_are_in_both_languages():
    with pytest.raises(AnswerError) as caught:
        validate_answers(NPS, {"nps": 12})
    assert caught.value.problems[0]["message"] == "must be from 0 to 10"
    assert caught.value.problems[0]["message_zh"] == "分数应在 0 到 10 之间"


def test_required_only_when_visible():
    # went_wrong needs at least one selection, but only a detractor sees it; resolved is required in CSAT
    assert validate_answers(NPS, {"nps": 9}).complete
    with pytest.raises(AnswerError) as caught:
        validate_answers(CSAT, {"csat": 4})
    assert _codes(caught.value) == [("resolved", "required")]


def test_partial_answers_are_accepted_and_resumable():
    partial = validate_answers(CSAT, {"csat": 2}, partial=True)
    assert partial.values == {"csat": 2} and partial.missing_required == ("resolved",)
    assert not partial.complete and not is_complete(CSAT, {"csat": 2})
    resumed = {**partial.values, "resolved": "partly", "agent_stars": "4"}
    assert is_complete(CSAT, resumed)
    assert validate_answers(CSAT, resumed).values["agent_stars"] == 4
    with pytest.raises(AnswerError):  # partial still checks what was given
        validate_answers(CSAT, {"csat": 9}, partial=True)
    assert not is_complete(CSAT, {"csat": 9, "resolved": "yes"})


def test_multiple_choice_bounds():
    survey = load_survey(
        """
id: m
title: m
questions:
  - id: pick
    type: multiple
    text: pick two or three
    min_selections: 2
    max_selections: 3
    choices: [{id: a, label: A}, {id: b, label: B}, {id: c, label: C}, {id: d, label: D}]
"""
    )
    assert validate_answers(survey, {"pick": ["a", "c"]}).values == {"pick": ["a", "c"]}
    for answer, code in ((["a"], "too_few"), (["a", "b", "c", "d"], "too_many"), ("a", "too_few")):
        with pytest.raises(AnswerError) as caught:
            validate_answers(survey, {"pick": answer})
        assert _codes(caught.value) == [("pick", code)]
    assert validate_answers(survey, {"pick": []}).values == {}  # not required, left empty


def test_one_click_score_from_an_email_link():
    clean = parse_one_click(NPS, "nps", "9")
    assert clean.values == {"nps": 9} and clean.complete
    assert isinstance(clean, CleanAnswers)
    with pytest.raises(AnswerError) as caught:
        parse_one_click(NPS, "nps", "10.5")
    assert _codes(caught.value) == [("nps", "not_a_number")]
    for question, code in (("why", "not_scored"), ("zz", "unknown_question")):
        with pytest.raises(AnswerError) as caught:
            parse_one_click(NPS, question, "5")
        assert _codes(caught.value) == [(question, code)]
    branched = load_survey(
        "id: b\ntitle: b\nquestions:\n  - {id: a, type: csat, text: a}\n"
        "  - {id: b, type: nps, text: b, show_if: {question: a, op: '<', value: 3}}\n"
    )
    with pytest.raises(AnswerError) as caught:
        parse_one_click(branched, "b", "5")
    assert _codes(caught.value) == [("b", "not_first")]


def test_score_with_why_becomes_one_item_and_other_texts_their_own():
    answered_at = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
    items = to_feedback(
        NPS,
        {"nps": 3, "why": "物流太慢", "went_wrong": ["delivery", "other"], "went_wrong_other": "包装破了"},
        "zh-CN",
        response_id="r1",
        variant="full",
        answered_at=answered_at,
    )
    assert len(items) == 2
    score, other = items
    assert score["text"] == "物流太慢" and score["rating"] == 3.0 and score["rating_scale"] == (0.0, 10.0)
    assert score["kind"] == "survey_answer" and score["channel"] == "survey" and score["language"] == "zh"
    assert score["external_id"] == "survey:post-purchase-nps:r1:nps" and score["created_at"] == answered_at
    assert score["metadata"]["why_question_id"] == "why" and not score["metadata"]["text_is_question"]
    assert score["metadata"]["choices"] == {"went_wrong": ["delivery", "other"]}
    assert score["metadata"]["choice_labels"] == {"went_wrong": ["物流配送", "其他"]}
    assert score["metadata"]["variant"] == "full"
    assert other["text"] == "包装破了" and other["rating"] is None
    assert other["external_id"] == "survey:post-purchase-nps:r1:went_wrong_other"


def test_score_without_why_uses_the_question_wording_in_the_language():
    (item,) = to_feedback(NPS, {"nps": 10}, "en")
    assert item["text"] == "How likely are you to recommend us to a friend or colleague?"
    assert item["metadata"]["text_is_question"] is True
    assert item["external_id"] is None and item["language"] == "en"


def test_csat_with_stars_gives_two_scored_items():
    items = to_feedback(CSAT, {"csat": 5, "resolved": "yes", "agent_stars": 4, "why": "很快"}, "zh")
    assert [(i["metadata"]["question_id"], i["rating"], i["rating_scale"]) for i in items] == [
        ("csat", 5.0, (1.0, 5.0)),
        ("agent_stars", 4.0, (1.0, 5.0)),
    ]
    assert items[0]["text"] == "很快" and items[0]["metadata"]["choice_labels"] == {"resolved": "已解决"}


def test_items_are_valid_feedback_records():
    items = to_feedback(NPS, {"nps": 5, "why": "一般", "went_wrong": "price"}, "zh", response_id="r9")
    for item in items:
        record = FeedbackRecord(**item, customer=CustomerRef(external_id="c1"))
        assert validate_record(record, max_text_chars=5000) is record
        assert record.dedupe_key() == "id:survey:post-purchase-nps:r9:nps"
