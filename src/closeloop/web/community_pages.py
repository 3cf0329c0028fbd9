"""The public community portal's pages: boards, posts, a new post with similar-post suggestions, sign-in by
e-mail link, the changelog, unsubscribe; and, for signed-in staff, actions on the post page and the
moderation queue. Server-rendered, zh/en (``?lang=`` or Accept-Language), usable without JavaScript.

Member forms carry the member session's CSRF token; staff forms post to ``/community/staff/…`` routes that
the app's access policy guards with the staff session (and its CSRF token) like every other staff page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from closeloop.accounts.permissions import allowed
from closeloop.accounts.users import session_user
from closeloop.api.deps import RowId, SessionDep, SettingsDep, client_ip
from closeloop.api.policy import SESSION_COOKIE, PrincipalDep
from closeloop.community import posts as community
from closeloop.community.access import signed_in_member
from closeloop.community.members import (
    MEMBER_COOKIE,
    InvalidEmailError,
    SignInLinkError,
    end_session,
    redeem_sign_in_link,
    safe_next_path,
    unsubscribe,
)
from closeloop.community.moderation import RateLimitedError, banned_words_for, moderate_comment, moderate_post
from closeloop.community.notifications import MailNotConfiguredError, send_sign_in_link
from closeloop.notify.mailer import MailError
from closeloop.store.models import CommunityBoard, CommunityComment, CommunityMember, CommunityPost
from closeloop.web.i18n import TEXTS, pick_language
from closeloop.web.pages import templates

router = APIRouter(include_in_schema=False)

SEE_OTHER = 303


def _lang_query(request: Request) -> tuple[str, str]:
    """The ``?lang=`` to carry in links (``q`` starts a query, ``amp`` extends one), when asked for."""
    asked = request.query_params.get("lang")
    if asked in TEXTS:
        return f"?lang={asked}", f"&lang={asked}"
    return "", ""


def _render(
    request: Request,
    session: Session,
    template: str,
    context: dict[str, Any],
    *,
    member: CommunityMember | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    lang = pick_language(request)
    q, amp = _lang_query(request)
    return templates.TemplateResponse(
        request,
        template,
        {
            "t": TEXTS[lang],
            "lang": lang,
            "q": q,
            "amp": amp,
            "member": member,
            "member_csrf": getattr(request.state, "community_csrf", ""),
            "statuses": community.STATUSES,
            **context,
        },
        status_code=status_code,
        # Sign-in and unsubscribe tokens sit in page addresses: never sent on to other sites.
        headers={"Cache-Control": "no-store", "Referrer-Policy": "same-origin"},
    )


def _message(
    request: Request,
    session: Session,
    heading_key: str,
    hint_key: str | None = None,
    *,
    status_code: int = 200,
    member: CommunityMember | None = None,
    **form: str,
) -> HTMLResponse:
    t = TEXTS[pick_language(request)]
    return _render(
        request,
        session,
        "community/message.html",
        {"title": t[heading_key], "heading": t[heading_key], "hint": t[hint_key] if hint_key else "", **form},
        member=member,
        status_code=status_code,
    )


def _staff(request: Request, session: Session) -> tuple[bool, str]:
    """Whether a staff member who may work community posts is signed in, and their CSRF token."""
    cookie = request.cookies.get(SESSION_COOKIE)
    found = session_user(session, cookie) if cookie else None
    if found is None or not allowed(found[0].role, "cases:work"):
        return False, ""
    return True, found[1]


def _back_to_post(request: Request, post_id: int) -> RedirectResponse:
    q, _ = _lang_query(request)
    return RedirectResponse(f"/community/p/{post_id}{q}", status_code=SEE_OTHER)


# --- public pages ------------------------------------------------------------------------------------


@router.get("/community", response_class=HTMLResponse)
def community_home(request: Request, session: SessionDep) -> HTMLResponse:
    member = signed_in_member(request, session)
    t = TEXTS[pick_language(request)]
    return _render(
        request,
        session,
        "community/index.html",
        {"title": t["community_boards"], "boards": community.list_boards(session)},
        member=member,
    )


@router.get("/community/b/{slug}", response_class=HTMLResponse)
def community_board(
    request: Request, session: SessionDep, slug: str, sort: str = "votes", status: str | None = None
) -> HTMLResponse:
    member = signed_in_member(request, session)
    board = community.board_by_slug(session, slug)
    if board is None:
        return _message(request, session, "community_not_found", status_code=404, member=member)
    sort = sort if sort in community.SORTS else "votes"
    status = status if status in community.STATUSES else None
    listed = community.list_posts(session, board_id=board.id, status=status, sort=sort, limit=100)
    title = board.name_zh if pick_language(request) == "zh" else board.name_en
    return _render(
        request,
        session,
        "community/board.html",
        {"title": title, "board": board, "posts": listed, "sort": sort, "status": status},
        member=member,
    )


@router.get("/community/p/{post_id}", response_class=HTMLResponse)
def community_post(
    request: Request, session: SessionDep, post_id: RowId, notice: str | None = None
) -> Response:
    member = signed_in_member(request, session)
    staff, staff_csrf = _staff(request, session)
    post = session.get(CommunityPost, post_id)
    if post is not None and post.merged_into_id is not None:
        target = community.resolve_post(session, post_id)
        return _back_to_post(request, target.id)
    visible = post is not None and (
        post.visibility == "published" or (staff and post.visibility != "deleted")
    )
    if not visible:
        return _message(request, session, "community_not_found", status_code=404, member=member)
    comments = community.visible_comments(session, post)
    names = community.author_names(
        session,
        {c.member_id for c in comments if c.member_id} | ({post.member_id} if post.member_id else set()),
    )
    t = TEXTS[pick_language(request)]
    return _render(
        request,
        session,
        "community/post.html",
        {
            "title": post.title,
            "post": post,
            "board": session.get(CommunityBoard, post.board_id),
            "author": names.get(post.member_id, ""),
            "names": names,
            "comments": comments,
            "votes": community.vote_count(session, post.id),
            "voted": community.has_voted(session, post, member),
            "following": community.is_following(session, post, member),
            "notice": t.get(f"community_{notice}", "") if notice else "",
            "staff": staff,
            "staff_csrf": staff_csrf,
        },
        member=member,
    )


@router.get("/community/new", response_class=HTMLResponse)
def community_new_post(request: Request, session: SessionDep, board: str = "") -> Response:
    member = signed_in_member(request, session)
    found = community.board_by_slug(session, board)
    if found is None:
        return _message(request, session, "community_not_found", status_code=404, member=member)
    if member is None:
        _, amp = _lang_query(request)
        return RedirectResponse(
            f"/community/sign-in?next=/community/new%3Fboard%3D{found.slug}{amp}", SEE_OTHER
        )
    t = TEXTS[pick_language(request)]
    context = {"title": t["community_new_post"], "board": found, "kind": "suggestion", "title_value": ""}
    context |= {"body": "", "checked": False, "similar": [], "error": ""}
    return _render(request, session, "community/new_post.html", context, member=member)


@router.post("/community/new", response_class=HTMLResponse)
def community_create_post(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    board: Annotated[str, Form(max_length=64)],
    title: Annotated[str, Form(max_length=400)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    kind: Annotated[str, Form(max_length=16)] = "suggestion",
    body: Annotated[str, Form(max_length=20_000)] = "",
    step: Annotated[str, Form(max_length=16)] = "check",
) -> Response:
    member = signed_in_member(request, session, supplied_csrf=csrf_token)
    found = community.board_by_slug(session, board)
    if member is None or found is None:
        return RedirectResponse("/community/sign-in", SEE_OTHER)
    t = TEXTS[pick_language(request)]
    form = {"title": t["community_new_post"], "board": found, "kind": kind, "body": body, "error": ""}
    if step != "publish":
        similar = [
            summary
            for summary, _match in community.similar_to_draft(session, f"{title}\n{body}", board_id=found.id)
        ]
        return _render(
            request,
            session,
            "community/new_post.html",
            {**form, "checked": True, "similar": similar, "title_value": title},
            member=member,
        )
    try:
        post = community.create_post(
            session,
            board=found,
            member=member,
            kind=kind,
            title=title,
            body=body,
            ip=client_ip(request),
            banned_words=banned_words_for(settings),
        )
    except (community.CommunityError, RateLimitedError) as exc:
        error = t["community_rate_limited"] if isinstance(exc, RateLimitedError) else str(exc)
        return _render(
            request,
            session,
            "community/new_post.html",
            {**form, "checked": True, "similar": [], "title_value": title, "error": error},
            member=member,
            status_code=429 if isinstance(exc, RateLimitedError) else 422,
        )
    session.commit()
    if post.visibility != "published":
        return _message(request, session, "community_pending", member=member)
    return _back_to_post(request, post.id)


def _member_post(
    request: Request, session: Session, post_id: int, csrf_token: str
) -> tuple[CommunityMember | None, CommunityPost | None]:
    member = signed_in_member(request, session, supplied_csrf=csrf_token)
    post = session.get(CommunityPost, post_id)
    return member, post if post is not None and community.is_public(post) else None


@router.post("/community/p/{post_id}/vote")
def community_vote(
    request: Request,
    session: SessionDep,
    post_id: RowId,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    member, post = _member_post(request, session, post_id, csrf_token)
    if member is None or post is None:
        return RedirectResponse(f"/community/sign-in?next=/community/p/{post_id}", SEE_OTHER)
    try:
        if not community.vote(session, post, member, ip=client_ip(request)):
            community.unvote(session, post, member)
    except (community.CommunityError, RateLimitedError):
        session.rollback()
        return RedirectResponse(f"/community/p/{post_id}?notice=rate_limited", SEE_OTHER)
    session.commit()
    return _back_to_post(request, post_id)


@router.post("/community/p/{post_id}/follow")
def community_follow(
    request: Request,
    session: SessionDep,
    post_id: RowId,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    member, post = _member_post(request, session, post_id, csrf_token)
    if member is None or post is None:
        return RedirectResponse(f"/community/sign-in?next=/community/p/{post_id}", SEE_OTHER)
    if not community.follow(session, post, member):
        community.unfollow(session, post, member)
    session.commit()
    return _back_to_post(request, post_id)


@router.post("/community/p/{post_id}/comments")
def community_comment(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    post_id: RowId,
    body: Annotated[str, Form(max_length=20_000)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    member, post = _member_post(request, session, post_id, csrf_token)
    if member is None or post is None:
        return RedirectResponse(f"/community/sign-in?next=/community/p/{post_id}", SEE_OTHER)
    try:
        comment = community.add_comment(
            session, post, member, body, ip=client_ip(request), banned_words=banned_words_for(settings)
        )
    except (community.CommunityError, RateLimitedError):
        session.rollback()
        return RedirectResponse(f"/community/p/{post_id}?notice=rate_limited", SEE_OTHER)
    session.commit()
    if comment.visibility != "published":
        return RedirectResponse(f"/community/p/{post_id}?notice=comment_pending", SEE_OTHER)
    return _back_to_post(request, post_id)


@router.get("/community/changelog", response_class=HTMLResponse)
def community_changelog(request: Request, session: SessionDep) -> HTMLResponse:
    member = signed_in_member(request, session)
    t = TEXTS[pick_language(request)]
    return _render(
        request,
        session,
        "community/changelog.html",
        {"title": t["community_changelog"], "posts": community.changelog(session)},
        member=member,
    )


# --- sign-in, sign-out, unsubscribe ------------------------------------------------------------------


@router.get("/community/sign-in", response_class=HTMLResponse)
def community_sign_in_form(request: Request, session: SessionDep, next: str | None = None) -> HTMLResponse:
    t = TEXTS[pick_language(request)]
    return _render(
        request,
        session,
        "community/sign_in.html",
        {"title": t["community_sign_in"], "next": safe_next_path(next) or "", "error": ""},
    )


@router.post("/community/sign-in", response_class=HTMLResponse)
def community_sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)],
    next: Annotated[str, Form(max_length=512)] = "",
    lang: Annotated[str, Form(max_length=8)] = "",
) -> HTMLResponse:
    language = lang if lang in TEXTS else pick_language(request)
    t = TEXTS[language]
    try:
        send_sign_in_link(
            session, settings, email=email, language=language, next_path=next or None, ip=client_ip(request)
        )
    except (InvalidEmailError, RateLimitedError, MailError) as exc:
        session.rollback()
        error = t["community_rate_limited"] if isinstance(exc, RateLimitedError) else str(exc)
        code = _sign_in_failure_code(exc)
        return _render(
            request,
            session,
            "community/sign_in.html",
            {"title": t["community_sign_in"], "next": safe_next_path(next) or "", "error": error},
            status_code=code,
        )
    return _message(request, session, "community_link_sent", "community_link_sent_hint")


def _sign_in_failure_code(exc: Exception) -> int:
    if isinstance(exc, RateLimitedError):
        return 429
    if isinstance(exc, InvalidEmailError):
        return 422
    return 409 if isinstance(exc, MailNotConfiguredError) else 503


@router.get("/community/auth/{token}", response_class=HTMLResponse)
def community_auth_form(request: Request, session: SessionDep, token: str) -> HTMLResponse:
    # A GET only asks: mail scanners that open links must not use up the single-use link.
    t = TEXTS[pick_language(request)]
    return _message(
        request,
        session,
        "community_sign_in",
        None,
        form_action=f"/community/auth/{token}",
        form_button=t["community_confirm_sign_in"],
        form_csrf="",
    )


@router.post("/community/auth/{token}", response_class=HTMLResponse)
def community_auth(request: Request, session: SessionDep, token: str) -> Response:
    try:
        signed = redeem_sign_in_link(session, token)
    except SignInLinkError:
        session.rollback()
        return _message(
            request, session, "community_link_invalid", "community_link_invalid_hint", status_code=400
        )
    session.commit()
    response = RedirectResponse(signed.next_path or "/community", SEE_OTHER)
    response.set_cookie(
        MEMBER_COOKIE,
        signed.cookie,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=30 * 24 * 3600,
    )
    return response


@router.post("/community/sign-out")
def community_sign_out(
    request: Request, session: SessionDep, csrf_token: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    if signed_in_member(request, session, supplied_csrf=csrf_token) is not None:
        end_session(session, request.cookies[MEMBER_COOKIE])
        session.commit()
    response = RedirectResponse("/community", SEE_OTHER)
    response.delete_cookie(MEMBER_COOKIE)
    return response


@router.get("/community/unsubscribe/{token}", response_class=HTMLResponse)
def community_unsubscribe_form(request: Request, session: SessionDep, token: str) -> HTMLResponse:
    t = TEXTS[pick_language(request)]
    return _message(
        request,
        session,
        "community_unsubscribe_title",
        "community_unsubscribe_question",
        form_action=f"/community/unsubscribe/{token}",
        form_button=t["community_unsubscribe_confirm"],
        form_csrf="",
    )


@router.post("/community/unsubscribe/{token}", response_class=HTMLResponse)
def community_unsubscribe(request: Request, session: SessionDep, token: str) -> HTMLResponse:
    member = unsubscribe(session, token)
    if member is None:
        return _message(request, session, "community_link_invalid", status_code=404)
    session.commit()
    return _message(request, session, "community_unsubscribed")


# --- staff -------------------------------------------------------------------------------------------


@router.get("/community/moderation", response_class=HTMLResponse)
def community_moderation(request: Request, session: SessionDep, principal: PrincipalDep) -> HTMLResponse:
    held_posts, held_comments = community.moderation_queue(session)
    t = TEXTS[pick_language(request)]
    return _render(
        request,
        session,
        "community/moderation.html",
        {
            "title": t["community_moderation"],
            "posts": held_posts,
            "comments": held_comments,
            "staff_csrf": getattr(request.state, "csrf_token", ""),
        },
    )


@router.post("/community/staff/p/{post_id}/status")
def community_staff_status(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    post_id: RowId,
    status: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=4000)],
    changelog_note: Annotated[str, Form(max_length=4000)] = "",
    changelog_url: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    post = session.get(CommunityPost, post_id)
    if post is None:
        return _message(request, session, "community_not_found", status_code=404)
    try:
        community.set_status(
            session,
            post,
            status,
            reason=reason,
            actor=principal.user.email,
            changelog_note=changelog_note,
            changelog_url=changelog_url,
            ip=client_ip(request),
        )
    except community.CommunityError:
        session.rollback()
        return _back_to_post(request, post_id)
    session.commit()
    return _back_to_post(request, post_id)


@router.post("/community/staff/p/{post_id}/answer")
def community_staff_answer(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    post_id: RowId,
    body: Annotated[str, Form(max_length=5000)],
) -> Response:
    post = session.get(CommunityPost, post_id)
    if post is None:
        return _message(request, session, "community_not_found", status_code=404)
    community.answer_as_brand(
        session, post, staff_email=principal.user.email, body=body, ip=client_ip(request)
    )
    session.commit()
    return _back_to_post(request, post_id)


@router.post("/community/staff/p/{post_id}/merge")
def community_staff_merge(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    post_id: RowId,
    into: Annotated[int, Form(ge=1, le=2**63 - 1)],
) -> Response:
    source, target = session.get(CommunityPost, post_id), session.get(CommunityPost, into)
    if source is None or target is None:
        return _message(request, session, "community_not_found", status_code=404)
    try:
        community.merge_posts(session, source, target, actor=principal.user.email, ip=client_ip(request))
    except community.CommunityError:
        session.rollback()
        return _back_to_post(request, post_id)
    session.commit()
    return _back_to_post(request, target.id)


@router.post("/community/staff/p/{post_id}/moderation")
def community_staff_moderation(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    post_id: RowId,
    action: Annotated[str, Form(max_length=16)],
    back: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    post = session.get(CommunityPost, post_id)
    if post is None:
        return _message(request, session, "community_not_found", status_code=404)
    try:
        moderate_post(session, post, action, actor=principal.user.email, ip=client_ip(request))
    except ValueError:
        return _back_to_post(request, post_id)
    if action == "approve":
        community.file_post_feedback(session, post)
    session.commit()
    if back == "queue":
        return RedirectResponse("/community/moderation", SEE_OTHER)
    return _back_to_post(request, post_id)


@router.post("/community/staff/comments/{comment_id}/moderation")
def community_staff_comment_moderation(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    comment_id: RowId,
    action: Annotated[str, Form(max_length=16)],
) -> Response:
    comment = session.get(CommunityComment, comment_id)
    if comment is None:
        return _message(request, session, "community_not_found", status_code=404)
    try:
        moderate_comment(session, comment, action, actor=principal.user.email, ip=client_ip(request))
    except ValueError:
        return RedirectResponse("/community/moderation", SEE_OTHER)
    if action == "approve":
        community.file_comment_feedback(session, comment, session.get(CommunityPost, comment.post_id))
    session.commit()
    return RedirectResponse("/community/moderation", SEE_OTHER)
