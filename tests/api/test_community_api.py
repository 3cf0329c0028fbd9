"""``/api/v1/community``: members post, vote, comment and follow (signed in by e-mail link, CSRF checked);
rate limits answer 429; the spam filter holds posts for the moderation queue; staff set statuses (followers
and voters are e-mailed once), merge duplicates (votes add up), answer as the brand and link cases."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from closeloop.community import moderation
from closeloop.community.members import MEMBER_COOKIE, find_or_create_member, open_session
from closeloop.community.notifications import send_status_notifications
from closeloop.community.posts import create_board
from closeloop.notify.mailer import SmtpMailer
from closeloop.store.models import AuditEntry, CommunityPost, FeedbackItem


@pytest.fixture
def board(db) -> str:
    with db() as session:
        create_board(session, slug="app", name_zh="应用", name_en="App", product="closeloop-app")
        session.commit()
    return "app"


@pytest.fixture
def member_client(live_server, db):
    """``member_client(email)``: an httpx client signed in to the community as that member."""
    opened: list[httpx.Client] = []

    def make(email: str, language: str = "zh") -> httpx.Client:
        with db() as session:
            member = find_or_create_member(session, email, language=language)
            signed = open_session(session, member)
            session.commit()
        http = httpx.Client(
            base_url=live_server,
            timeout=30,
            cookies={MEMBER_COOKIE: signed.cookie},
            headers={"X-CSRF-Token": signed.csrf_token},
        )
        opened.append(http)
        return http

    yield make
    for http in opened:
        http.close()


def new_post(http: httpx.Client, title: str, body: str = "", kind: str = "suggestion") -> dict:
    response = http.post(
        "/api/v1/community/posts", json={"board": "app", "kind": kind, "title": title, "body": body}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_member_posts_votes_comments_and_each_is_feedback(member_client, client_as, board, db):
    alice, bob = member_client("alice@example.com"), member_client("bob@example.com")
    post = new_post(alice, "希望支持深色模式", "晚上看屏幕太刺眼，手机 13812345678 可联系我")
    assert post["visibility"] == "published" and post["status"] == "open"
    assert "13812345678" not in post["body"] and "[手机号]" in post["body"]  # PII redacted in public

    voted = bob.post(f"/api/v1/community/posts/{post['id']}/vote")
    assert voted.status_code == 200 and voted.json() == {"voted": True, "added": True, "votes": 1}
    assert bob.post(f"/api/v1/community/posts/{post['id']}/vote").json()["added"] is False
    commented = bob.post(f"/api/v1/community/posts/{post['id']}/comments", json={"body": "同求，晚上太亮了"})
    assert commented.status_code == 201 and commented.json()["visibility"] == "published"

    shown = client_as(None).get(f"/api/v1/community/posts/{post['id']}").json()
    assert shown["votes"] == 1 and [c["body"] for c in shown["comments"]] == ["同求，晚上太亮了"]
    assert bob.get(f"/api/v1/community/posts/{post['id']}").json()["voted"] is True

    with db() as session:
        items = session.scalars(select(FeedbackItem).where(FeedbackItem.channel == "community")).all()
        kinds = sorted((item.meta["community"]["type"], item.kind, item.product) for item in items)
        assert kinds == [
            ("comment", "suggestion", "closeloop-app"),
            ("post", "suggestion", "closeloop-app"),
            ("vote", "suggestion", "closeloop-app"),
        ]
        assert all(item.customer_id is not None for item in items)
        assert session.get(CommunityPost, post["id"]).feedback_item_id is not None

    assert bob.delete(f"/api/v1/community/posts/{post['id']}/vote").json()["votes"] == 0


def test_a_problem_becomes_a_complaint_item(member_client, board, db):
    post = new_post(member_client("carol@example.com"), "登录后页面一直白屏", kind="problem")
    with db() as session:
        item = session.get(FeedbackItem, session.get(CommunityPost, post["id"]).feedback_item_id)
        assert item.kind == "complaint" and "白屏" in item.text


def test_posting_needs_a_member_and_the_csrf_token(live_server, member_client, board):
    anonymous = httpx.post(
        f"{live_server}/api/v1/community/posts", json={"board": "app", "title": "匿名发帖试试"}
    )
    assert anonymous.status_code == 401
    alice = member_client("alice@example.com")
    alice.headers.pop("X-CSRF-Token")
    refused = alice.post("/api/v1/community/posts", json={"board": "app", "title": "没有令牌发帖"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]


def test_similar_posts_are_suggested_before_posting(member_client, client_as, board):
    alice = member_client("alice@example.com")
    dark = new_post(alice, "希望App支持深色模式", "晚上看屏幕太刺眼")
    new_post(alice, "物流太慢了", "三天才到")
    found = client_as(None).get("/api/v1/community/similar", params={"text": "能不能加个深色模式"}).json()
    assert [match["post"]["id"] for match in found] == [dark["id"]]
    assert client_as(None).get("/api/v1/community/similar", params={"text": "价格太贵"}).json() == []


def test_posting_is_rate_limited_per_member(member_client, board, monkeypatch):
    monkeypatch.setitem(
        moderation.RATE_LIMITS,
        "post",
        moderation.RateLimit(per_member=2, per_ip=100, window=timedelta(hours=1)),
    )
    alice = member_client("alice@example.com")
    new_post(alice, "第一个建议内容")
    new_post(alice, "第二个建议内容")
    third = alice.post("/api/v1/community/posts", json={"board": "app", "title": "第三个建议内容"})
    assert third.status_code == 429 and int(third.headers["Retry-After"]) > 0
    # Another member is not limited by Alice's posts.
    new_post(member_client("bob@example.com"), "别人的建议内容")


def test_votes_are_rate_limited_per_address(member_client, board, monkeypatch):
    monkeypatch.setitem(
        moderation.RATE_LIMITS,
        "vote",
        moderation.RateLimit(per_member=100, per_ip=2, window=timedelta(hours=1)),
    )
    post = new_post(member_client("alice@example.com"), "希望增加导出功能")
    codes = [
        member_client(f"voter{n}@example.com").post(f"/api/v1/community/posts/{post['id']}/vote").status_code
        for n in range(3)
    ]
    assert codes == [200, 200, 429]


def test_spam_is_held_for_moderation_then_approved(member_client, client_as, board, db):
    spammer = member_client("spam@example.com")
    held = new_post(spammer, "便宜好货看这里", "http://a.top http://b.top http://c.top http://d.top")
    assert held["visibility"] == "pending" and held["moderation_reasons"] == ["links"]
    shouted = new_post(spammer, "THIS APP IS TERRIBLE FIX IT NOW", "")
    assert shouted["moderation_reasons"] == ["shouting"]
    public = client_as(None)
    assert {p["id"] for p in public.get("/api/v1/community/posts").json()}.isdisjoint(
        {held["id"], shouted["id"]}
    )
    assert public.get(f"/api/v1/community/posts/{held['id']}").status_code == 404

    assert client_as("viewer").get("/api/v1/community/moderation").status_code == 403
    agent = client_as("agent")
    queue = agent.get("/api/v1/community/moderation").json()
    assert [p["id"] for p in queue["posts"]] == [held["id"], shouted["id"]]
    approved = agent.post(f"/api/v1/community/posts/{shouted['id']}/moderation", json={"action": "approve"})
    assert approved.status_code == 200 and approved.json()["visibility"] == "published"
    assert approved.json()["feedback_item_id"] is not None
    assert (
        agent.post(f"/api/v1/community/posts/{held['id']}/moderation", json={"action": "delete"}).status_code
        == 200
    )
    assert agent.get("/api/v1/community/moderation").json()["posts"] == []
    with db() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("community.%"))
        ).all()
        assert sorted(actions) == ["community.post_approve", "community.post_delete"]


def test_locked_posts_take_no_comments(member_client, client_as, board):
    post = new_post(member_client("alice@example.com"), "锁定之前的帖子")
    agent = client_as("agent")
    assert (
        agent.post(f"/api/v1/community/posts/{post['id']}/moderation", json={"action": "lock"}).status_code
        == 200
    )
    bob = member_client("bob@example.com")
    assert (
        bob.post(f"/api/v1/community/posts/{post['id']}/comments", json={"body": "还能评论吗"}).status_code
        == 409
    )


def test_merging_moves_votes_and_followers_once(member_client, client_as, board, db):
    alice, bob, carol = (member_client(f"{n}@example.com") for n in ("alice", "bob", "carol"))
    target = new_post(alice, "希望支持深色模式")
    duplicate = new_post(bob, "请加一个夜间模式")
    for voter in (alice, bob):
        voter.post(f"/api/v1/community/posts/{target['id']}/vote")
    for voter in (bob, carol):  # bob voted for both: he counts once after the merge
        voter.post(f"/api/v1/community/posts/{duplicate['id']}/vote")
    assert (
        client_as("agent")
        .post(f"/api/v1/community/posts/{duplicate['id']}/merge", json={"into": target["id"]})
        .status_code
        == 403
    )
    merged = client_as("analyst").post(
        f"/api/v1/community/posts/{duplicate['id']}/merge", json={"into": target["id"]}
    )
    assert merged.status_code == 200 and merged.json()["votes"] == 3
    listed = client_as(None).get("/api/v1/community/posts").json()
    assert [p["id"] for p in listed] == [target["id"]]
    assert bob.get(f"/api/v1/community/posts/{target['id']}").json()["following"] is True


def test_status_change_mails_followers_and_voters_once(
    member_client, client_as, board, db, smtp_server, live_server
):
    alice, bob, carol = (
        member_client(f"{n}@example.com", language)
        for n, language in (("alice", "zh"), ("bob", "en"), ("carol", "zh"))
    )
    post = new_post(alice, "希望支持深色模式")  # alice follows her own post
    bob.post(f"/api/v1/community/posts/{post['id']}/vote")
    carol.post(f"/api/v1/community/posts/{post['id']}/follow")
    carol_token = carol.get("/api/v1/community/me").json()
    assert carol_token["unsubscribed"] is False
    with db() as session:
        from closeloop.community.members import find_or_create_member as member_of
        from closeloop.community.members import unsubscribe

        unsubscribe(session, member_of(session, "carol@example.com").unsubscribe_token)
        session.commit()

    analyst = client_as("analyst")
    missing_reason = analyst.post(
        f"/api/v1/community/posts/{post['id']}/status", json={"status": "done", "reason": ""}
    )
    assert missing_reason.status_code == 422
    done = analyst.post(
        f"/api/v1/community/posts/{post['id']}/status",
        json={
            "status": "done",
            "reason": "2.3 版已上线",
            "changelog_note": "设置里可切换深色模式",
            "changelog_url": "/community/changelog",
        },
    )
    assert done.status_code == 200 and done.json()["status"] == "done"

    mailer = SmtpMailer(host=smtp_server.host, port=smtp_server.port)
    run = send_status_notifications(db, mailer, public_url=live_server)
    assert (run.sent, run.skipped, run.changes) == (2, 1, 1)
    assert send_status_notifications(db, mailer, public_url=live_server).sent == 0  # once per change
    by_recipient = {message["To"]: message for message in smtp_server.messages}
    assert sorted(by_recipient) == ["alice@example.com", "bob@example.com"]
    english = by_recipient["bob@example.com"].get_body(preferencelist=("plain",)).get_content()
    assert "is now: Done" in by_recipient["bob@example.com"]["Subject"]
    assert f"{live_server}/community/changelog" in english and "2.3 版已上线" in english
    unsubscribe_link = re.search(r"<([^>]+)>", by_recipient["alice@example.com"]["List-Unsubscribe"]).group(1)
    assert unsubscribe_link.startswith(f"{live_server}/community/unsubscribe/")

    log = client_as(None).get("/api/v1/community/changelog").json()
    assert [(p["id"], p["changelog_note"]) for p in log] == [(post["id"], "设置里可切换深色模式")]


def test_staff_answer_as_the_brand_and_link_a_case(member_client, client_as, board, db):
    post = new_post(member_client("alice@example.com"), "导出报表经常失败")
    agent = client_as("agent")
    answered = agent.post(
        f"/api/v1/community/posts/{post['id']}/answers", json={"body": "我们正在排查，谢谢反馈"}
    )
    assert answered.status_code == 201
    shown = client_as(None).get(f"/api/v1/community/posts/{post['id']}").json()
    assert [(c["body"], c["as_brand"]) for c in shown["comments"]] == [("我们正在排查，谢谢反馈", True)]
    analyst = client_as("analyst")
    assert (
        analyst.post(f"/api/v1/community/posts/{post['id']}/links", json={"case_id": 999}).status_code == 422
    )
    plan = analyst.post("/api/v1/action-plans", json={"title": "修复导出", "theme": {"query": "导出"}})
    assert plan.status_code == 201, plan.text
    linked = analyst.post(f"/api/v1/community/posts/{post['id']}/links", json={"plan_id": plan.json()["id"]})
    assert linked.status_code == 200 and linked.json()["plan_id"] == plan.json()["id"]
    with db() as session:
        assert session.scalar(select(func.count()).where(AuditEntry.action == "community.link")) == 1


def test_sign_in_by_emailed_link_then_use_the_api(serve, settings, smtp_server, monkeypatch):
    monkeypatch.setitem(
        moderation.RATE_LIMITS,
        "sign_in",
        moderation.RateLimit(per_member=2, per_ip=100, window=timedelta(hours=1)),
    )
    with_mail = settings.model_copy(update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port})
    with serve(with_mail) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.post("/api/v1/community/sign-in", json={"email": "not-an-address"}).status_code == 422
        sent = http.post("/api/v1/community/sign-in", json={"email": "Mei@Example.com", "language": "en"})
        assert sent.status_code == 202
        [mail] = smtp_server.messages
        assert mail["To"] == "mei@example.com"
        path = re.search(
            r"https?://[^/\s]+(/community/auth/\S+)", mail.get_body(("plain",)).get_content()
        ).group(1)
        assert http.get("/api/v1/community/me").status_code == 401
        assert http.get(path).status_code == 200  # asks first: a mail scanner opening it signs nobody in
        signed = http.post(path)
        assert signed.status_code == 303 and MEMBER_COOKIE in signed.cookies
        me = http.get("/api/v1/community/me").json()
        assert me["language"] == "en" and me["csrf_token"]
        assert http.post(path).status_code == 400  # single use
        http.post("/api/v1/community/sign-in", json={"email": "mei@example.com"})
        limited = http.post("/api/v1/community/sign-in", json={"email": "mei@example.com"})
        assert limited.status_code == 429 and len(smtp_server.messages) == 2


def test_sign_in_without_smtp_says_why(client_as):
    refused = client_as(None).post("/api/v1/community/sign-in", json={"email": "mei@example.com"})
    assert refused.status_code == 409 and "CLOSELOOP_SMTP_HOST" in refused.json()["detail"]
