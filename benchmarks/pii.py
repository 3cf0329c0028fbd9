"""PII detection: speed on ~20k generated zh/en feedback texts, recall/precision on a generated labelled set,
and what it finds in real review texts (which should hold almost no personal data).

    .venv/bin/python benchmarks/pii.py [--texts 20000] [--labelled 5000] [--seed 7]

All labelled figures are on SYNTHETIC text: the generator below and the detector were written by the same
person, so they show the detector does what it was designed to do, not how it fares on real users'
writing. About 15% of landlines, Chinese and English addresses are generated in forms the detector
documents as out of reach (a landline with no separator and no phone word before it, an address
with no city/district or in lower case), so those recalls show that cost.
The real-review section counts detections on the development sets in /work/shared/data (no
labels there: every hit is either a true find or a false positive; examples are printed to judge).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from closeloop.privacy.pii import KINDS, find_pii, id_check_char, redact

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
console = Console()

# --- generated personal data (made up: computed check digits, invented names) ---------------------------


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _luhn_complete(prefix: str) -> str:
    total = 0
    for position, char in enumerate(reversed(prefix)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return prefix + str((10 - total % 10) % 10)


def _mobile(rng: random.Random) -> str:
    number = "1" + rng.choice("3456789") + _digits(rng, 9)
    style = rng.randrange(6)
    if style == 1:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if style == 2:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if style == 3:
        return "+86 " + number
    if style == 4:
        return "".join(chr(ord(c) + 0xFEE0) for c in number)  # full-width digits
    return number


def _landline(rng: random.Random) -> str:
    area = rng.choice(["010", "021", "022", "023", "020", "0755", "0571", "0512"])
    local = rng.choice("2345678") + _digits(rng, 7 if len(area) == 3 else rng.choice([6, 7]))
    if rng.random() < 0.15:
        return area + local  # no separator: found only after a phone word (座机 yes, "number" no)
    if rng.random() < 0.3:
        return f"({area}) {local[:-4]} {local[-4:]}"
    return f"{area}-{local}"


def _id_card(rng: random.Random) -> str:
    region = rng.choice(["110105", "310115", "440305", "330106", "510104", "620102"])
    birth = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = region + birth + _digits(rng, 3)
    return first17 + id_check_char(first17)


def _bank_card(rng: random.Random) -> str:
    prefix, length = rng.choice([("622202", 19), ("621700", 16), ("4", 16), ("52", 16), ("9", 16)])
    number = _luhn_complete(prefix + _digits(rng, length - len(prefix) - 1))
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4)) if rng.random() < 0.4 else number


def _email(rng: random.Random) -> str:
    user = rng.choice(["zhangsan", "li.si", "wang_wu", "chen88", "customer", "j.doe", "amy+shop"])
    domain = rng.choice(["qq.com", "163.com", "example.com", "mail.example.cn", "gmail.com"])
    at = "＠" if rng.random() < 0.1 else "@"
    return f"{user}{rng.randint(1, 999)}{at}{domain}"


def _wechat(rng: random.Random) -> str:
    return rng.choice(["zhang", "lisi", "wang_wu", "xiaomei", "chen"]) + "_" + _digits(rng, rng.randint(2, 5))


def _qq(rng: random.Random) -> str:
    return rng.choice("123456789") + _digits(rng, rng.randint(5, 9))


_ZH_PLACES = [
    ("广东省", "深圳市", "南山区"),
    ("", "北京市", "朝阳区"),
    ("浙江省", "杭州市", "西湖区"),
    ("", "上海", "浦东新区"),
]
_ZH_STREETS = ["科技园路", "建国路", "文三路", "张江路", "中山大道", "解放街"]


def _zh_address(rng: random.Random) -> str:
    province, city, district = rng.choice(_ZH_PLACES)
    if rng.random() < 0.15:
        province = city = district = ""  # street only: documented as not detected
    detail = rng.choice(["", f"{rng.randint(1, 20)}栋{rng.randint(1, 4)}单元{rng.randint(101, 2502)}室"])
    return f"{province}{city}{district}{rng.choice(_ZH_STREETS)}{rng.randint(1, 999)}号{detail}"


def _en_address(rng: random.Random) -> str:
    street = rng.choice(["Baker Street", "Main St", "Oak Avenue", "Sunset Blvd", "Park Lane", "Elm Road"])
    unit = rng.choice(["", f", Apt {rng.randint(1, 40)}", f" Suite {rng.randint(100, 900)}"])
    address = f"{rng.randint(1, 9999)} {street}{unit}"
    return address.lower() if rng.random() < 0.15 else address  # lower case: documented as not detected


# (kind, value maker, zh sentence template, en sentence template)
_PII_SENTENCES: list[tuple[str, Callable[[random.Random], str], str, str]] = [
    ("mobile", _mobile, "快递一直没到，我的手机{}，麻烦回电", "Please call me on {} about the refund"),
    ("phone", _landline, "门店座机{}一直打不通", "The store number {} never answers"),
    ("id_card", _id_card, "实名认证一直失败，身份证号{}", "Verification fails for my ID {}"),
    ("bank_card", _bank_card, "退款请退到银行卡{}", "I was charged twice on card {}"),
    ("email", _email, "发票发到邮箱{}就行", "Send the invoice to {} please"),
    ("wechat", _wechat, "有问题加我微信号：{}", "My WeChat ID: {} if you need anything"),
    ("qq", _qq, "联系我QQ号{}", "Add me on QQ {} for details"),
    ("address", _zh_address, "请寄到{}，谢谢", ""),
    ("address", _en_address, "", "Please ship to {} instead"),
]
_FILLER_ZH = [
    "味道不错，送餐很快。",
    "包装有点破，汤洒了。",
    "客服态度很好。",
    "价格偏贵，但质量可以。",
    "物流太慢了！",
]
_FILLER_EN = ["Great food, fast delivery.", "The box was damaged.", "Support was helpful.", "Too expensive."]


def _date(rng: random.Random) -> str:
    return f"{rng.randint(2019, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _hard_negative(rng: random.Random, chinese: bool) -> str:
    """Text that looks like PII and is not: order numbers, prices, dates, model numbers, bad checksums."""
    card = _luhn_complete("4" + _digits(rng, 14))
    first17 = "110105199003071" + _digits(rng, 2)
    wrong_id = first17 + ("0" if id_check_char(first17) != "0" else "1")
    choices_zh = [
        f"订单号{rng.choice(['2023', '2024'])}{_digits(rng, 14)}一直没发货",
        f"订单号：{card}",
        f"快递单号 SF{_digits(rng, 12)}",
        f"价格{rng.randint(100, 9999)}元，{_date(rng)}到货",
        f"型号SM-G{rng.randint(9000, 9999)}，RTX{rng.randint(3000, 4090)}",
        f"身份证 {wrong_id} 填错了",
        "我在北京出差，送到小区门口就行",
        f"发票代码{_digits(rng, 12)}",
    ]
    choices_en = [
        f"Order #{card} still not shipped",
        f"tracking number {_digits(rng, 15)}",
        f"Paid ${rng.randint(10, 999)} on {_date(rng)}",
        f"The RTX {rng.randint(3000, 4090)} arrived, model XPS13-{rng.randint(9000, 9999)}",
        "the 5 hour drive was fine, wechat is terrible",
    ]
    return rng.choice(choices_zh if chinese else choices_en)


def generate(rng: random.Random, count: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """``count`` synthetic feedback texts with their PII labels (kind, exact value)."""
    texts = []
    for _ in range(count):
        chinese = rng.random() < 0.6
        filler = _FILLER_ZH if chinese else _FILLER_EN
        parts = [rng.choice(filler)]
        labels: list[tuple[str, str]] = []
        roll = rng.random()
        if roll < 0.35:
            kind, make, zh, en = rng.choice([s for s in _PII_SENTENCES if (s[2] if chinese else s[3])])
            value = make(rng)
            parts.append((zh if chinese else en).format(value))
            labels.append((kind, value))
        elif roll < 0.55:
            parts.append(_hard_negative(rng, chinese))
        if rng.random() < 0.5:
            parts.append(rng.choice(filler))
        texts.append(((" " if not chinese else "").join(parts), labels))
    return texts


# --- measurement ---------------------------------------------------------------------------------------


def texts_per_second(function: Callable[[str], object], texts: list[str], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for text in texts:
            function(text)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def score(labelled: list[tuple[str, list[tuple[str, str]]]]) -> Table:
    expected: Counter[str] = Counter()
    found: Counter[str] = Counter()
    exact: Counter[str] = Counter()
    covered: Counter[str] = Counter()
    for text, labels in labelled:
        spans = find_pii(text)
        found.update(span.kind for span in spans)
        predicted = {(span.kind, span.text) for span in spans}
        for kind, value in labels:
            expected[kind] += 1
            exact[kind] += (kind, value) in predicted
            start = text.index(value)
            covered[kind] += any(s.start <= start and start + len(value) <= s.end for s in spans)
    table = Table(title="SYNTHETIC labelled set (generated; optimistic by construction)")
    for column in (
        "kind",
        "labelled",
        "found",
        "recall (exact span+kind)",
        "redacted (covered)",
        "precision",
    ):
        table.add_column(column, justify="right")
    for kind in (*KINDS, "all"):
        n = sum(expected.values()) if kind == "all" else expected[kind]
        f = sum(found.values()) if kind == "all" else found[kind]
        e = sum(exact.values()) if kind == "all" else exact[kind]
        c = sum(covered.values()) if kind == "all" else covered[kind]
        table.add_row(
            kind,
            str(n),
            str(f),
            f"{e / n:.3f}" if n else "-",
            f"{c / n:.3f}" if n else "-",
            f"{e / f:.3f}" if f else "-",
        )
    return table


def _masked(value: str) -> str:
    """``value`` with all but its first and last two characters replaced by *."""
    return value[:2] + "*" * max(0, len(value) - 4) + value[-2:] if len(value) > 4 else "*" * len(value)


def real_review_hits(limit_examples: int = 4) -> None:
    sources = [
        DATA / "waimai_10k" / "dev.csv",
        DATA / "online_shopping_10_cats" / "dev.csv",
        DATA / "zhijiang2019_ecommerce_absa" / "dev.csv",
        DATA / "uci_sentiment_labelled_sentences" / "dev.csv",
    ]
    texts: list[str] = []
    for path in sources:
        if path.exists():
            with path.open(encoding="utf-8", newline="") as handle:
                texts.extend(row["text"] for row in csv.DictReader(handle))
    if not texts:
        console.print("real reviews: /work/shared/data not found, skipped")
        return
    hits: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    started = time.perf_counter()
    for text in texts:
        for span in find_pii(text):
            hits[span.kind] += 1
            if len(examples.setdefault(span.kind, [])) < limit_examples:
                # Real people's data may be in public reviews: show only a masked form of what was found.
                masked = _masked(span.text)
                window = text[max(0, span.start - 12) : span.start] + masked + text[span.end : span.end + 12]
                examples[span.kind].append("…" + window.replace("\n", " ") + "…")
    elapsed = time.perf_counter() - started
    console.print(
        f"\nreal reviews (dev sets, no PII labels): {len(texts)} texts, {len(texts) / elapsed:,.0f} texts/s; "
        f"detections by kind: {dict(hits) or 'none'}",
        highlight=False,
    )
    for kind, lines in examples.items():
        for line in lines:
            console.print(f"  {kind}: {line}", highlight=False, markup=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--texts", type=int, default=20_000, help="generated texts to time")
    parser.add_argument("--labelled", type=int, default=5_000, help="generated labelled texts to score")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    corpus = [text for text, _ in generate(rng, args.texts)]
    with_pii = sum(1 for text in corpus if find_pii(text))
    lengths = sorted(map(len, corpus))
    console.print(
        f"SYNTHETIC feedback: {len(corpus)} generated zh/en texts "
        f"(median {lengths[len(lengths) // 2]} chars, "
        f"{with_pii} with PII found); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        highlight=False,
    )
    console.print(f"find_pii: {texts_per_second(find_pii, corpus):,.0f} texts/s (best of 3)", highlight=False)
    console.print(f"redact:   {texts_per_second(redact, corpus):,.0f} texts/s (best of 3)", highlight=False)
    labelled = generate(random.Random(args.seed + 1), args.labelled)
    console.print(score(labelled))
    real_review_hits()


if __name__ == "__main__":
    main()
