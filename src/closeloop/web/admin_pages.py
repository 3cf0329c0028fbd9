"""Pages for defining things: surveys (YAML editor with validation, results, links) and routing rules
(YAML editor with a dry run). Signed-in pages; forms carry the CSRF token and redirect after saving."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closeloop.accounts import audit
from closeloop.act.jobs import replace_rules, routed_items, stored_rules
from closeloop.act.routing import RoutingRuleError, dry_run, dump_rules, load_rules
from closeloop.api.deps import SessionDep, client_ip
from closeloop.api.policy import PrincipalDep
from closeloop.ask.definitions import EXAMPLES_DIR, SurveyDefinitionError, load_survey
from closeloop.ask.links import start_path
from closeloop.ask.results import experiment, rule_response_rates, survey_results
from closeloop.ask.service import SurveyNotFoundError, list_surveys, load, save_survey
from closeloop.store.models import FeedbackItem, SurveyResponse
from closeloop.web.i18n import TEXTS, pick_language
from closeloop.web.pages import templates
from closeloop.web.survey_pages import writing_session

router = APIRouter(include_in_schema=False)

ADMIN_TEXTS = {
    "zh": {
        "surveys": "问卷",
        "routing": "路由规则",
        "new_survey": "新建问卷",
        "edit": "编辑",
        "save": "保存",
        "status": "状态",
        "responses": "答卷",
        "completed": "完成",
        "score": "得分",
        "definition": "问卷定义（YAML 或 JSON）",
        "problems": "定义有误：",
        "saved": "已保存",
        "public_link": "答题链接",
        "widget": "嵌入代码",
        "results": "结果",
        "by_month": "按月",
        "rules_stats": "邀请规则",
        "experiment": "A/B 测试",
        "no_winner": "暂无结论",
        "rules_yaml": "路由规则（YAML，按顺序匹配）",
        "dry_run": "试运行一条规则",
        "dry_run_hint": "不会保存；显示它会匹配最近的哪些反馈",
        "matched": "匹配",
        "examined": "检查",
        "run": "试运行",
    },
    "en": {
        "surveys": "Surveys",
        "routing": "Routing rules",
        "new_survey": "New survey",
        "edit": "Edit",
        "save": "Save",
        "status": "Status",
        "responses": "Responses",
        "completed": "Completed",
        "score": "Score",
        "definition": "Survey definition (YAML or JSON)",
        "problems": "The definition has problems:",
        "saved": "Saved",
        "public_link": "Answer link",
        "widget": "Embed snippet",
        "results": "Results",
        "by_month": "By month",
        "rules_stats": "Invitation rules",
        "experiment": "A/B test",
        "no_winner": "no winner yet",
        "rules_yaml": "Routing rules (YAML, matched in order)",
        "dry_run": "Dry-run one rule",
        "dry_run_hint": "Nothing is saved; shows which recent feedback it would match",
        "matched": "Matched",
        "examined": "Examined",
        "run": "Run",
    },
}

WritingSession = Annotated[Session, Depends(writing_session)]


def _page(request: Request, template: str, **context: Any) -> HTMLResponse:
    lang = pick_language(request)
    status_code = context.pop("status_code", 200)
    return templates.TemplateResponse(
        request,
        template,
        {"t": TEXTS[lang], "a": ADMIN_TEXTS[lang], "lang": lang, **context},
        status_code=status_code,
    )


def _headline_score(found: dict[str, Any]) -> str:
    for question_id, entry in found["questions"].items():
        value = entry["overall"].get("value")
        if value is not None:
            return f"{entry['type'].upper()} {value:.1f} ({question_id})"
    return "–"


@router.get("/surveys", response_class=HTMLResponse)
def surveys_page(request: Request, session: SessionDep) -> HTMLResponse:
    counts = {
        (survey_id, state): n
        for survey_id, state, n in session.execute(
            select(SurveyResponse.survey_id, SurveyResponse.status, func.count()).group_by(
                SurveyResponse.survey_id, SurveyResponse.status
            )
        )
    }
    rows = []
    for record in list_surveys(session):
        found = survey_results(session, load(session, record.id).survey)
        rows.append(
            {
                "record": record,
                "responses": counts.get((record.id, "started"), 0) + counts.get((record.id, "completed"), 0),
                "completed": counts.get((record.id, "completed"), 0),
                "score": _headline_score(found),
            }
        )
    return _page(request, "admin_surveys.html", rows=rows)


def _example_yaml() -> str:
    return (EXAMPLES_DIR / "support_csat.yaml").read_text(encoding="utf-8")


@router.get("/surveys/new", response_class=HTMLResponse)
def new_survey_page(request: Request) -> HTMLResponse:
    return _page(request, "admin_survey_edit.html", source=_example_yaml(), problems=[], survey_id=None)


@router.get("/surveys/{survey_id}/edit", response_class=HTMLResponse)
def edit_survey_page(request: Request, session: SessionDep, survey_id: str) -> HTMLResponse:
    try:
        record = load(session, survey_id).record
    except SurveyNotFoundError:
        return _page(request, "admin_missing.html", what=survey_id, status_code=404)
    source = yaml.safe_dump(record.definition, allow_unicode=True, sort_keys=False)
    return _page(request, "admin_survey_edit.html", source=source, problems=[], survey_id=survey_id)


@router.post("/surveys", response_class=HTMLResponse)
def save_survey_form(
    request: Request,
    session: WritingSession,
    principal: PrincipalDep,
    source: Annotated[str, Form(max_length=200_000)],
) -> Response:
    try:
        parsed = yaml.safe_load(source)
        if not isinstance(parsed, dict):
            raise SurveyDefinitionError(["(definition): a survey definition must be a mapping"])
        load_survey(parsed)
        loaded = save_survey(session, parsed)
    except yaml.YAMLError as exc:
        return _page(
            request,
            "admin_survey_edit.html",
            source=source,
            problems=[str(exc)],
            survey_id=None,
            status_code=422,
        )
    except SurveyDefinitionError as exc:
        return _page(
            request,
            "admin_survey_edit.html",
            source=source,
            problems=exc.problems,
            survey_id=None,
            status_code=422,
        )
    audit.record(
        session,
        "survey.saved",
        actor=principal.user.email,
        target=f"survey:{loaded.record.id}",
        ip=client_ip(request),
        detail={"revision": loaded.record.revision},
    )
    session.commit()
    return RedirectResponse(f"/surveys/{loaded.record.id}?lang={pick_language(request)}", status_code=303)


@router.get("/surveys/{survey_id}", response_class=HTMLResponse)
def survey_detail_page(request: Request, session: SessionDep, survey_id: str) -> HTMLResponse:
    try:
        loaded = load(session, survey_id)
    except SurveyNotFoundError:
        return _page(request, "admin_missing.html", what=survey_id, status_code=404)
    found = survey_results(session, loaded.survey, group_by="period", period="month")
    return _page(
        request,
        "admin_survey.html",
        record=loaded.record,
        results=found,
        rules=rule_response_rates(session, survey_id),
        ab=experiment(session, loaded.survey),
        link=start_path(survey_id),
        widget=f'<script src="/static/widget.js" data-survey="{survey_id}" async></script>',
    )


@router.get("/routing", response_class=HTMLResponse)
def routing_page(request: Request, session: SessionDep) -> HTMLResponse:
    rules = dump_rules(stored_rules(session))
    source = yaml.safe_dump({"rules": rules}, allow_unicode=True, sort_keys=False) if rules else "rules: []\n"
    return _page(request, "admin_routing.html", source=source, problems=[], result=None, candidate="")


@router.post("/routing", response_class=HTMLResponse)
def save_routing(
    request: Request,
    session: WritingSession,
    principal: PrincipalDep,
    source: Annotated[str, Form(max_length=200_000)],
) -> Response:
    try:
        rules = replace_rules(session, source)
    except RoutingRuleError as exc:
        return _page(
            request,
            "admin_routing.html",
            source=source,
            problems=exc.problems,
            result=None,
            candidate="",
            status_code=422,
        )
    audit.record(
        session,
        "routing_rules.changed",
        actor=principal.user.email,
        target="routing_rules",
        ip=client_ip(request),
        detail={"rules": [r.id for r in rules]},
    )
    session.commit()
    return RedirectResponse(f"/routing?lang={pick_language(request)}", status_code=303)


@router.post("/routing/dry-run", response_class=HTMLResponse)
def routing_dry_run(
    request: Request, session: WritingSession, candidate: Annotated[str, Form(max_length=50_000)]
) -> HTMLResponse:
    rules = stored_rules(session)
    source = (
        yaml.safe_dump({"rules": dump_rules(rules)}, allow_unicode=True, sort_keys=False)
        if rules
        else "rules: []\n"
    )
    try:
        parsed = yaml.safe_load(candidate)
        [rule] = load_rules([parsed] if isinstance(parsed, dict) else parsed)
    except (yaml.YAMLError, RoutingRuleError, ValueError) as exc:
        problems = getattr(exc, "problems", None) or [str(exc)]
        return _page(
            request,
            "admin_routing.html",
            source=source,
            problems=problems,
            result=None,
            candidate=candidate,
            status_code=422,
        )
    ids = list(session.scalars(select(FeedbackItem.id).order_by(FeedbackItem.id.desc()).limit(2000)))
    items = [routed for _, routed in routed_items(session, ids)]
    texts = dict(
        session.execute(select(FeedbackItem.id, FeedbackItem.text).where(FeedbackItem.id.in_(ids))).all()
    )
    result = dataclasses.asdict(dry_run(items, rule, rules=rules))
    result["samples"] = [(item_id, texts.get(item_id, ""), lines) for item_id, lines in result["samples"]]
    return _page(
        request, "admin_routing.html", source=source, problems=[], result=result, candidate=candidate
    )
