"""The community portal in a real headless Chromium (phone-sized): a customer signs in with the link e-mailed
to a real local SMTP server, starts a post and sees the similar existing post suggested while typing, votes
for it; staff set that post to "done" and the customer receives the notification with the changelog link;
then the customer publishes a post of their own (no-JS confirm step), staff merge it into the first and the
votes add up, each member counted once. Screenshots are saved under ``test-artifacts/``."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from closeloop.community.members import find_or_create_member
from closeloop.community.notifications import send_status_notifications
from closeloop.community.posts import create_board, create_post, vote
from closeloop.notify.mailer import SmtpMailer
from closeloop.store.models import CommunityPost

PASSWORD = "correct horse battery staple"  # the password conftest gives every account
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CUSTOMER = "mei@example.com"


def seed(db) -> int:
    """A board with one existing post (by another member, with one vote); returns the post's id."""
    with db() as session:
        board = create_board(session, slug="app", name_zh="应用建议", name_en="App ideas")
        author = find_or_create_member(session, "early@example.com")
        post = create_post(
            session,
            board=board,
            member=author,
            kind="suggestion",
            title="希望App支持深色模式",
            body="晚上看屏幕太刺眼",
        )
        vote(session, post, author)
        session.commit()
        return post.id


def mailed_link(smtp_server, to: str, path_prefix: str) -> str:
    """The path of the first link starting with ``path_prefix`` in the newest e-mail to ``to``."""
    mail = [m for m in smtp_server.messages if m["To"] == to][-1]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    return re.search(rf"https?://[^/\s]+({re.escape(path_prefix)}\S*)", text).group(1)


def test_post_vote_get_notified_and_merge(browser, serve, settings, db, make_account, smtp_server):
    existing = seed(db)
    make_account("analyst", email="staff@example.com")
    ARTIFACTS.mkdir(exist_ok=True)
    with_mail = settings.model_copy(update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port})
    with serve(with_mail) as base:
        customer = browser.new_context(**PHONE, locale="zh-CN")
        staff = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
        try:
            page = customer.new_page()
            # Sign in by e-mail link, landing back on the board.
            page.goto(f"{base}/community/b/app")
            page.click("#new-post")
            assert "/community/sign-in" in page.url
            page.fill("#email", CUSTOMER)
            page.click("#send-link")
            assert page.locator("#message").inner_text() == "登录链接已发送"
            page.goto(base + mailed_link(smtp_server, CUSTOMER, "/community/auth/"))
            page.click("#confirm")
            page.wait_for_url("**/community/new?board=app")

            # Typing a title suggests the similar existing post (live, via the similar-posts API).
            page.fill("#title", "能不能加个深色模式")
            suggestion = page.locator("#similar a.similar-post")
            suggestion.wait_for()
            assert "希望App支持深色模式" in suggestion.inner_text()
            page.screenshot(path=str(ARTIFACTS / "community-similar-suggested.png"), full_page=True)

            # Vote for it instead of posting a duplicate.
            suggestion.click()
            page.wait_for_url(f"**/community/p/{existing}")
            assert page.locator("#vote-count").inner_text() == "1"
            page.click("#vote")
            page.wait_for_load_state()
            assert page.locator("#vote-count").inner_text() == "2"
            assert page.locator("#vote").inner_text() == "取消投票"

            # Staff sign in and set the post to done with a reason and what changed.
            desk = staff.new_page()
            desk.goto(f"{base}/login?next=/community/p/{existing}")
            desk.fill("input[name=email]", "staff@example.com")
            desk.fill("input[name=password]", PASSWORD)
            desk.click("#login button[type=submit]")
            desk.wait_for_url(f"**/community/p/{existing}")
            desk.select_option("#status", "done")
            desk.fill("#reason", "2.3 版已上线")
            desk.fill("#changelog_note", "在「设置 → 外观」里切换深色模式")
            desk.click("#set-status")
            desk.wait_for_load_state()
            assert desk.locator("#post-status").inner_text() == "已完成"

            # The background job's run: the voter (our customer) gets the e-mail, linking the changelog.
            before = len(smtp_server.messages)
            run = send_status_notifications(
                db, SmtpMailer(host=smtp_server.host, port=smtp_server.port), public_url=base
            )
            assert run.sent == 2  # the early author (follower and voter) and our customer (voter)
            received = [m for m in smtp_server.messages[before:] if m["To"] == CUSTOMER]
            assert len(received) == 1 and "已完成" in received[0]["Subject"]
            page.goto(base + mailed_link(smtp_server, CUSTOMER, "/community/changelog"))
            assert "希望App支持深色模式" in page.locator("main").inner_text()
            assert "在「设置 → 外观」里切换深色模式" in page.locator("main").inner_text()

            # The customer publishes a post of their own through the confirm step, and votes for it.
            page.goto(f"{base}/community/new?board=app")
            page.fill("#title", "夜间模式能不能跟随系统")
            page.click("#next")
            page.wait_for_load_state()
            page.click("#publish")
            page.wait_for_url("**/community/p/*")
            own = int(page.url.rsplit("/", 1)[1])
            page.click("#vote")
            page.wait_for_load_state()
            with db() as session:
                other = find_or_create_member(session, "third@example.com")
                vote(session, session.get(CommunityPost, own), other)
                session.commit()
            page.reload()
            assert page.locator("#vote-count").inner_text() == "2"

            # Staff merge it into the first post: 2 + 2 votes, the customer counted once = 3.
            desk.goto(f"{base}/community/p/{own}")
            desk.fill("#into", str(existing))
            desk.click("#merge")
            desk.wait_for_url(f"**/community/p/{existing}")
            assert desk.locator("#vote-count").inner_text() == "3"
            page.goto(f"{base}/community/p/{own}")
            assert page.url.endswith(f"/community/p/{existing}")
            page.screenshot(path=str(ARTIFACTS / "community-merged-post.png"), full_page=True)
            with db() as session:
                assert (
                    session.scalars(select(CommunityPost.merged_into_id).where(CommunityPost.id == own)).one()
                    == existing
                )
        finally:
            customer.close()
            staff.close()
