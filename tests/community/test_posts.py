"""Members, posts, merges, status changes and their e-mails, against a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from closeloop.collect.customers import record_consent
from closeloop.community.members import (
    InvalidEmailError,
    SignInLinkError,
    email_digest,
    find_or_create_member,
    issue_sign_in_link,
    redeem_sign_in_link,
    session_member,
)
from closeloop.community.notifications import audience, compose_status_mail, skip_reason
from closeloop.community.posts import (
    CommunityError,
    create_board,
    create_post,
    follow,
    list_posts,
    merge_posts,
    resolve_post,
    set_status,
    vote,
    vote_count,
)
from closeloop.store.models import CommunityFollower, Customer, FeedbackItem


@pytest.fixture
def board(db):
    with db() as session:
        board = create_board(session, slug="app", name_zh="应用", name_en="App")
        session.commit()
        return board.id


def test_a_sign_in_link_works_once_and_expires(db):
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    with db() as session:
        member = find_or_create_member(session, " Mei@Example.com ", language="en")
        assert member.email == "mei@example.com" and member.email_digest == email_digest("MEI@example.com")
        assert "mei" in member.display_name and "@" not in member.display_name
        customer = session.get(Customer, member.customer_id)
        assert customer.email == "mei@example.com"
        secret = issue_sign_in_link(session, member, next_path="/community/b/app", now=start)
        signed = redeem_sign_in_link(session, secret, now=start + timedelta(minutes=5))
        assert signed.next_path == "/community/b/app"
        assert session_member(session, signed.cookie, now=start)[0].id == member.id
        with pytest.raises(SignInLinkError):
            redeem_sign_in_link(session, secret, now=start + timedelta(minutes=6))  # used
        late = issue_sign_in_link(session, member, next_path="https://evil.example/", now=start)
        with pytest.raises(SignInLinkError):
            redeem_sign_in_link(session, late, now=start + timedelta(minutes=31))  # expired
        assert find_or_create_member(session, "mei@example.com").id == member.id
    with pytest.raises(InvalidEmailError):
        email_digest("not an address")


def test_merging_moves_votes_and_followers_each_member_once(db, board):
    with db() as session:
        from closeloop.store.models import CommunityBoard

        app = session.get(CommunityBoard, board)
        a, b, c = (find_or_create_member(session, f"{n}@example.com") for n in "abc")
        target = create_post(
            session, board=app, member=a, kind="suggestion", title="希望支持深色模式", body=""
        )
        duplicate = create_post(
            session, board=app, member=b, kind="suggestion", title="请加夜间模式", body=""
        )
        for post, voters in ((target, (a, b)), (duplicate, (b, c))):
            for voter in voters:
                vote(session, post, voter)
        follow(session, duplicate, c)
        merge_posts(session, duplicate, target, actor="staff@example.com")
        assert vote_count(session, target.id) == 3 and vote_count(session, duplicate.id) == 0
        followers = session.scalars(
            select(CommunityFollower.member_id).where(CommunityFollower.post_id == target.id)
        )
        assert sorted(followers) == sorted([a.id, b.id, c.id])
        assert resolve_post(session, duplicate.id).id == target.id
        assert [s.post.id for s in list_posts(session, board_id=board)] == [target.id]
        with pytest.raises(CommunityError):
            merge_posts(session, target, duplicate, actor="staff@example.com")
        # Posts, comments and votes became feedback: 2 posts + 4 votes (one per member and post).
        items = session.scalar(select(func.count()).where(FeedbackItem.channel == "community"))
        assert items == 6


def test_status_needs_a_reason_and_mail_skips_refused_consent(db, board):
    with db() as session:
        from closeloop.store.models import CommunityBoard

        app = session.get(CommunityBoard, board)
        author, refuser = (
            find_or_create_member(session, "a@example.com"),
            find_or_create_member(session, "r@example.com"),
        )
        post = create_post(session, board=app, member=author, kind="problem", title="导出报表失败", body="")
        vote(session, post, refuser)
        record_consent(session, session.get(Customer, refuser.customer_id), purpose="contact", granted=False)
        with pytest.raises(CommunityError):
            set_status(session, post, "planned", reason=" ", actor="staff@example.com")
        with pytest.raises(CommunityError):
            set_status(session, post, "shipped", reason="x", actor="staff@example.com")
        with pytest.raises(CommunityError):
            set_status(session, post, "done", reason="x", actor="s", changelog_url="//evil.example/")
        change = set_status(session, post, "wont_do", reason="与产品方向不符", actor="staff@example.com")
        assert [m.id for m in audience(session, post.id)] == [author.id, refuser.id]
        assert skip_reason(session, author) is None and skip_reason(session, refuser) == "no_consent"
        mail = compose_status_mail(post, change, author, public_url="https://fb.example.com/")
        assert mail.subject == "「导出报表失败」状态更新：暂不考虑"
        assert "与产品方向不符" in mail.text and "/community/changelog" not in mail.text
        assert (
            mail.headers["List-Unsubscribe"]
            == f"<https://fb.example.com/community/unsubscribe/{author.unsubscribe_token}>"
        )
