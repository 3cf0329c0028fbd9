"""The community pages over real HTTP without JavaScript: zh/en, the confirm step that shows similar posts,
member forms guarded by the session's CSRF token, unsubscribe, and the staff-only moderation queue."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from closeloop.community.members import MEMBER_COOKIE, find_or_create_member, open_session
from closeloop.community.posts import create_board, create_post
from closeloop.store.models import AuditEntry, CommunityMember, CommunityPost


@pytest.fixture
def seeded(db) -> int:
    with db() as session:
        board = create_board(session, slug="app", name_zh="应用建议", name_en="App ideas")
        author = find_or_create_member(session, "early@example.com")
        post = create_post(
            session, board=board, member=author, kind="suggestion", title="希望App支持深色模式", body=""
        )
        session.commit()
        return post.id


@pytest.fixture
def member(live_server, db):
    with db() as session:
        signed = open_session(session, find_or_create_member(session, "mei@example.com"))
        session.commit()
    with httpx.Client(base_url=live_server, cookies={MEMBER_COOKIE: signed.cookie}, timeout=30) as http:
        yield http


def csrf(page: httpx.Response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_pages_speak_chinese_and_english(live_server, seeded):
    zh = httpx.get(f"{live_server}/community/b/app")
    assert (
        zh.status_code == 200
        and "应用建议" in zh.text
        and "最多投票" in zh.text
        and "希望App支持深色模式" in zh.text
    )
    en = httpx.get(f"{live_server}/community/b/app", headers={"Accept-Language": "en-US,en"})
    assert "App ideas" in en.text and "Most votes" in en.text
    assert "Changelog" in httpx.get(f"{live_server}/community/changelog?lang=en").text
    assert httpx.get(f"{live_server}/community/p/999999").status_code == 404


def test_without_javascript_the_confirm_step_shows_similar_posts(member, seeded, db):
    form = member.get("/community/new?board=app")
    assert form.status_code == 200
    token = csrf(form)
    checked = member.post(
        "/community/new", data={"csrf_token": token, "board": "app", "title": "能不能加个深色模式"}
    )
    assert (
        checked.status_code == 200
        and "已有相似的帖子" in checked.text
        and f"/community/p/{seeded}" in checked.text
    )
    published = member.post(
        "/community/new",
        data={"csrf_token": token, "board": "app", "title": "能不能加个深色模式", "step": "publish"},
    )
    assert published.status_code == 303
    with db() as session:
        assert (
            session.scalar(select(CommunityPost.title).order_by(CommunityPost.id.desc()).limit(1))
            == "能不能加个深色模式"
        )


def test_member_forms_need_the_sessions_csrf_token(member, seeded):
    refused = member.post(f"/community/p/{seeded}/vote", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    page = member.get(f"/community/p/{seeded}")
    assert member.post(f"/community/p/{seeded}/vote", data={"csrf_token": csrf(page)}).status_code == 303
    assert 'id="vote-count">1<' in member.get(f"/community/p/{seeded}").text


def test_anonymous_new_post_goes_to_sign_in(live_server, seeded):
    response = httpx.get(f"{live_server}/community/new?board=app")
    assert response.status_code == 303 and response.headers["location"].startswith("/community/sign-in?next=")


def test_unsubscribe_asks_then_records(live_server, seeded, db):
    with db() as session:
        token = session.scalars(select(CommunityMember.unsubscribe_token)).first()
    asked = httpx.get(f"{live_server}/community/unsubscribe/{token}")
    assert asked.status_code == 200 and "确认退订" in asked.text
    with db() as session:
        assert session.scalars(select(CommunityMember.unsubscribed_at)).first() is None
    done = httpx.post(f"{live_server}/community/unsubscribe/{token}")
    assert done.status_code == 200 and "您已退订社区邮件" in done.text
    with db() as session:
        assert session.scalars(select(CommunityMember.unsubscribed_at)).first() is not None
    assert httpx.post(f"{live_server}/community/unsubscribe/unknown").status_code == 404


def test_moderation_queue_is_for_staff(live_server, member, browser_as, csrf_of, db):
    with db() as session:
        board = create_board(session, slug="app", name_zh="应用", name_en="App")
        spammer = find_or_create_member(session, "spam@example.com")
        held = create_post(
            session, board=board, member=spammer, kind="suggestion", title="便宜好货", body="代开发票 找我"
        )
        session.commit()
        held_id = held.id
    assert httpx.get(f"{live_server}/community/moderation").status_code == 303  # to /login
    agent = browser_as("agent")
    queue = agent.get("/community/moderation")
    assert queue.status_code == 200 and "便宜好货" in queue.text and "banned_word" in queue.text
    approved = agent.post(
        f"/community/staff/p/{held_id}/moderation",
        data={"csrf_token": csrf_of(queue), "action": "approve", "back": "queue"},
    )
    assert approved.status_code == 303
    assert "便宜好货" not in agent.get("/community/moderation").text
    assert member.get(f"/community/p/{held_id}").status_code == 200
    with db() as session:
        assert session.scalar(
            select(AuditEntry.action).where(AuditEntry.target == f"community_post:{held_id}")
        ) == ("community.post_approve")


def test_sign_in_form_says_when_mail_is_not_configured(live_server):
    shown = httpx.post(f"{live_server}/community/sign-in", data={"email": "mei@example.com", "lang": "en"})
    assert shown.status_code == 409 and "CLOSELOOP_SMTP_HOST" in shown.text and 'id="send-link"' in shown.text
    wrong = httpx.post(f"{live_server}/community/sign-in", data={"email": "nope"})
    assert wrong.status_code == 422
