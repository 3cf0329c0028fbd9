"""The spam and abuse filter and the database-backed rate limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from closeloop.community.moderation import (
    RATE_LIMITS,
    RateLimitedError,
    banned_words_setting,
    check_rate,
    spam_reasons,
)


@pytest.mark.parametrize(
    ("text", "reasons"),
    [
        ("希望支持深色模式，晚上看屏幕太刺眼", []),
        ("Please add an export to Excel, see https://example.com/spec", []),
        ("看这里 http://a.top http://b.top http://c.top", ["links"]),
        ("加微信领红包，刷单日结", ["banned_word"]),
        ("THIS APP IS TERRIBLE FIX IT NOW", ["shouting"]),
        ("OK 👍", []),
        ("好" + "😀" * 11, ["emoji_flood"]),
        ("太差了" + "!" * 13, ["character_flood"]),
        ("VIAGRA CHEAP PILLS ONLINE", ["banned_word", "shouting"]),
    ],
)
def test_spam_reasons(text, reasons):
    assert spam_reasons(text) == reasons


def test_installation_banned_words_extend_the_defaults():
    extra = banned_words_setting("竞品A, 竞品B\n内部代号，")
    assert extra == ["竞品A", "竞品B", "内部代号"]
    assert spam_reasons("竞品b 更好用", banned_words=extra) == ["banned_word"]  # case-insensitive
    assert spam_reasons("竞品b 更好用") == []


def test_rate_limits_count_per_member_and_address_in_the_window(db):
    limit = RATE_LIMITS["post"]
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with db() as session:
        for n in range(limit.per_member):
            check_rate(session, "post", member_id=1, ip="10.0.0.1", now=start + timedelta(minutes=n))
        with pytest.raises(RateLimitedError) as refused:
            check_rate(session, "post", member_id=1, ip="10.0.0.2", now=start + timedelta(minutes=10))
        # The oldest act leaves the window an hour after it: 50 minutes from then.
        assert refused.value.retry_after == 50 * 60 + 1
        check_rate(session, "post", member_id=2, ip="10.0.0.2", now=start + timedelta(minutes=10))
        check_rate(
            session, "post", member_id=1, ip="10.0.0.1", now=start + limit.window + timedelta(minutes=1)
        )
        session.commit()


def test_an_address_is_limited_across_members(db):
    limit = RATE_LIMITS["vote"]
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with db() as session:
        for member in range(limit.per_ip):
            check_rate(session, "vote", member_id=member + 1, ip="10.9.9.9", now=now)
        with pytest.raises(RateLimitedError):
            check_rate(session, "vote", member_id=999, ip="10.9.9.9", now=now)


def test_prune_drops_old_rate_records_and_dead_links(db):
    from closeloop.community.members import find_or_create_member, issue_sign_in_link
    from closeloop.community.moderation import prune
    from closeloop.store.models import CommunityRateEvent, CommunityToken

    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with db() as session:
        check_rate(session, "post", member_id=1, ip=None, now=now - timedelta(hours=3))
        check_rate(session, "post", member_id=1, ip=None, now=now - timedelta(minutes=3))
        member = find_or_create_member(session, "mei@example.com")
        issue_sign_in_link(session, member, now=now - timedelta(hours=2))  # expired
        issue_sign_in_link(session, member, now=now)  # still valid
        assert prune(session, now=now) == 2
        assert len(session.scalars(select(CommunityRateEvent)).all()) == 1
        assert len(session.scalars(select(CommunityToken)).all()) == 1


def test_the_worker_runs_the_community_jobs(settings, db):
    from closeloop.jobs.worker import default_jobs

    names = {job.name for job in default_jobs(db, settings)}
    assert "community_prune" in names and "community_notifications" not in names  # no SMTP: no e-mail
    with_mail = settings.model_copy(update={"smtp_host": "127.0.0.1"})
    assert "community_notifications" in {job.name for job in default_jobs(db, with_mail)}
