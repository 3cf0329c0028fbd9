"""Emerging topics, near-duplicates and uncovered feedback (closeloop.analysis.topics)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from scipy import sparse

from closeloop.analysis.topics import (
    DuplicateGroup,
    Topic,
    duplicate_key,
    feedback_terms,
    find_topics,
    minhash_signatures,
    near_duplicates,
    topic_phrases,
    uncovered,
)

PACKAGING = [
    "包装破损，杯子碎了",
    "快递箱子压坏了，包装破损严重",
    "外包装破损，里面的盘子碎了两个",
    "包装太简陋了，收到时包装破损",
    "包装破损，瓶子漏液了",
    "箱子里没有泡沫，包装破损，碗碎了",
    "收到包装破损，玻璃壶碎了",
    "包装破损漏液，其他东西都弄脏了",
]
DELIVERY = [
    "物流太慢了，一个星期还没到",
    "快递十天了还没送到，物流太慢",
    "物流信息一直不更新，太慢了",
    "等了两周物流才到，慢得离谱",
    "物流慢，催了客服也没用",
    "发货后物流停了五天不动，太慢",
    "物流速度太慢了，再也不买了",
    "物流慢死了，节前下单现在还没到",
]
LOGIN = [
    "The app keeps crashing when I log in",
    "Cannot log in to the app after the update",
    "App login fails every time, it says network error",
    "I never get the verification code so I cannot log in to the app",
    "After updating the app I cannot log in anymore",
    "The app crashes on the login screen",
    "Login to the app is broken since version 3.2",
    "App will not let me log in, stuck on loading",
]
THEMES = {"packaging": PACKAGING, "delivery": DELIVERY, "login": LOGIN}


def themed_texts(seed: int = 3) -> tuple[list[str], list[str]]:
    """The three themes shuffled together, with the theme of each text."""
    pairs = [(text, theme) for theme, texts in THEMES.items() for text in texts]
    random.Random(seed).shuffle(pairs)
    return [text for text, _ in pairs], [theme for _, theme in pairs]


# --- find_topics -------------------------------------------------------------------------------------


def test_topics_recover_three_planted_themes():
    texts, truth = themed_texts()
    topics = find_topics(texts, min_size=4, max_topics=3)
    assert len(topics) == 3
    found = set()
    for topic in topics:
        themes = Counter(truth[i] for i in topic.members)
        theme, count = themes.most_common(1)[0]
        assert count / topic.size >= 0.75, (topic, themes)
        found.add(theme)
    assert found == set(THEMES)


def test_topic_fields_are_consistent():
    texts, _ = themed_texts()
    topics = find_topics(texts, min_size=4, max_topics=3)
    assert [topic.id for topic in topics] == list(range(1, len(topics) + 1))
    assert [topic.size for topic in topics] == sorted((topic.size for topic in topics), reverse=True)
    seen: set[int] = set()
    for topic in topics:
        assert isinstance(topic, Topic)
        assert topic.size == len(topic.members) >= 4
        assert topic.members == sorted(topic.members)
        assert 1 <= len(topic.examples) <= 5
        assert set(topic.examples) <= set(topic.members)
        assert not seen & set(topic.members), "a text belongs to one topic at most"
        seen |= set(topic.members)
        assert topic.phrases


def test_topic_phrases_name_the_theme_and_language():
    texts, truth = themed_texts()
    by_theme = {}
    for topic in find_topics(texts, min_size=4, max_topics=3):
        theme = Counter(truth[i] for i in topic.members).most_common(1)[0][0]
        by_theme[theme] = topic
    assert any("包装" in phrase or "破损" in phrase for phrase in by_theme["packaging"].phrases[:3])
    assert any("物流" in phrase or "慢" in phrase for phrase in by_theme["delivery"].phrases[:3])
    assert any("app" in phrase or "log" in phrase for phrase in by_theme["login"].phrases[:3])
    assert by_theme["packaging"].language == "zh"
    assert by_theme["login"].language == "en"


def test_topics_are_deterministic_for_a_seed():
    texts, _ = themed_texts()
    first = find_topics(texts, min_size=4, max_topics=3, seed=5)
    second = find_topics(texts, min_size=4, max_topics=3, seed=5)
    assert [t.members for t in first] == [t.members for t in second]


def test_texts_without_words_never_join_a_topic():
    texts, _ = themed_texts()
    blanks = ["", "   ", "😡😡", "!!!", "123"]
    topics = find_topics(texts + blanks, min_size=4, max_topics=3)
    members = {i for topic in topics for i in topic.members}
    assert members and not members & set(range(len(texts), len(texts) + len(blanks)))


def test_max_topics_and_min_size_are_respected():
    texts, _ = themed_texts()
    assert len(find_topics(texts, min_size=4, max_topics=2)) <= 2
    assert all(topic.size >= 7 for topic in find_topics(texts, min_size=7, max_topics=3))


@pytest.mark.parametrize("texts", [[], ["只有一条反馈"], ["包装破损", "物流太慢"]])
def test_too_few_texts_give_no_topics(texts):
    assert find_topics(texts, min_size=5) == []


def test_topics_use_given_embeddings():
    rng = np.random.default_rng(0)
    directions = np.eye(3, 16)
    truth = [k for k in range(3) for _ in range(10)]
    vectors = directions[truth] + rng.normal(0, 0.05, (30, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # The words are all the same, so only the embeddings can separate the groups.
    texts = ["同样的一句反馈 same words"] * 30
    topics = find_topics(texts, min_size=5, max_topics=3, embeddings=vectors)
    assert len(topics) == 3
    for topic in topics:
        assert len({truth[i] for i in topic.members}) == 1


def test_mismatched_embeddings_are_refused():
    with pytest.raises(ValueError, match="embeddings"):
        find_topics(["a", "b"], embeddings=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="embeddings"):
        near_duplicates(["a", "b"], embeddings=np.zeros((1, 4)))


# --- phrases -----------------------------------------------------------------------------------------


def test_feedback_terms_segment_chinese_and_pair_words_within_clauses():
    terms = feedback_terms("包装破损严重，盒子开裂。The bottles leaked badly!")
    assert {"包装", "破损", "包装破损", "盒子", "开裂", "盒子开裂"} <= set(terms)
    assert {"bottles", "leaked", "bottles leaked"} <= set(terms)
    assert "破损盒子" not in terms, "pairs do not cross a comma"
    assert "the" not in terms and "的" not in feedback_terms("我的杯子")


def test_topic_phrases_prefer_distinctive_terms():
    groups = [
        ["物流太慢了", "物流慢，还没到", "物流好慢"],
        ["包装破损，杯子碎了", "包装破损，碗碎了", "包装破损了"],
    ]
    first, second = topic_phrases(groups)
    assert first[0].startswith("物流")
    assert second[0] == "包装破损", "the word pair replaces its words when it carries them"


# --- uncovered -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        ([["packaging"], [], ["logistics", "price"], []], [1, 3]),
        ([[], [], [], []], [0, 1, 2, 3]),
        ([["a"], ["b"], ["c"], ["d"]], []),
    ],
)
def test_uncovered_picks_texts_without_category(categories, expected):
    assert uncovered(["包装破损", "新口味什么时候出", "太贵了", "Add a dark mode"], categories) == expected


def test_uncovered_skips_blank_texts_and_checks_lengths():
    assert uncovered(["", "😡", "想要新颜色"], [[], [], []]) == [2]
    with pytest.raises(ValueError):
        uncovered(["a"], [])


# --- near-duplicates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("包装破损，杯子碎了！", "包装破损 杯子碎了😡"),
        ("The BOX was crushed.", "the box was crushed"),
        ("ＡＢＣ牌子很好", "abc牌子很好"),
    ],
)
def test_duplicate_key_ignores_case_width_punctuation_and_emoji(first, second):
    assert duplicate_key(first) == duplicate_key(second) != ""


def test_near_duplicates_group_rewordings_and_leave_distinct_texts_alone():
    texts = [
        "快递员态度很差，包裹直接扔在门口，东西都摔坏了",  # 0
        "物流很快，第二天就到了，好评",  # 1
        "快递员态度很差，包裹直接扔在门口，东西都摔坏了！！！😡",  # 2 punctuation + emoji
        "快递员态度太差，包裹直接扔门口，东西都摔坏了",  # 3 a word swapped, one dropped
        "The blender stopped working after two weeks and support never replied",  # 4
        "the blender stopped working after 2 weeks and support never replied!",  # 5
        "Great blender, makes smoothies in seconds",  # 6
        "东西都摔坏了，快递员态度很差，包裹直接扔在门口",  # 7 clauses reordered
    ]
    groups = near_duplicates(texts)
    assert sorted(sorted(group.members) for group in groups) == [[0, 2, 3, 7], [4, 5]]
    for group in groups:
        assert isinstance(group, DuplicateGroup)
        assert group.representative in group.members


def test_a_strict_threshold_keeps_only_exact_rewrites():
    texts = ["包装破损，杯子碎了", "包装破损,杯子碎了!", "包装有点破损，杯子碎了一个"]
    assert [g.members for g in near_duplicates(texts, threshold=0.99)] == [[0, 1]]


def test_embeddings_can_veto_a_character_match_but_not_an_exact_one():
    texts = ["这个杯子质量很好", "这个杯子质量很好！", "这个杯子质量不好"]
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    without = near_duplicates(texts, threshold=0.5)
    assert [g.members for g in without] == [[0, 1, 2]]
    with_embeddings = near_duplicates(texts, threshold=0.5, embeddings=vectors)
    assert [g.members for g in with_embeddings] == [[0, 1]]


def test_near_duplicates_handle_empty_and_blank_inputs():
    assert near_duplicates([]) == []
    assert near_duplicates(["", "", "!!!"]) == []
    assert near_duplicates(["一样", "一样"]) == [DuplicateGroup(members=[0, 1], representative=0)]


def test_near_duplicates_on_many_texts_find_planted_pairs():
    rng = random.Random(0)
    words = [
        "物流",
        "包装",
        "客服",
        "质量",
        "价格",
        "颜色",
        "尺码",
        "味道",
        "屏幕",
        "电池",
        "很好",
        "太差",
        "一般",
    ]
    texts = ["".join(rng.choices(words, k=8)) for _ in range(3000)]
    planted = {(i, 3000 + n) for n, i in enumerate(range(0, 3000, 100))}
    texts += [texts[i] + "！！" for i, _ in sorted(planted)]
    groups = near_duplicates(texts, threshold=0.95)
    found = {tuple(g.members) for g in groups if len(g.members) == 2}
    assert planted <= found


def test_minhash_agreement_estimates_jaccard_similarity():
    rows = [set(range(100)), set(range(50, 150)), set(range(1000, 1100))]
    matrix = sparse.csr_matrix(
        (
            [1] * 300,
            ([r for r, row in enumerate(rows) for _ in row], [c for row in rows for c in sorted(row)]),
        ),
        shape=(3, 2000),
    )
    signatures = minhash_signatures(matrix, hashes=512)
    agreement = (signatures[0] == signatures[1]).mean()
    assert abs(agreement - 50 / 150) < 0.08
    assert (signatures[0] == signatures[2]).mean() < 0.02
