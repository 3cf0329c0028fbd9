"""Similar-post suggestions for a draft: pure ranking over (id, text) pairs."""

from __future__ import annotations

import pytest

from closeloop.community.similar import similar_posts, term_coverage

POSTS = [
    (1, "希望App支持深色模式 晚上看屏幕太刺眼"),
    (2, "物流太慢了，三天才到"),
    (3, "Please add a dark mode to the app"),
    (4, "包装盒被压坏了"),
]


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        ("能不能加个深色模式", [1]),
        ("app dark mode please", [3]),
        ("物流太慢", [2]),
        ("价格太贵", []),
        ("", []),
    ],
)
def test_the_similar_post_is_found(draft, expected):
    assert [match.post_id for match in similar_posts(draft, POSTS)] == expected


def test_a_reworded_copy_is_flagged_a_likely_duplicate_and_ranked_first():
    [first, *_] = similar_posts("希望App支持深色模式，晚上看屏幕太刺眼！", POSTS)
    assert first.post_id == 1 and first.likely_duplicate and first.score == pytest.approx(1.0)


def test_limit_and_no_posts():
    many = [(n, f"希望支持深色模式 {n}") for n in range(1, 20)]
    assert len(similar_posts("深色模式", many, limit=3)) == 3
    assert similar_posts("深色模式", []) == []


def test_term_coverage_is_the_share_of_the_drafts_words_found():
    assert term_coverage("快递太慢", "快递太慢了") == pytest.approx(1.0)
    assert term_coverage("快递太慢", "包装很好") == 0.0
    assert term_coverage("!!!", "anything") == 0.0
