"""The demo's community portal: two boards with posts, votes, an official answer, one post planned and
one shipped (on the changelog), so ``/community`` has something to show. Loaded once per database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.community.members import find_or_create_member
from closeloop.community.posts import answer_as_brand, create_board, create_post, follow, set_status, vote
from closeloop.store.models import CommunityBoard

BOARDS = (
    ("app", "App 与网站", "App and website", "功能建议和使用问题", "app"),
    ("delivery", "配送与包装", "Delivery and packaging", "物流、包装、售后", None),
)
# (board, kind, title, body, author, voters, status, reason, changelog note)
POSTS = (
    (
        "app",
        "suggestion",
        "希望App支持深色模式",
        "晚上看屏幕太刺眼",
        0,
        9,
        "done",
        "3.2 版已上线",
        "设置 → 外观 可切换深色模式",
    ),
    ("app", "suggestion", "订单列表能按时间筛选", "订单多了很难找", 1, 6, "planned", "排进下个版本", None),
    (
        "app",
        "problem",
        "Login code e-mail arrives late",
        "Sometimes 10 minutes",
        2,
        4,
        "under_review",
        "查看中",
        None,
    ),
    ("app", "suggestion", "Export my order history to Excel", "", 3, 2, None, None, None),
    (
        "delivery",
        "problem",
        "快递盒经常被压坏",
        "上个月两次收到压扁的盒子",
        4,
        7,
        "in_progress",
        "正在更换包装供应商",
        None,
    ),
    ("delivery", "suggestion", "希望可以预约送货时间", "白天上班不在家", 5, 3, None, None, None),
)
MEMBERS = 12


def load_demo_community(factory: sessionmaker[Session]) -> dict[str, int]:
    """Create the demo boards and posts unless the store has boards already; returns what was added."""
    with factory() as session:
        if session.scalars(select(CommunityBoard)).first() is not None:
            return {"boards": 0, "posts": 0}
        boards = {
            slug: create_board(
                session, slug=slug, name_zh=zh, name_en=en, description=about, product=product, position=n
            )
            for n, (slug, zh, en, about, product) in enumerate(BOARDS)
        }
        members = [
            find_or_create_member(session, f"member{n:02d}@demo.example", language="zh" if n % 3 else "en")
            for n in range(MEMBERS)
        ]
        for board, kind, title, body, author, voters, status, reason, note in POSTS:
            post = create_post(
                session, board=boards[board], member=members[author], kind=kind, title=title, body=body
            )
            for voter in members[:voters]:
                vote(session, post, voter)
            follow(session, post, members[-1])
            if status:
                answer_as_brand(session, post, staff_email="demo@closeloop.local", body=reason)
                change = set_status(
                    session, post, status, reason=reason, actor="demo@closeloop.local", changelog_note=note
                )
                change.notified_at = change.at  # demo members' addresses are not real: never e-mail them
        session.commit()
    return {"boards": len(BOARDS), "posts": len(POSTS)}
