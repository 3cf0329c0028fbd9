"""Boards, posts, votes, comments and followers; staff status changes, answers, merges and links.

Into the loop: every published post and member comment is also a feedback item (channel ``community``,
kind ``suggestion`` for a suggestion and ``complaint`` for a problem, external id ``community-post:<id>`` /
``community-comment:<id>``), analysed like any other. A vote is a *light* feedback item: its text is the
post's title and its external id ``community-vote:<post>:<member>`` (so voting again never counts twice),
which makes each vote one more customer raising the theme in dashboards and alerts. Unvoting removes the
vote from the post, not the item: the customer did say it. Staff answers are not feedback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from closeloop.accounts import audit
from closeloop.collect.records import CustomerRef, FeedbackRecord
from closeloop.collect.submit import submit_records
from closeloop.community.moderation import check_rate, is_repeat, spam_reasons
from closeloop.community.similar import SimilarPost, similar_posts
from closeloop.privacy.pii import redact
from closeloop.settings import get_settings
from closeloop.store.models import (
    ActionPlan,
    Case,
    CommunityBoard,
    CommunityComment,
    CommunityFollower,
    CommunityMember,
    CommunityPost,
    CommunityStatusChange,
    CommunityVote,
    Customer,
    utcnow,
)

POST_KINDS = ("suggestion", "problem")
FEEDBACK_KINDS = {"suggestion": "suggestion", "problem": "complaint"}
STATUSES = ("open", "under_review", "planned", "in_progress", "done", "wont_do")
SORTS = ("votes", "new")
CHANNEL = "community"
TITLE_MIN, TITLE_MAX, BODY_MAX, COMMENT_MAX = 4, 200, 10_000, 5_000
SIMILAR_CANDIDATES = 2_000


class CommunityError(ValueError):
    """A request the community refuses (invalid input, locked post …), with a message for the customer."""


@dataclass(frozen=True, slots=True)
class PostSummary:
    """A post as lists show it: the row and its vote count."""

    post: CommunityPost
    votes: int


# --- boards -----------------------------------------------------------------------------------------


def create_board(
    session: Session,
    *,
    slug: str,
    name_zh: str,
    name_en: str,
    description: str = "",
    product: str | None = None,
    position: int = 0,
) -> CommunityBoard:
    """A new board; the slug is its address (``/community/b/<slug>``): lower-case letters, digits, ``-``."""
    slug = slug.strip().lower()
    if not slug or len(slug) > 64 or not all(c.isascii() and (c.isalnum() or c == "-") for c in slug):
        raise CommunityError("a board slug is 1–64 lower-case letters, digits or '-'")
    if session.scalars(select(CommunityBoard).where(CommunityBoard.slug == slug)).first():
        raise CommunityError(f"a board {slug!r} exists already")
    board = CommunityBoard(
        slug=slug,
        name_zh=name_zh.strip()[:128] or slug,
        name_en=name_en.strip()[:128] or slug,
        description=description,
        product=product or None,
        position=position,
    )
    session.add(board)
    session.flush()
    return board


def list_boards(session: Session) -> list[CommunityBoard]:
    return list(session.scalars(select(CommunityBoard).order_by(CommunityBoard.position, CommunityBoard.id)))


def board_by_slug(session: Session, slug: str) -> CommunityBoard | None:
    return session.scalars(select(CommunityBoard).where(CommunityBoard.slug == slug)).first()


# --- feedback items ----------------------------------------------------------------------------------


def _customer_ref(session: Session, member: CommunityMember | None) -> CustomerRef | None:
    if member is None or member.customer_id is None:
        return None
    external_id = session.scalar(select(Customer.external_id).where(Customer.id == member.customer_id))
    return CustomerRef(external_id=external_id) if external_id else None


def _file_feedback(
    session: Session,
    *,
    text: str,
    kind: str,
    external_id: str,
    board: CommunityBoard,
    member: CommunityMember | None,
    detail: dict,
) -> int | None:
    """Store one community feedback item through the common ingest path; its id (None if stored before)."""
    record = FeedbackRecord(
        text=text,
        channel=CHANNEL,
        kind=FEEDBACK_KINDS.get(kind, "suggestion"),
        external_id=external_id,
        product=board.product,
        customer=_customer_ref(session, member),
        metadata={"community": {"board": board.slug, **detail}},
    )
    result = submit_records(session, [record], max_text_chars=get_settings().max_text_chars)
    return result.item_ids[0] if result.item_ids else None


def file_post_feedback(session: Session, post: CommunityPost, *, original: str | None = None) -> None:
    """Make a published post a feedback item (once). ``original`` is the unredacted text when known:
    ingest redacts it again and keeps the original encrypted, like any feedback."""
    if post.feedback_item_id is not None:
        return
    board = session.get(CommunityBoard, post.board_id)
    member = session.get(CommunityMember, post.member_id) if post.member_id else None
    text = original or f"{post.title}\n{post.body}".strip()
    post.feedback_item_id = _file_feedback(
        session,
        text=text,
        kind=post.kind,
        external_id=f"community-post:{post.id}",
        board=board,
        member=member,
        detail={"type": "post", "post_id": post.id},
    )


# --- posts -------------------------------------------------------------------------------------------


def _redacted(text: str) -> tuple[str, set[str]]:
    found = redact(text)
    return found.text, {span.kind for span in found.spans}


def create_post(
    session: Session,
    *,
    board: CommunityBoard,
    member: CommunityMember,
    kind: str,
    title: str,
    body: str,
    ip: str | None = None,
    banned_words: tuple[str, ...] = (),
    now: datetime | None = None,
) -> CommunityPost:
    """A member's new post: rate-limited, personal data redacted from the public text, held for moderation
    when the spam filter objects (or the member repeats themselves), else published and filed as feedback.
    The author follows their own post."""
    now = now or utcnow()
    title, body = " ".join((title or "").split()), (body or "").strip()
    if kind not in POST_KINDS:
        raise CommunityError(f"kind is one of {', '.join(POST_KINDS)}")
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise CommunityError(f"the title needs {TITLE_MIN}–{TITLE_MAX} characters")
    if len(body) > BODY_MAX:
        raise CommunityError(f"the text may have at most {BODY_MAX} characters")
    check_rate(session, "post", member_id=member.id, ip=ip, now=now)
    public_title, title_kinds = _redacted(title)
    public_body, body_kinds = _redacted(body)
    reasons = spam_reasons(f"{title}\n{body}", banned_words=banned_words)
    if is_repeat(session, member.id, public_title, public_body, now=now):
        reasons.append("repeated_text")
    post = CommunityPost(
        board_id=board.id,
        member_id=member.id,
        kind=kind,
        title=public_title,
        body=public_body,
        pii_kinds=sorted(title_kinds | body_kinds),
        visibility="pending" if reasons else "published",
        moderation_reasons=reasons,
        created_at=now,
        updated_at=now,
    )
    session.add(post)
    session.flush()
    if not reasons:
        file_post_feedback(session, post, original=f"{title}\n{body}".strip())
    follow(session, post, member)
    return post


def resolve_post(session: Session, post_id: int) -> CommunityPost | None:
    """The post with this id, or the post it was merged into (followed to the end of the chain)."""
    post = session.get(CommunityPost, post_id)
    seen: set[int] = set()
    while post is not None and post.merged_into_id is not None and post.id not in seen:
        seen.add(post.id)
        post = session.get(CommunityPost, post.merged_into_id)
    return post


def is_public(post: CommunityPost) -> bool:
    return post.visibility == "published" and post.merged_into_id is None


def vote_count(session: Session, post_id: int) -> int:
    return session.scalar(select(func.count()).where(CommunityVote.post_id == post_id)) or 0


def _votes_column() -> object:
    return (
        select(func.count())
        .where(CommunityVote.post_id == CommunityPost.id)
        .correlate(CommunityPost)
        .scalar_subquery()
    )


def list_posts(
    session: Session,
    *,
    board_id: int | None = None,
    status: str | None = None,
    sort: str = "votes",
    limit: int = 50,
    offset: int = 0,
) -> list[PostSummary]:
    """Published, unmerged posts (of a board, of a status), by votes or newest first."""
    votes = _votes_column().label("votes")
    stmt: Select = select(CommunityPost, votes).where(
        CommunityPost.visibility == "published", CommunityPost.merged_into_id.is_(None)
    )
    if board_id is not None:
        stmt = stmt.where(CommunityPost.board_id == board_id)
    if status:
        stmt = stmt.where(CommunityPost.status == status)
    if sort == "new":
        stmt = stmt.order_by(CommunityPost.created_at.desc(), CommunityPost.id.desc())
    else:
        stmt = stmt.order_by(votes.desc(), CommunityPost.created_at.desc(), CommunityPost.id.desc())
    rows = session.execute(stmt.limit(limit).offset(offset)).all()
    return [PostSummary(post, count) for post, count in rows]


def similar_to_draft(
    session: Session, text: str, *, board_id: int | None = None
) -> list[tuple[PostSummary, SimilarPost]]:
    """Published posts like a draft (the newest SIMILAR_CANDIDATES considered), best first."""
    stmt = select(CommunityPost.id, CommunityPost.title, CommunityPost.body).where(
        CommunityPost.visibility == "published", CommunityPost.merged_into_id.is_(None)
    )
    if board_id is not None:
        stmt = stmt.where(CommunityPost.board_id == board_id)
    rows = session.execute(stmt.order_by(CommunityPost.id.desc()).limit(SIMILAR_CANDIDATES)).all()
    matches = similar_posts(text, [(row.id, f"{row.title}\n{row.body}") for row in rows])
    found = []
    for match in matches:
        post = session.get(CommunityPost, match.post_id)
        found.append((PostSummary(post, vote_count(session, post.id)), match))
    return found


def _member_row(session: Session, model: type, post: CommunityPost, member: CommunityMember) -> object:
    return session.scalars(
        select(model).where(model.post_id == post.id, model.member_id == member.id)
    ).first()


def has_voted(session: Session, post: CommunityPost, member: CommunityMember | None) -> bool:
    return member is not None and _member_row(session, CommunityVote, post, member) is not None


def is_following(session: Session, post: CommunityPost, member: CommunityMember | None) -> bool:
    return member is not None and _member_row(session, CommunityFollower, post, member) is not None


def _open_for_members(post: CommunityPost) -> None:
    if not is_public(post):
        raise CommunityError("this post is not open")
    if post.locked:
        raise CommunityError("this post is locked")


def vote(session: Session, post: CommunityPost, member: CommunityMember, *, ip: str | None = None) -> bool:
    """Vote for a post (voters are told of status changes too); False when the member had voted already."""
    _open_for_members(post)
    if has_voted(session, post, member):
        return False
    check_rate(session, "vote", member_id=member.id, ip=ip)
    session.add(CommunityVote(post_id=post.id, member_id=member.id))
    session.flush()
    _file_feedback(
        session,
        text=post.title,
        kind=post.kind,
        external_id=f"community-vote:{post.id}:{member.id}",
        board=session.get(CommunityBoard, post.board_id),
        member=member,
        detail={"type": "vote", "post_id": post.id},
    )
    return True


def unvote(session: Session, post: CommunityPost, member: CommunityMember) -> bool:
    """Take a vote back; False when there was none."""
    deleted = session.execute(
        delete(CommunityVote).where(CommunityVote.post_id == post.id, CommunityVote.member_id == member.id)
    )
    return bool(deleted.rowcount)


def follow(session: Session, post: CommunityPost, member: CommunityMember) -> bool:
    """Follow a post; False when already following."""
    if is_following(session, post, member):
        return False
    session.add(CommunityFollower(post_id=post.id, member_id=member.id))
    session.flush()
    return True


def unfollow(session: Session, post: CommunityPost, member: CommunityMember) -> bool:
    deleted = session.execute(
        delete(CommunityFollower).where(
            CommunityFollower.post_id == post.id, CommunityFollower.member_id == member.id
        )
    )
    return bool(deleted.rowcount)


# --- comments ----------------------------------------------------------------------------------------


def add_comment(
    session: Session,
    post: CommunityPost,
    member: CommunityMember,
    body: str,
    *,
    ip: str | None = None,
    banned_words: tuple[str, ...] = (),
) -> CommunityComment:
    """A member's comment: rate-limited, redacted, held when the spam filter objects, else published and
    filed as feedback."""
    _open_for_members(post)
    body = (body or "").strip()
    if not 1 <= len(body) <= COMMENT_MAX:
        raise CommunityError(f"a comment has 1–{COMMENT_MAX} characters")
    check_rate(session, "comment", member_id=member.id, ip=ip)
    reasons = spam_reasons(body, banned_words=banned_words)
    public, _kinds = _redacted(body)
    comment = CommunityComment(
        post_id=post.id,
        member_id=member.id,
        body=public,
        visibility="pending" if reasons else "published",
        moderation_reasons=reasons,
    )
    session.add(comment)
    session.flush()
    if not reasons:
        file_comment_feedback(session, comment, post, original=body)
    return comment


def file_comment_feedback(
    session: Session, comment: CommunityComment, post: CommunityPost, *, original: str | None = None
) -> None:
    """Make a published member comment a feedback item (once)."""
    if comment.feedback_item_id is not None or comment.member_id is None:
        return
    comment.feedback_item_id = _file_feedback(
        session,
        text=original or comment.body,
        kind=post.kind,
        external_id=f"community-comment:{comment.id}",
        board=session.get(CommunityBoard, post.board_id),
        member=session.get(CommunityMember, comment.member_id),
        detail={"type": "comment", "post_id": post.id, "comment_id": comment.id},
    )


def answer_as_brand(
    session: Session, post: CommunityPost, *, staff_email: str, body: str, ip: str | None = None
) -> CommunityComment:
    """Staff answer on a post, shown as the brand (audited; not feedback)."""
    body = (body or "").strip()
    if not 1 <= len(body) <= COMMENT_MAX:
        raise CommunityError(f"an answer has 1–{COMMENT_MAX} characters")
    comment = CommunityComment(post_id=post.id, staff_email=staff_email, body=body)
    session.add(comment)
    session.flush()
    audit.record(session, "community.answer", actor=staff_email, target=f"community_post:{post.id}", ip=ip)
    return comment


def visible_comments(session: Session, post: CommunityPost) -> list[CommunityComment]:
    return list(
        session.scalars(
            select(CommunityComment)
            .where(CommunityComment.post_id == post.id, CommunityComment.visibility == "published")
            .order_by(CommunityComment.created_at, CommunityComment.id)
        )
    )


# --- staff: status, merge, links ---------------------------------------------------------------------


def set_status(
    session: Session,
    post: CommunityPost,
    status: str,
    *,
    reason: str,
    actor: str,
    changelog_note: str | None = None,
    changelog_url: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> CommunityStatusChange:
    """Set the public status with its reason (audited); followers and voters are e-mailed about the change
    by the notification job. ``done`` may carry what changed (note and link) for the public changelog."""
    if status not in STATUSES:
        raise CommunityError(f"status is one of {', '.join(STATUSES)}")
    reason = (reason or "").strip()
    if not reason:
        raise CommunityError("say why: a status change needs a reason")
    if changelog_url and (
        not changelog_url.startswith(("https://", "http://", "/")) or changelog_url.startswith("//")
    ):
        raise CommunityError("the changelog link must be an http(s) URL or a path")
    now = now or utcnow()
    before = post.status
    post.status, post.status_reason, post.status_changed_at, post.updated_at = status, reason, now, now
    if status == "done":
        post.changelog_note = (changelog_note or "").strip() or post.changelog_note
        post.changelog_url = (changelog_url or "").strip() or post.changelog_url
    change = CommunityStatusChange(post_id=post.id, status=status, reason=reason, actor=actor, at=now)
    session.add(change)
    session.flush()
    audit.record(
        session,
        "community.status",
        actor=actor,
        target=f"community_post:{post.id}",
        ip=ip,
        detail={"from": before, "to": status},
    )
    return change


def merge_posts(
    session: Session, source: CommunityPost, target: CommunityPost, *, actor: str, ip: str | None = None
) -> CommunityPost:
    """Merge ``source`` (a duplicate) into ``target``: its votes and followers move along (a member who
    voted for or followed both counts once) and its address leads to the target. Audited."""
    if source.id == target.id or resolve_post(session, target.id).id == source.id:
        raise CommunityError("a post cannot be merged into itself")
    if target.merged_into_id is not None:
        raise CommunityError("merge into the post this one was merged into")
    moved = {}
    for model in (CommunityVote, CommunityFollower):
        on_target = select(model.member_id).where(model.post_id == target.id)
        session.execute(delete(model).where(model.post_id == source.id, model.member_id.in_(on_target)))
        rows = session.scalars(select(model).where(model.post_id == source.id)).all()
        for row in rows:
            row.post_id = target.id
        moved[model.__tablename__] = len(rows)
    source.merged_into_id = target.id
    source.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        "community.merge",
        actor=actor,
        target=f"community_post:{source.id}",
        ip=ip,
        detail={"into": target.id, **moved},
    )
    return target


def link_post(
    session: Session,
    post: CommunityPost,
    *,
    actor: str,
    case_id: int | None = None,
    plan_id: int | None = None,
    ip: str | None = None,
) -> CommunityPost:
    """Link a post to a case and/or an action plan (ids must exist). Audited."""
    if case_id is not None and session.get(Case, case_id) is None:
        raise CommunityError(f"no case {case_id}")
    if plan_id is not None and session.get(ActionPlan, plan_id) is None:
        raise CommunityError(f"no action plan {plan_id}")
    if case_id is not None:
        post.case_id = case_id
    if plan_id is not None:
        post.plan_id = plan_id
    session.flush()
    audit.record(
        session,
        "community.link",
        actor=actor,
        target=f"community_post:{post.id}",
        ip=ip,
        detail={"case_id": case_id, "plan_id": plan_id},
    )
    return post


def changelog(session: Session, *, limit: int = 100) -> list[PostSummary]:
    """Shipped because customers asked: published posts set to ``done``, newest first."""
    votes = _votes_column().label("votes")
    rows = session.execute(
        select(CommunityPost, votes)
        .where(
            CommunityPost.status == "done",
            CommunityPost.visibility == "published",
            CommunityPost.merged_into_id.is_(None),
        )
        .order_by(CommunityPost.status_changed_at.desc(), CommunityPost.id.desc())
        .limit(limit)
    ).all()
    return [PostSummary(post, count) for post, count in rows]


def moderation_queue(session: Session) -> tuple[list[CommunityPost], list[CommunityComment]]:
    """Posts and comments the filter held back, oldest first."""
    posts = session.scalars(
        select(CommunityPost).where(CommunityPost.visibility == "pending").order_by(CommunityPost.id)
    ).all()
    comments = session.scalars(
        select(CommunityComment).where(CommunityComment.visibility == "pending").order_by(CommunityComment.id)
    ).all()
    return list(posts), list(comments)


def author_names(session: Session, member_ids: set[int]) -> dict[int, str]:
    """Public display names of members."""
    if not member_ids:
        return {}
    rows = session.execute(
        select(CommunityMember.id, CommunityMember.display_name).where(CommunityMember.id.in_(member_ids))
    )
    return {member_id: name for member_id, name in rows}
