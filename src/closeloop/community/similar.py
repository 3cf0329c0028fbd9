"""Similar posts for a draft: shown before posting so customers vote on an existing post instead of
opening a duplicate. Pure: texts in, ranked matches out.

Texts are compared the way the analysis engine's near-duplicate search compares feedback
(``analysis.topics.duplicate_key`` normalisation, character n-gram TF-IDF cosine), and by how many of the
draft's key words (``analysis.topics.feedback_terms``: jieba words and word pairs) a post contains, which
catches a short draft ("能不能加个深色模式") against a long post. A match the engine's ``near_duplicates``
would group with the draft is flagged ``likely_duplicate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from closeloop.analysis.topics import duplicate_key, feedback_terms, near_duplicates

SUGGEST_THRESHOLD = 0.34
SUGGEST_LIMIT = 5


@dataclass(frozen=True, slots=True)
class SimilarPost:
    """A post like the draft: its id, cosine similarity and whether it is very likely the same thing."""

    post_id: int
    score: float
    likely_duplicate: bool


def similar_posts(
    draft: str,
    posts: Sequence[tuple[int, str]],
    *,
    limit: int = SUGGEST_LIMIT,
    threshold: float = SUGGEST_THRESHOLD,
) -> list[SimilarPost]:
    """The ``posts`` (id, text) most like ``draft``, best first, at most ``limit``, each at least
    ``threshold`` similar; empty for an empty draft or no posts."""
    draft_key = duplicate_key(draft)
    keyed = [(post_id, duplicate_key(text)) for post_id, text in posts]
    keyed = [(post_id, key) for post_id, key in keyed if key]
    if not draft_key or not keyed:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit_transform(
        [draft_key, *(key for _, key in keyed)]
    )
    cosines = (vectors[1:] @ vectors[0].T).toarray().ravel()
    texts = dict(posts)
    scores = [
        max(float(cosine), term_coverage(draft, texts[post_id]))
        for (post_id, _), cosine in zip(keyed, cosines, strict=True)
    ]
    groups = near_duplicates([draft, *(text for _, text in posts)])
    duplicates = {member - 1 for group in groups if 0 in group.members for member in group.members if member}
    duplicate_ids = {posts[index][0] for index in duplicates}
    ranked = sorted(
        (
            SimilarPost(post_id, round(float(score), 4), post_id in duplicate_ids)
            for (post_id, _), score in zip(keyed, scores, strict=True)
            if score >= threshold or post_id in duplicate_ids
        ),
        key=lambda match: (-match.likely_duplicate, -match.score, match.post_id),
    )
    return ranked[:limit]


def term_coverage(draft: str, text: str) -> float:
    """The share of the draft's key words and word pairs that ``text`` also has (0 when it has none)."""
    wanted = set(feedback_terms(draft))
    if not wanted:
        return 0.0
    return len(wanted & set(feedback_terms(text))) / len(wanted)
