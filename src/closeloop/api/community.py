"""``/api/v1/community``: the public community portal's API. Reading is open to anyone; posting, voting,
commenting and following need a member signed in by e-mail link (cookie + ``X-CSRF-Token``); staff
actions (status, answers, merges, moderation, links, boards) use the normal roles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from closeloop.api.deps import RowId, SessionDep, SettingsDep, client_ip
from closeloop.api.policy import PrincipalDep
from closeloop.community import posts as community
from closeloop.community.access import require_member, signed_in_member
from closeloop.community.members import InvalidEmailError
from closeloop.community.moderation import RateLimitedError, banned_words_for, moderate_comment, moderate_post
from closeloop.community.notifications import MailNotConfiguredError, send_sign_in_link
from closeloop.notify.mailer import MailError
from closeloop.store.models import CommunityComment, CommunityMember, CommunityPost

router = APIRouter(prefix="/api/v1/community", tags=["community"])

PostKind = Literal["suggestion", "problem"]
PostStatus = Literal["open", "under_review", "planned", "in_progress", "done", "wont_do"]
assert set(PostStatus.__args__) == set(community.STATUSES)


class BoardIn(BaseModel):
    slug: str = Field(min_length=1, max_length=64)
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=2000)
    product: str | None = Field(default=None, max_length=256)
    position: int = 0


class BoardOut(BaseModel):
    id: int
    slug: str
    name_zh: str
    name_en: str
    description: str
    product: str | None


class PostIn(BaseModel):
    board: str = Field(min_length=1, max_length=64, description="the board's slug")
    kind: PostKind = "suggestion"
    title: str = Field(max_length=400)
    body: str = Field(default="", max_length=20_000)


class CommentOut(BaseModel):
    id: int
    body: str
    author: str
    as_brand: bool
    created_at: datetime


class PostOut(BaseModel):
    id: int
    board_id: int
    kind: str
    title: str
    body: str
    author: str | None
    status: str
    status_reason: str | None
    status_changed_at: datetime | None
    visibility: str
    moderation_reasons: list[str]
    locked: bool
    merged_into: int | None
    votes: int
    voted: bool = False
    following: bool = False
    changelog_note: str | None
    changelog_url: str | None
    case_id: int | None
    plan_id: int | None
    feedback_item_id: int | None
    created_at: datetime
    comments: list[CommentOut] = Field(default_factory=list)


class SimilarOut(BaseModel):
    post: PostOut
    score: float
    likely_duplicate: bool


class SignInIn(BaseModel):
    email: str = Field(max_length=320)
    language: Literal["zh", "en"] = "zh"
    next: str | None = Field(default=None, max_length=512)


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=20_000)


class StatusIn(BaseModel):
    status: PostStatus
    reason: str = Field(min_length=1, max_length=4000)
    changelog_note: str | None = Field(default=None, max_length=4000)
    changelog_url: str | None = Field(default=None, max_length=1024)


class MergeIn(BaseModel):
    into: int = Field(ge=1, le=2**63 - 1)


class ModerationIn(BaseModel):
    action: Literal["approve", "hide", "unhide", "lock", "unlock", "delete"]
    reason: str = Field(default="", max_length=2000)


class CommentModerationIn(BaseModel):
    action: Literal["approve", "hide", "unhide", "delete"]


class LinkIn(BaseModel):
    case_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    plan_id: int | None = Field(default=None, ge=1, le=2**63 - 1)


class QueueOut(BaseModel):
    posts: list[PostOut]
    comments: list[dict]


def board_out(board) -> BoardOut:
    return BoardOut(
        id=board.id,
        slug=board.slug,
        name_zh=board.name_zh,
        name_en=board.name_en,
        description=board.description,
        product=board.product,
    )


def post_out(
    session: Session,
    post: CommunityPost,
    *,
    votes: int | None = None,
    member: CommunityMember | None = None,
    with_comments: bool = False,
) -> PostOut:
    names = community.author_names(session, {post.member_id} if post.member_id else set())
    comments = []
    if with_comments:
        shown = community.visible_comments(session, post)
        commenters = community.author_names(session, {c.member_id for c in shown if c.member_id})
        comments = [
            CommentOut(
                id=c.id,
                body=c.body,
                author=commenters.get(c.member_id, "") if c.member_id else "",
                as_brand=c.staff_email is not None,
                created_at=c.created_at,
            )
            for c in shown
        ]
    return PostOut(
        id=post.id,
        board_id=post.board_id,
        kind=post.kind,
        title=post.title,
        body=post.body,
        author=names.get(post.member_id) if post.member_id else None,
        status=post.status,
        status_reason=post.status_reason,
        status_changed_at=post.status_changed_at,
        visibility=post.visibility,
        moderation_reasons=post.moderation_reasons or [],
        locked=post.locked,
        merged_into=post.merged_into_id,
        votes=community.vote_count(session, post.id) if votes is None else votes,
        voted=community.has_voted(session, post, member),
        following=community.is_following(session, post, member),
        changelog_note=post.changelog_note,
        changelog_url=post.changelog_url,
        case_id=post.case_id,
        plan_id=post.plan_id,
        feedback_item_id=post.feedback_item_id,
        created_at=post.created_at,
        comments=comments,
    )


def _rate_limited(exc: RateLimitedError) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, str(exc), headers={"Retry-After": str(exc.retry_after)}
    )


def _public_post(session: Session, post_id: int) -> CommunityPost:
    post = session.get(CommunityPost, post_id)
    if post is None or post.visibility in ("deleted", "hidden", "pending"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such post")
    return post


def _staff_post(session: Session, post_id: int) -> CommunityPost:
    post = session.get(CommunityPost, post_id)
    if post is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such post")
    return post


# --- public ------------------------------------------------------------------------------------------


@router.get("/boards", response_model=list[BoardOut])
def get_boards(session: SessionDep) -> list[BoardOut]:
    return [board_out(board) for board in community.list_boards(session)]


@router.get("/posts", response_model=list[PostOut])
def get_posts(
    session: SessionDep,
    request: Request,
    board: Annotated[str | None, Query(max_length=64)] = None,
    status_: Annotated[PostStatus | None, Query(alias="status")] = None,
    sort: Literal["votes", "new"] = "votes",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[PostOut]:
    board_id = None
    if board:
        found = community.board_by_slug(session, board)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no board {board!r}")
        board_id = found.id
    member = signed_in_member(request, session)
    listed = community.list_posts(
        session, board_id=board_id, status=status_, sort=sort, limit=limit, offset=offset
    )
    return [post_out(session, s.post, votes=s.votes, member=member) for s in listed]


@router.get("/posts/{post_id}", response_model=PostOut)
def get_post(session: SessionDep, request: Request, post_id: RowId) -> PostOut:
    post = _public_post(session, post_id)
    member = signed_in_member(request, session)
    return post_out(session, post, member=member, with_comments=True)


@router.get("/similar", response_model=list[SimilarOut])
def get_similar(
    session: SessionDep,
    text: Annotated[str, Query(min_length=1, max_length=2000)],
    board: Annotated[str | None, Query(max_length=64)] = None,
) -> list[SimilarOut]:
    board_id = None
    if board:
        found = community.board_by_slug(session, board)
        board_id = found.id if found else None
    return [
        SimilarOut(
            post=post_out(session, s.post, votes=s.votes), score=m.score, likely_duplicate=m.likely_duplicate
        )
        for s, m in community.similar_to_draft(session, text, board_id=board_id)
    ]


@router.post("/sign-in", status_code=status.HTTP_202_ACCEPTED)
def post_sign_in(body: SignInIn, session: SessionDep, settings: SettingsDep, request: Request) -> dict:
    try:
        send_sign_in_link(
            session,
            settings,
            email=body.email,
            language=body.language,
            next_path=body.next,
            ip=client_ip(request),
        )
    except InvalidEmailError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except RateLimitedError as exc:
        raise _rate_limited(exc) from None
    except MailNotConfiguredError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except MailError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    return {"sent": True}


@router.get("/me")
def get_me(session: SessionDep, request: Request) -> dict:
    member = require_member(request, session)
    return {
        "id": member.id,
        "display_name": member.display_name,
        "language": member.language,
        "csrf_token": request.state.community_csrf,
        "unsubscribed": member.unsubscribed_at is not None,
    }


@router.post("/posts", response_model=PostOut, status_code=status.HTTP_201_CREATED)
def post_post(body: PostIn, session: SessionDep, settings: SettingsDep, request: Request) -> PostOut:
    member = require_member(request, session)
    board = community.board_by_slug(session, body.board)
    if board is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no board {body.board!r}")
    try:
        post = community.create_post(
            session,
            board=board,
            member=member,
            kind=body.kind,
            title=body.title,
            body=body.body,
            ip=client_ip(request),
            banned_words=banned_words_for(settings),
        )
    except RateLimitedError as exc:
        raise _rate_limited(exc) from None
    except community.CommunityError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    out = post_out(session, post, member=member)
    session.commit()
    return out


def _member_act(request: Request, session: Session, post_id: int) -> tuple[CommunityMember, CommunityPost]:
    member = require_member(request, session)
    return member, _public_post(session, post_id)


@router.post("/posts/{post_id}/vote")
def post_vote(session: SessionDep, request: Request, post_id: RowId) -> dict:
    member, post = _member_act(request, session, post_id)
    try:
        added = community.vote(session, post, member, ip=client_ip(request))
    except RateLimitedError as exc:
        raise _rate_limited(exc) from None
    except community.CommunityError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    session.commit()
    return {"voted": True, "added": added, "votes": community.vote_count(session, post.id)}


@router.delete("/posts/{post_id}/vote")
def delete_vote(session: SessionDep, request: Request, post_id: RowId) -> dict:
    member, post = _member_act(request, session, post_id)
    removed = community.unvote(session, post, member)
    session.commit()
    return {"voted": False, "removed": removed, "votes": community.vote_count(session, post.id)}


@router.post("/posts/{post_id}/follow")
def post_follow(session: SessionDep, request: Request, post_id: RowId) -> dict:
    member, post = _member_act(request, session, post_id)
    added = community.follow(session, post, member)
    session.commit()
    return {"following": True, "added": added}


@router.delete("/posts/{post_id}/follow")
def delete_follow(session: SessionDep, request: Request, post_id: RowId) -> dict:
    member, post = _member_act(request, session, post_id)
    removed = community.unfollow(session, post, member)
    session.commit()
    return {"following": False, "removed": removed}


@router.post("/posts/{post_id}/comments", status_code=status.HTTP_201_CREATED)
def post_comment(
    body: CommentIn, session: SessionDep, settings: SettingsDep, request: Request, post_id: RowId
) -> dict:
    member, post = _member_act(request, session, post_id)
    try:
        comment = community.add_comment(
            session, post, member, body.body, ip=client_ip(request), banned_words=banned_words_for(settings)
        )
    except RateLimitedError as exc:
        raise _rate_limited(exc) from None
    except community.CommunityError as exc:
        code = status.HTTP_409_CONFLICT if "locked" in str(exc) else status.HTTP_422_UNPROCESSABLE_CONTENT
        raise HTTPException(code, str(exc)) from None
    session.commit()
    return {"id": comment.id, "visibility": comment.visibility, "body": comment.body}


# --- staff -------------------------------------------------------------------------------------------


@router.post("/boards", response_model=BoardOut, status_code=status.HTTP_201_CREATED)
def post_board(body: BoardIn, session: SessionDep, principal: PrincipalDep) -> BoardOut:
    try:
        board = community.create_board(session, **body.model_dump())
    except community.CommunityError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    out = board_out(board)
    session.commit()
    return out


@router.post("/posts/{post_id}/status", response_model=PostOut)
def post_status(
    body: StatusIn, session: SessionDep, principal: PrincipalDep, request: Request, post_id: RowId
) -> PostOut:
    post = _staff_post(session, post_id)
    try:
        community.set_status(
            session,
            post,
            body.status,
            reason=body.reason,
            actor=principal.user.email,
            changelog_note=body.changelog_note,
            changelog_url=body.changelog_url,
            ip=client_ip(request),
        )
    except community.CommunityError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    out = post_out(session, post)
    session.commit()
    return out


@router.post("/posts/{post_id}/answers", status_code=status.HTTP_201_CREATED)
def post_answer(
    body: CommentIn, session: SessionDep, principal: PrincipalDep, request: Request, post_id: RowId
) -> dict:
    post = _staff_post(session, post_id)
    try:
        comment = community.answer_as_brand(
            session, post, staff_email=principal.user.email, body=body.body, ip=client_ip(request)
        )
    except community.CommunityError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    session.commit()
    return {"id": comment.id, "as_brand": True, "body": comment.body}


@router.post("/posts/{post_id}/merge", response_model=PostOut)
def post_merge(
    body: MergeIn, session: SessionDep, principal: PrincipalDep, request: Request, post_id: RowId
) -> PostOut:
    source, target = _staff_post(session, post_id), _staff_post(session, body.into)
    try:
        community.merge_posts(session, source, target, actor=principal.user.email, ip=client_ip(request))
    except community.CommunityError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    out = post_out(session, target)
    session.commit()
    return out


@router.post("/posts/{post_id}/moderation", response_model=PostOut)
def post_moderation(
    body: ModerationIn, session: SessionDep, principal: PrincipalDep, request: Request, post_id: RowId
) -> PostOut:
    post = _staff_post(session, post_id)
    moderate_post(
        session, post, body.action, actor=principal.user.email, ip=client_ip(request), reason=body.reason
    )
    if body.action == "approve":
        community.file_post_feedback(session, post)
    out = post_out(session, post)
    session.commit()
    return out


@router.post("/comments/{comment_id}/moderation")
def post_comment_moderation(
    body: CommentModerationIn,
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    comment_id: RowId,
) -> dict:
    comment = session.get(CommunityComment, comment_id)
    if comment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such comment")
    moderate_comment(session, comment, body.action, actor=principal.user.email, ip=client_ip(request))
    if body.action == "approve":
        community.file_comment_feedback(session, comment, session.get(CommunityPost, comment.post_id))
    session.commit()
    return {"id": comment.id, "visibility": comment.visibility}


@router.post("/posts/{post_id}/links", response_model=PostOut)
def post_links(
    body: LinkIn, session: SessionDep, principal: PrincipalDep, request: Request, post_id: RowId
) -> PostOut:
    post = _staff_post(session, post_id)
    try:
        community.link_post(
            session,
            post,
            actor=principal.user.email,
            case_id=body.case_id,
            plan_id=body.plan_id,
            ip=client_ip(request),
        )
    except community.CommunityError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    out = post_out(session, post)
    session.commit()
    return out


@router.get("/moderation", response_model=QueueOut)
def get_moderation_queue(session: SessionDep, principal: PrincipalDep) -> QueueOut:
    held_posts, held_comments = community.moderation_queue(session)
    return QueueOut(
        posts=[post_out(session, post) for post in held_posts],
        comments=[
            {"id": c.id, "post_id": c.post_id, "body": c.body, "reasons": c.moderation_reasons or []}
            for c in held_comments
        ],
    )


@router.get("/changelog", response_model=list[PostOut])
def get_changelog(session: SessionDep) -> list[PostOut]:
    return [post_out(session, s.post, votes=s.votes) for s in community.changelog(session)]
