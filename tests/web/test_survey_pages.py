"""Answering surveys over real HTTP: the public form with branching, resume, one-click links, unsubscribe,
the widget, the JSON answer endpoint, and escaping of hostile survey texts and answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import yaml
from sqlalchemy import select

from closeloop.ask.definitions import EXAMPLES_DIR
from closeloop.ask.service import save_survey
from closeloop.collect.customers import upsert_customer
from closeloop.collect.records import CustomerRef
from closeloop.store.models import (
    Consent,
    CustomerEvent,
    FeedbackItem,
    Invitation,
    SurveyRecord,
    SurveyResponse,
)

SURVEY_ID = "post-purchase-nps"
NPS_FIELDS = "nps,why"  # what the form shows before any answer


def save_definition(db, definition: dict) -> str:
    with db() as session:
        save_survey(session, definition)
        session.commit()
    return definition["id"]


def example_without_variants(name: str = "post_purchase_nps") -> dict:
    """The bundled example survey with its A/B variants removed, so every answerer sees all questions."""
    definition = yaml.safe_load((EXAMPLES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    definition.pop("variants", None)
    return definition


@pytest.fixture
def survey_id(db) -> str:
    return save_definition(db, example_without_variants())


@pytest.fixture
def anonymous(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=30, follow_redirects=False) as http:
        yield http


def invite(db, survey: str, *, external_id: str = "C-1", name: str = "张三丰") -> str:
    """An invitation of a (named) customer to ``survey``, as the scheduler records it; returns its token."""
    token = uuid.uuid4().hex
    now = datetime.now(UTC)
    with db() as session:
        customer = upsert_customer(session, CustomerRef(external_id=external_id, name=name))
        event = CustomerEvent(
            external_id=f"order-{token}", type="order_completed", customer_id=customer.id, occurred_at=now
        )
        session.add(event)
        session.flush()
        session.add(
            Invitation(
                key=f"invite:test:{event.id}",
                rule_id="test",
                survey_id=survey,
                event_id=event.id,
                customer_id=customer.id,
                token=token,
                status="sent",
                due_at=now,
                sent_at=now,
            )
        )
        session.commit()
    return token


def start(http: httpx.Client, survey: str, **params: str) -> str:
    """Open ``/s/<survey>`` and return the response token it redirects to."""
    started = http.get(f"/s/{survey}", params=params)
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    assert location.startswith("/r/")
    return location.removeprefix("/r/").split("?")[0]


def stored_response(db, token: str) -> SurveyResponse:
    with db() as session:
        response = session.scalars(select(SurveyResponse).where(SurveyResponse.token == token)).one()
        session.expunge(response)
        return response


def items_of(db, response: SurveyResponse) -> list[FeedbackItem]:
    with db() as session:
        items = list(session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(response.feedback_ids))))
        session.expunge_all()
        return items


def shows(page: str, question_id: str) -> bool:
    return f'name="q_{question_id}"' in page


def test_answer_with_branching_then_submit_stores_feedback(db, anonymous, survey_id):
    token = start(anonymous, survey_id)
    form = anonymous.get(f"/r/{token}")
    assert form.status_code == 200 and "text/html" in form.headers["content-type"]
    assert 'name="viewport"' in form.text and "您有多大可能向朋友或同事推荐我们" in form.text
    assert "下一步 Next" in form.text and "提交 Submit" in form.text
    assert shows(form.text, "nps") and shows(form.text, "why") and not shows(form.text, "went_wrong")

    saved = anonymous.post(f"/r/{token}", data={"shown": NPS_FIELDS, "q_nps": "3", "action": "next"})
    assert saved.status_code == 303 and saved.headers["location"].startswith(f"/r/{token}")
    assert stored_response(db, token).answers == {"nps": 3}
    branched = anonymous.get(f"/r/{token}")
    assert shows(branched.text, "went_wrong") and shows(branched.text, "may_contact")
    assert "哪些方面让您不满意" in branched.text
    assert 'id="q-nps-3"' in branched.text and 'value="3" checked' in branched.text

    done = anonymous.post(
        f"/r/{token}",
        data={
            "shown": "nps,why,went_wrong,may_contact",
            "q_nps": "3",
            "q_why": "快递太慢了，等了一周",
            "q_went_wrong": ["delivery", "service"],
            "q_may_contact": "no",
            "action": "submit",
        },
    )
    assert done.status_code == 200, done.text
    assert "感谢您的反馈，我们会认真阅读每一条意见。" in done.text

    response = stored_response(db, token)
    assert response.status == "completed" and response.source == "web" and response.customer_id is None
    (item,) = items_of(db, response)
    assert item.rating == 3 and (item.rating_scale_min, item.rating_scale_max) == (0, 10)
    assert item.text == "快递太慢了，等了一周" and item.channel == "survey"
    assert item.meta["choices"]["went_wrong"] == ["delivery", "service"]

    again = anonymous.get(f"/r/{token}")
    assert "您已提交过这份问卷" in again.text and not shows(again.text, "nps")
    resubmitted = anonymous.post(f"/r/{token}", data={"shown": "nps", "q_nps": "10", "action": "submit"})
    assert "您已提交过这份问卷" in resubmitted.text
    assert stored_response(db, token).answers["nps"] == 3


def test_submit_that_reveals_questions_shows_them_before_finishing(db, anonymous, survey_id):
    token = start(anonymous, survey_id)
    page = anonymous.post(f"/r/{token}", data={"shown": NPS_FIELDS, "q_nps": "2", "action": "submit"})
    assert page.status_code == 200
    assert shows(page.text, "went_wrong") and "还有几个问题" in page.text
    response = stored_response(db, token)
    assert response.status == "started" and response.answers == {"nps": 2}


def test_a_promoter_is_not_asked_what_went_wrong(db, anonymous, survey_id):
    token = start(anonymous, survey_id)
    done = anonymous.post(
        f"/r/{token}", data={"shown": NPS_FIELDS, "q_nps": "10", "q_why": "很好", "action": "submit"}
    )
    assert "感谢您的反馈" in done.text
    (item,) = items_of(db, stored_response(db, token))
    assert item.rating == 10 and item.text == "很好"


def test_partial_answers_resume_from_a_new_browser(db, live_server, anonymous, survey_id):
    token = start(anonymous, survey_id)
    anonymous.post(
        f"/r/{token}", data={"shown": NPS_FIELDS, "q_nps": "8", "q_why": "包装不错", "action": "next"}
    )
    with httpx.Client(base_url=live_server) as other_browser:
        resumed = other_browser.get(f"/r/{token}")
    assert 'value="8" checked' in resumed.text and "包装不错</textarea>" in resumed.text
    assert stored_response(db, token).status == "started"


def test_clearing_a_text_answer_clears_it(db, anonymous, survey_id):
    token = start(anonymous, survey_id)
    anonymous.post(
        f"/r/{token}", data={"shown": NPS_FIELDS, "q_nps": "8", "q_why": "先写点", "action": "next"}
    )
    anonymous.post(f"/r/{token}", data={"shown": NPS_FIELDS, "q_nps": "8", "q_why": "", "action": "next"})
    assert stored_response(db, token).answers == {"nps": 8}


def test_validation_errors_are_shown_next_to_the_question_in_both_languages(db, anonymous, survey_id):
    token = start(anonymous, survey_id)
    missing = anonymous.post(f"/r/{token}", data={"shown": NPS_FIELDS, "q_why": "没打分", "action": "submit"})
    assert missing.status_code == 422
    assert "此题必答 · an answer is required" in missing.text
    assert "没打分</textarea>" in missing.text  # what was typed is kept
    nps_block = missing.text.split('id="q-nps"')[1].split("</fieldset>")[0]
    assert "此题必答" in nps_block

    off_scale = anonymous.post(f"/r/{token}", data={"shown": NPS_FIELDS, "q_nps": "11", "action": "next"})
    assert off_scale.status_code == 422 and "分数应在 0 到 10 之间 · must be from 0 to 10" in off_scale.text
    assert stored_response(db, token).answers == {}


def test_language_from_query_then_browser_then_survey_default(db, anonymous, survey_id):
    english = start(anonymous, survey_id, lang="en")
    assert stored_response(db, english).language == "en"
    assert "How likely are you to recommend us" in anonymous.get(f"/r/{english}").text
    browser = anonymous.get(f"/s/{survey_id}", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert stored_response(db, browser.headers["location"].removeprefix("/r/")).language == "en"
    chinese = start(anonymous, survey_id, lang="zh")
    assert stored_response(db, chinese).language == "zh"
    default = anonymous.get(f"/s/{survey_id}", headers={"Accept-Language": "fr-FR"})
    assert stored_response(db, default.headers["location"].removeprefix("/r/")).language == "zh"


def test_invited_customer_answers_and_the_items_are_linked(db, anonymous, survey_id):
    token = invite(db, survey_id, name="张三丰")
    form = anonymous.get(f"/r/{token}")
    assert form.status_code == 200 and shows(form.text, "nps")
    assert "张三丰" not in form.text and "C-1" not in form.text  # nothing about the customer
    done = anonymous.post(
        f"/r/{token}", data={"shown": NPS_FIELDS, "q_nps": "9", "q_why": "发货快", "action": "submit"}
    )
    assert done.status_code == 200 and "张三丰" not in done.text
    response = stored_response(db, token)
    assert response.source == "email" and response.invitation_id is not None
    (item,) = items_of(db, response)
    assert item.customer_id == response.customer_id is not None and item.rating == 9
    with db() as session:
        assert session.scalars(select(Invitation).where(Invitation.token == token)).one().answered_at


def test_one_click_link_saves_the_score_and_opens_the_form(db, anonymous, survey_id):
    token = invite(db, survey_id)
    clicked = anonymous.get(f"/r/{token}/click", params={"q": "nps", "v": "4"})
    assert clicked.status_code == 303 and clicked.headers["location"] == f"/r/{token}"
    assert stored_response(db, token).answers == {"nps": 4}
    form = anonymous.get(f"/r/{token}")
    assert 'value="4" checked' in form.text and shows(form.text, "went_wrong")

    # A mail scanner fetching the link and the person clicking again: the last click wins.
    anonymous.get(f"/r/{token}/click", params={"q": "nps", "v": "4"})
    anonymous.get(f"/r/{token}/click", params={"q": "nps", "v": "9"})
    assert stored_response(db, token).answers == {"nps": 9}
    with db() as session:
        assert len(session.scalars(select(SurveyResponse)).all()) == 1

    for bad in ({"q": "nps", "v": "eleven"}, {"q": "nps", "v": "11"}, {"q": "why", "v": "3"}, {}):
        refused = anonymous.get(f"/r/{token}/click", params=bad)
        assert refused.status_code == 422, bad
        assert "text/html" in refused.headers["content-type"] and shows(refused.text, "nps")
        assert 'class="problem"' in refused.text
    assert stored_response(db, token).answers == {"nps": 9}

    finished = anonymous.post(f"/r/{token}", data={"shown": NPS_FIELDS, "q_nps": "9", "action": "submit"})
    assert finished.status_code == 200 and stored_response(db, token).status == "completed"
    late = anonymous.get(f"/r/{token}/click", params={"q": "nps", "v": "0"})
    assert late.status_code == 200 and "您已提交过这份问卷" in late.text
    assert stored_response(db, token).answers["nps"] == 9


def consents(db) -> list[Consent]:
    with db() as session:
        found = list(session.scalars(select(Consent)))
        session.expunge_all()
        return found


def test_unsubscribe_needs_a_post_and_records_a_refusal_once(db, anonymous, survey_id):
    token = invite(db, survey_id, name="李四")
    asked = anonymous.get(f"/u/{token}")
    assert asked.status_code == 200 and 'method="post"' in asked.text and "退订" in asked.text
    assert "李四" not in asked.text and asked.headers["x-frame-options"] == "DENY"
    assert consents(db) == []  # a GET (a mail scanner) changes nothing

    done = anonymous.post(f"/u/{token}")
    assert done.status_code == 200 and "您已退订问卷邀请" in done.text and "unsubscribed" in done.text
    (refusal,) = consents(db)
    assert refusal.purpose == "survey" and refusal.granted is False and refusal.source == "unsubscribe link"
    # A mail client's RFC 8058 one-click POST, sent again: still one decision on record.
    anonymous.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert len(consents(db)) == 1
    assert anonymous.get("/u/no-such-token").status_code == 404
    assert anonymous.post("/u/no-such-token").status_code == 404


def test_widget_script_and_frameable_embedded_form(anonymous, survey_id):
    script = anonymous.get("/static/widget.js")
    assert script.status_code == 200
    assert script.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert "data-survey" in script.text and "embed=1" in script.text
    assert script.text.isascii() and "\\u53cd\\u9988 Feedback" in script.text  # 反馈 in any page charset

    started = anonymous.get(f"/s/{survey_id}", params={"embed": "1", "lang": "en"})
    assert started.status_code == 303 and started.headers["location"].endswith("?embed=1")
    embedded = anonymous.get(started.headers["location"])
    assert embedded.status_code == 200 and "x-frame-options" not in embedded.headers
    assert "frame-ancestors" not in embedded.headers.get("content-security-policy", "")
    assert '<input type="hidden" name="embed" value="1">' in embedded.text
    token = started.headers["location"].removeprefix("/r/").split("?")[0]
    saved = anonymous.post(
        f"/r/{token}", data={"shown": NPS_FIELDS, "q_nps": "5", "embed": "1", "action": "next"}
    )
    assert "embed=1" in saved.headers["location"]

    plain = anonymous.get(f"/r/{token}")
    assert plain.headers["x-frame-options"] == "DENY" and plain.headers["cache-control"] == "no-store"


def test_unknown_and_closed_surveys(db, anonymous, survey_id):
    unknown = anonymous.get("/s/no-such-survey")
    assert unknown.status_code == 404 and "找不到这份问卷" in unknown.text
    assert anonymous.get("/r/no-such-token").status_code == 404
    assert anonymous.post("/r/no-such-token", data={"action": "submit"}).status_code == 404
    assert anonymous.get("/r/no-such-token/click", params={"q": "nps", "v": "3"}).status_code == 404

    token = start(anonymous, survey_id)
    with db() as session:
        session.get(SurveyRecord, survey_id).status = "closed"
        session.commit()
    closed = anonymous.get(f"/s/{survey_id}")
    assert (
        closed.status_code == 410
        and "这份问卷已关闭" in closed.text
        and "This survey is closed" in closed.text
    )
    assert anonymous.get(f"/r/{token}").status_code == 410
    refused = anonymous.post(f"/r/{token}", data={"shown": "nps", "q_nps": "3", "action": "submit"})
    assert refused.status_code == 410 and stored_response(db, token).answers == {}


def test_public_pages_show_no_navigation(anonymous, survey_id):
    page = anonymous.get(f"/r/{start(anonymous, survey_id)}").text
    assert "/docs" not in page and "closeloop" not in page.lower() and "/logout" not in page


def test_hostile_survey_texts_and_answers_are_escaped(db, anonymous):
    hostile = "<script>alert(1)</script>"
    save_definition(
        db,
        {
            "id": "hostile",
            "title": {"zh": f"标题{hostile}", "en": f"Title{hostile}"},
            "intro": {"zh": "<img src=x onerror=alert(1)>介绍"},
            "thank_you": {"zh": f"谢谢{hostile}"},
            "questions": [
                {"id": "csat", "type": "csat", "required": True, "text": {"zh": f"满意吗{hostile}"}},
                {
                    "id": "pick",
                    "type": "single",
                    "text": {"zh": "选一个"},
                    "choices": [{"id": "a", "label": {"zh": f"甲{hostile}"}}, {"id": "b", "label": "乙"}],
                },
                {"id": "note", "type": "text", "text": {"zh": "备注"}},
            ],
        },
    )
    token = start(anonymous, "hostile")
    anonymous.post(
        f"/r/{token}",
        data={"shown": "csat,pick,note", "q_csat": "2", "q_note": f"</textarea>{hostile}", "action": "next"},
    )
    page = anonymous.get(f"/r/{token}").text
    assert "<script>" not in page and "<img src=x" not in page
    assert "标题&lt;script&gt;" in page and "甲&lt;script&gt;" in page
    assert "&lt;/textarea&gt;&lt;script&gt;" in page
    done = anonymous.post(f"/r/{token}", data={"shown": "csat,pick,note", "q_csat": "2", "action": "submit"})
    assert "谢谢&lt;script&gt;" in done.text and "<script>" not in done.text


# --- the JSON answer endpoint ---------------------------------------------------------------------------


def test_json_answers_continue_by_token_and_finish(db, client, survey_id):
    url = f"/api/v1/surveys/{survey_id}/responses"
    first = client.post(
        url,
        json={
            "answers": {"nps": 3, "why": "客服回复太慢"},
            "language": "zh",
            "finish": False,
            "customer": {"external_id": "C-77"},
        },
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "started" and body["feedback_ids"] == []
    assert body["visible_questions"] == ["nps", "why", "went_wrong", "may_contact"]
    assert body["missing_required"] == []

    done = client.post(
        url, json={"token": body["token"], "answers": {"went_wrong": ["service"]}, "finish": True}
    )
    assert done.status_code == 201, done.text
    finished = done.json()
    assert finished["status"] == "completed" and finished["token"] == body["token"]
    assert len(finished["feedback_ids"]) == 1
    response = stored_response(db, body["token"])
    assert response.source == "api" and response.answers["went_wrong"] == ["service"]
    (item,) = items_of(db, response)
    assert item.rating == 3 and item.text == "客服回复太慢" and item.customer_id == response.customer_id
    assert item.customer_id is not None

    again = client.post(url, json={"token": body["token"], "answers": {"nps": 10}})
    assert again.status_code == 409


def test_json_answers_are_validated_per_question(db, client, survey_id):
    url = f"/api/v1/surveys/{survey_id}/responses"
    refused = client.post(url, json={"answers": {"nps": 11, "colour": "red"}})
    assert refused.status_code == 422
    problems = {p["question"]: p for p in refused.json()["problems"]}
    assert problems["nps"]["code"] == "out_of_range" and problems["nps"]["message_zh"]
    assert problems["colour"]["code"] == "unknown_question"
    missing = client.post(url, json={"answers": {"why": "没打分"}, "finish": True})
    assert missing.status_code == 422 and missing.json()["problems"][0]["code"] == "required"
    with db() as session:
        assert session.scalars(select(SurveyResponse)).all() == []  # nothing half-made was kept

    assert client.post("/api/v1/surveys/no-such-survey/responses", json={"answers": {}}).status_code == 404
    other = client.post(url, json={"token": "no-such-token", "answers": {}})
    assert other.status_code == 404


def test_json_answers_need_an_api_token(anonymous, survey_id):
    refused = anonymous.post(f"/api/v1/surveys/{survey_id}/responses", json={"answers": {"nps": 9}})
    assert refused.status_code == 401
