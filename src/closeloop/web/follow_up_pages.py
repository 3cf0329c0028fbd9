"""The public follow-up page: "is it solved?" for a customer whose case was resolved.

``GET /f/{token}`` shows the question (a link from the e-mail may preselect the answer: mail scanners
that open links therefore answer nothing); ``POST /f/{token}`` records it, and "no" reopens the case.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from closeloop.act.follow_up import TEXTS, answer_path, follow_up_for_token, record_answer
from closeloop.store.models import ActionPlan, Case, Customer
from closeloop.web.pages import templates
from closeloop.web.survey_pages import WritingSessionDep, page_headers

router = APIRouter(tags=["follow-up pages"], include_in_schema=False)

PAGE_TEXTS = {
    "zh": {
        **TEXTS["zh"],
        "comment": "还想告诉我们什么？（可选）",
        "send": "提交",
        "thanks": "谢谢您的回复！",
        "reopened": "我们会继续跟进。",
        "closed": "很高兴问题已解决。",
        "unknown": "链接无效或已过期。",
        "choose": "请选择“已解决”或“没有解决”。",
    },
    "en": {
        **TEXTS["en"],
        "comment": "Anything else to tell us? (optional)",
        "send": "Send",
        "thanks": "Thank you!",
        "reopened": "We will keep working on it.",
        "closed": "Glad it is solved.",
        "unknown": "This link is not valid or has expired.",
        "choose": "Please choose yes or no.",
    },
}


def _lang(session: Session, customer_id: int) -> str:
    customer = session.get(Customer, customer_id)
    return customer.language if customer and customer.language in PAGE_TEXTS else "zh"


def _message(
    request: Request, lang: str, heading: str, body: str = "", status_code: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "survey_message.html",
        {"lang": lang, "heading": heading, "body": body, "embed": False, "title": heading},
        status_code=status_code,
        headers=page_headers(False),
    )


def _form(
    request: Request, session: Session, token: str, chosen: str | None, error: str = ""
) -> HTMLResponse:
    follow_up = follow_up_for_token(session, token)
    assert follow_up is not None
    lang = _lang(session, follow_up.customer_id)
    case = session.get(Case, follow_up.case_id) if follow_up.case_id else None
    plan = session.get(ActionPlan, follow_up.action_plan_id) if follow_up.action_plan_id else None
    return templates.TemplateResponse(
        request,
        "follow_up.html",
        {
            "lang": lang,
            "t": PAGE_TEXTS[lang],
            "title": PAGE_TEXTS[lang]["ask"],
            "embed": False,
            "topic": case.title if case else (plan.title if plan else ""),
            "message": follow_up.message,
            "chosen": chosen,
            "action": answer_path(token),
            "error": error,
        },
        status_code=422 if error else 200,
        headers=page_headers(False),
    )


@router.get("/f/{token}", response_class=HTMLResponse)
def follow_up_page(
    request: Request, session: WritingSessionDep, token: str, solved: str | None = None
) -> HTMLResponse:
    if follow_up_for_token(session, token) is None:
        return _message(request, "zh", PAGE_TEXTS["zh"]["unknown"], PAGE_TEXTS["en"]["unknown"], 404)
    return _form(request, session, token, solved if solved in ("yes", "no") else None)


@router.post("/f/{token}", response_class=HTMLResponse)
def answer_follow_up(
    request: Request,
    session: WritingSessionDep,
    token: str,
    solved: Annotated[str | None, Form()] = None,
    comment: Annotated[str | None, Form(max_length=5000)] = None,
) -> HTMLResponse:
    follow_up = follow_up_for_token(session, token)
    if follow_up is None:
        return _message(request, "zh", PAGE_TEXTS["zh"]["unknown"], PAGE_TEXTS["en"]["unknown"], 404)
    lang = _lang(session, follow_up.customer_id)
    if solved not in ("yes", "no"):
        return _form(request, session, token, None, error=PAGE_TEXTS[lang]["choose"])
    record_answer(session, follow_up, solved=solved == "yes", comment=comment)
    session.commit()
    texts = PAGE_TEXTS[lang]
    return _message(request, lang, texts["thanks"], texts["closed"] if solved == "yes" else texts["reopened"])
