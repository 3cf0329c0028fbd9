"""Aspect-level sentiment: for each detected category, the polarity of what the feedback says about it.

Feedback is split into clauses (at punctuation and 但是/不过/but/however); each category gets the clauses
whose keywords mention it (the whole text when none does). The engine's ``clause_sentiment`` scores those
clauses, nudged by cue words a general sentiment model tends to miss for a given aspect (物流慢, 太贵,
漏液). After :meth:`AspectDetector.fit` a polarity classifier over the category's clauses joins in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder

from closeloop.analysis._matching import KeywordMatcher, feedback_clauses
from closeloop.analysis.taxonomy import Taxonomy, load_taxonomy, save_taxonomy

POLARITIES = ("positive", "neutral", "negative")
MODEL_FILE = "aspects.joblib"
TAXONOMY_FILE = "taxonomy.yaml"
META_FILE = "aspects.json"
FORMAT_VERSION = 1
# Aspect scores within this distance of 0 are neutral.
NEUTRAL_BAND = 0.1
# How far one cue word moves a clause score (clause scores run from -1 to 1).
CUE_WEIGHT = 0.5
# Weight of a trained polarity model against the clause-sentiment score.
MODEL_WEIGHT = 0.6
MIN_POLARITY_EXAMPLES = 10

# Evaluative words whose polarity is clear once we know the aspect but which general sentiment lexicons
# often miss. Written from domain knowledge; negation before a cue (不/没/not) flips it.
_POSITIVE_CUES_ZH = (
    "快",
    "及时",
    "神速",
    "给力",
    "便宜",
    "实惠",
    "划算",
    "超值",
    "值",
    "正品",
    "真品",
    "好闻",
    "清香",
    "完好",
    "严实",
    "精美",
    "结实",
    "耐心",
    "热情",
    "周到",
    "新鲜",
    "合身",
    "好用",
    "有效",
    "明显",
    "满意",
    "喜欢",
    "不错",
    "好",
)
_NEGATIVE_CUES_ZH = (
    "慢",
    "太久",
    "才到",
    "还没到",
    "贵",
    "不值",
    "假",
    "刺鼻",
    "难闻",
    "臭",
    "破损",
    "压坏",
    "压扁",
    "漏",
    "洒",
    "碎",
    "简陋",
    "敷衍",
    "不理",
    "差",
    "过期",
    "临期",
    "变质",
    "太小",
    "偏小",
    "太大",
    "偏大",
    "过敏",
    "没效果",
    "没用",
    "失望",
    "坑",
    "垃圾",
    "难用",
    "麻烦",
    "油腻",
    "少",
)
_POSITIVE_CUES_EN = (
    "fast",
    "quick",
    "quickly",
    "early",
    "cheap",
    "affordable",
    "worth",
    "authentic",
    "genuine",
    "lovely",
    "sturdy",
    "helpful",
    "friendly",
    "fresh",
    "fits",
    "works",
    "great",
    "good",
    "love",
    "perfect",
)
_NEGATIVE_CUES_EN = (
    "slow",
    "late",
    "delayed",
    "expensive",
    "overpriced",
    "fake",
    "counterfeit",
    "broken",
    "damaged",
    "leaked",
    "leaking",
    "crushed",
    "rude",
    "unhelpful",
    "stale",
    "expired",
    "small",
    "tight",
    "useless",
    "bad",
    "poor",
    "terrible",
    "awful",
    "never",
)
_NEGATORS_ZH = ("不", "没", "无", "未", "别")
_NEGATORS_EN = frozenset({"not", "no", "never", "isn't", "wasn't", "didn't", "doesn't", "don't", "aren't"})


def polarity_of(score: float, band: float = NEUTRAL_BAND) -> str:
    """positive / neutral / negative for a score in -1..1."""
    if score > band:
        return "positive"
    if score < -band:
        return "negative"
    return "neutral"


def cue_score(clause: str) -> float:
    """Sum of aspect cue polarities in a prepared clause (−n … n), negated cues flipped."""
    total = 0.0
    # 快递 (courier) holds 快 (fast) without praising anything.
    chinese = clause.replace("快递", "")
    for cues, sign in ((_POSITIVE_CUES_ZH, 1.0), (_NEGATIVE_CUES_ZH, -1.0)):
        for cue in cues:
            start = chinese.find(cue)
            if start < 0:
                continue
            before = chinese[max(0, start - 2) : start]
            negated = any(negator in before for negator in _NEGATORS_ZH)
            total += -sign if negated else sign
    words = clause.split()
    lowered = [word.strip(".,!?;:'\"()") for word in words]
    for position, word in enumerate(lowered):
        sign = 1.0 if word in _POSITIVE_CUES_EN else -1.0 if word in _NEGATIVE_CUES_EN else 0.0
        if sign and any(previous in _NEGATORS_EN for previous in lowered[max(0, position - 3) : position]):
            sign = -sign
        total += sign
    return total


class AspectDetector:
    """Gives each detected category of a feedback text a polarity: positive, neutral or negative."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.matcher = KeywordMatcher(taxonomy)
        self.vectorizer: TfidfVectorizer | None = None
        self.category_encoder: OneHotEncoder | None = None
        self.classifier: LogisticRegression | None = None

    @classmethod
    def default(cls, taxonomy: Taxonomy | None = None) -> AspectDetector:
        """An untrained detector: clause sentiment plus aspect cue words."""
        return cls(taxonomy if taxonomy is not None else load_taxonomy())

    @property
    def trained(self) -> bool:
        """True once :meth:`fit` has learned a polarity model."""
        return self.classifier is not None

    def category_clauses(self, text: str, category_ids: list[str]) -> dict[str, list[str]]:
        """For each category, the clauses of ``text`` that mention it (all clauses when none does)."""
        clause_hits = self.matcher.text_hits(text)
        all_clauses = [clause for clause, _hits in clause_hits]
        assigned: dict[str, list[str]] = {}
        for category_id in category_ids:
            mentioned = [clause for clause, hits in clause_hits if category_id in hits]
            assigned[category_id] = mentioned or all_clauses
        return assigned

    def fit(self, texts: list[str], aspects: list[list[tuple[str, str]]]) -> AspectDetector:
        """Learn aspect polarity from ``(category id or name, polarity)`` labels per text. Returns self.

        Unknown category names extend the taxonomy; labels with another polarity (e.g. "mixed") are skipped.
        """
        if len(texts) != len(aspects):
            raise ValueError(f"{len(texts)} texts but {len(aspects)} aspect lists")
        self.taxonomy = self.taxonomy.extend(name for row in aspects for name, _polarity in row)
        self.matcher = KeywordMatcher(self.taxonomy)
        contexts, categories, targets = [], [], []
        for text, row in zip(texts, aspects, strict=True):
            labelled = {
                category_id: polarity
                for name, polarity in row
                if polarity in POLARITIES and (category_id := self.taxonomy.resolve(name)) is not None
            }
            for category_id, clauses in self.category_clauses(text, list(labelled)).items():
                contexts.append(" ".join(clauses))
                categories.append(category_id)
                targets.append(labelled[category_id])
        self.vectorizer = self.category_encoder = self.classifier = None
        if len(targets) < MIN_POLARITY_EXAMPLES or len(set(targets)) < 2:
            return self
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
        self.category_encoder = OneHotEncoder(handle_unknown="ignore")
        features = sparse.hstack(
            [
                self.vectorizer.fit_transform(contexts),
                self.category_encoder.fit_transform(np.array(categories).reshape(-1, 1)),
            ],
            format="csr",
        )
        self.classifier = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2_000).fit(
            features, targets
        )
        return self

    def _model_scores(self, contexts: list[str], categories: list[str]) -> np.ndarray:
        """Signed polarity (P(positive) − P(negative)) from the trained model, one per context."""
        assert (
            self.vectorizer is not None and self.category_encoder is not None and self.classifier is not None
        )
        features = sparse.hstack(
            [
                self.vectorizer.transform(contexts),
                self.category_encoder.transform(np.array(categories).reshape(-1, 1)),
            ],
            format="csr",
        )
        probabilities = self.classifier.predict_proba(features)
        classes = list(self.classifier.classes_)
        positive = probabilities[:, classes.index("positive")] if "positive" in classes else 0.0
        negative = probabilities[:, classes.index("negative")] if "negative" in classes else 0.0
        return np.asarray(positive - negative, dtype=float).reshape(-1)

    def predict(
        self,
        texts: list[str],
        categories: list[list[str]],
        clause_sentiment: Callable[[list[str]], list[float]],
    ) -> list[list[tuple[str, str]]]:
        """Per text, ``(category id, polarity)`` for each of its categories that is in the taxonomy.

        ``clause_sentiment`` maps short texts to scores in −1…1; it is called once for the whole batch.
        """
        if len(texts) != len(categories):
            raise ValueError(f"{len(texts)} texts but {len(categories)} category lists")
        jobs: list[tuple[int, str, list[str]]] = []
        text_clauses: list[list[str]] = []
        for row, (text, category_ids) in enumerate(zip(texts, categories, strict=True)):
            known = [
                category_id for category_id in dict.fromkeys(category_ids) if category_id in self.taxonomy
            ]
            text_clauses.append(feedback_clauses(text) if known else [])
            for category_id, clauses in self.category_clauses(text, known).items():
                jobs.append((row, category_id, clauses))
        unique_clauses = list(dict.fromkeys(clause for clauses in text_clauses for clause in clauses))
        sentiment = _clause_scores(unique_clauses, clause_sentiment)

        def tone(clauses: list[str]) -> float:
            values = [float(np.clip(sentiment[c] + CUE_WEIGHT * cue_score(c), -1.0, 1.0)) for c in clauses]
            return float(np.mean(values)) if values else 0.0

        scores = []
        for row, _category_id, clauses in jobs:
            score = tone(clauses)
            # A clause naming the aspect without judging it ("收到了面膜") takes the tone of the whole text.
            scores.append(score if abs(score) > NEUTRAL_BAND else tone(text_clauses[row]) or score)
        if self.classifier is not None and jobs:
            model = self._model_scores(
                [" ".join(clauses) for _r, _c, clauses in jobs], [c for _r, c, _cl in jobs]
            )
            scores = [
                (1 - MODEL_WEIGHT) * score + MODEL_WEIGHT * float(m)
                for score, m in zip(scores, model, strict=True)
            ]
        results: list[list[tuple[str, str]]] = [[] for _ in texts]
        for (row, category_id, _clauses), score in zip(jobs, scores, strict=True):
            results[row].append((category_id, polarity_of(score)))
        return results

    def save(self, directory: Path) -> None:
        """Write the detector to ``directory`` (taxonomy YAML, joblib model, JSON summary)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_taxonomy(self.taxonomy, directory / TAXONOMY_FILE)
        joblib.dump(
            {
                "format_version": FORMAT_VERSION,
                "vectorizer": self.vectorizer,
                "category_encoder": self.category_encoder,
                "classifier": self.classifier,
            },
            directory / MODEL_FILE,
            compress=3,
        )
        summary = {"format_version": FORMAT_VERSION, "trained": self.trained}
        (directory / META_FILE).write_text(json.dumps(summary, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> AspectDetector:
        """Read a detector written by :meth:`save` (only load directories you trust: joblib is pickle)."""
        directory = Path(directory)
        detector = cls(load_taxonomy(directory / TAXONOMY_FILE))
        state = joblib.load(directory / MODEL_FILE)
        if state.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{directory / MODEL_FILE}: unsupported format {state.get('format_version')!r}")
        detector.vectorizer = state["vectorizer"]
        detector.category_encoder = state["category_encoder"]
        detector.classifier = state["classifier"]
        return detector


def _clause_scores(
    clauses: list[str], clause_sentiment: Callable[[list[str]], list[float]]
) -> dict[str, float]:
    """Clause → sentiment in −1…1; a wrong-length or non-numeric answer counts as neutral (0)."""
    if not clauses:
        return {}
    values = list(clause_sentiment(clauses))
    if len(values) != len(clauses):
        values = [0.0] * len(clauses)
    scores = {}
    for clause, value in zip(clauses, values, strict=True):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = 0.0
        scores[clause] = float(np.clip(number, -1.0, 1.0)) if np.isfinite(number) else 0.0
    return scores
