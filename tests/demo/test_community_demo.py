"""The demo's community portal: boards, posts with votes, one shipped post on the changelog; loaded once."""

from __future__ import annotations

from sqlalchemy import func, select

from closeloop.community.posts import changelog, list_posts
from closeloop.demo.community import POSTS, load_demo_community
from closeloop.store.models import CommunityStatusChange, FeedbackItem


def test_demo_community_loads_once(db):
    assert load_demo_community(db) == {"boards": 2, "posts": len(POSTS)}
    assert load_demo_community(db) == {"boards": 0, "posts": 0}
    with db() as session:
        top = list_posts(session)
        assert top[0].post.title == "希望App支持深色模式" and top[0].votes == 9
        assert [s.post.title for s in changelog(session)] == ["希望App支持深色模式"]
        pending = select(func.count()).where(CommunityStatusChange.notified_at.is_(None))
        assert session.scalar(pending) == 0  # nothing to e-mail to the demo's made-up addresses
        assert session.scalar(select(func.count()).where(FeedbackItem.channel == "community")) > len(POSTS)
