"""Reading speed and memory of the file readers alone (no database): rows/s and peak RSS growth.

    .venv/bin/python benchmarks/read_files.py [--rows N] [--encoding utf-8|gbk] [--format csv|jsonl|xlsx]

Target: ≥ 150,000 rows/s for a simple 5-column CSV and flat memory (the reader never holds the file).
Reported: rows/s for open_rows alone, and for open_rows + split_fields (what the importer does per row).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import time
from pathlib import Path

import psutil

from closeloop.collect.files import open_rows, resolve_mapping, split_fields

PHRASES = [
    "物流很快",
    "包装有点破损",
    "客服态度很好",
    "质量不错",
    "价格偏贵",
    "用了两天就坏了",
    "性价比高",
    "fast delivery",
    "poor quality",
    "love it",
]
HEADER = ["评价ID", "评论内容", "评分", "评论时间", "买家昵称"]


def review_rows(count: int, seed: int = 1) -> list[list[object]]:
    """Synthetic 5-column review rows (id, text, rating, time, nickname)."""
    rng = random.Random(seed)
    return [
        [
            f"R{i:08d}",
            "，".join(rng.sample(PHRASES, 3)),
            rng.randint(1, 5),
            f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 10:15:00",
            f"买家{rng.randint(1, 99999)}",
        ]
        for i in range(count)
    ]


def write_file(path: Path, fmt: str, rows: int, encoding: str) -> None:
    chunk = review_rows(10_000)  # repeated so generating 1M rows stays quick
    if fmt == "csv":
        with path.open("w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for start in range(0, rows, len(chunk)):
                writer.writerows(chunk[: rows - start])
    elif fmt == "jsonl":
        with path.open("w", encoding="utf-8") as handle:
            for start in range(0, rows, len(chunk)):
                for row in chunk[: rows - start]:
                    handle.write(json.dumps(dict(zip(HEADER, row, strict=True)), ensure_ascii=False) + "\n")
    else:
        import openpyxl

        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(HEADER)
        for start in range(0, rows, len(chunk)):
            for row in chunk[: rows - start]:
                sheet.append(row)
        workbook.save(path)


def measure(path: Path, *, with_split: bool) -> tuple[int, float, float]:
    """(rows, seconds, RSS growth in MB) for reading the whole file."""
    process = psutil.Process()
    before = process.memory_info().rss
    peak = before
    started = time.perf_counter()
    count = 0
    with open_rows(path) as source:
        mapping = resolve_mapping(source.columns, {}, path=path)
        for row in source:
            if with_split and row.values is not None:
                split_fields(row.values, mapping)
            count += 1
            if count % 100_000 == 0:
                peak = max(peak, process.memory_info().rss)
    seconds = time.perf_counter() - started
    peak = max(peak, process.memory_info().rss)
    return count, seconds, (peak - before) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--encoding", default="utf-8", choices=["utf-8", "gbk"])
    parser.add_argument("--format", default="csv", choices=["csv", "jsonl", "xlsx"])
    args = parser.parse_args()
    suffix = {"csv": ".csv", "jsonl": ".jsonl", "xlsx": ".xlsx"}[args.format]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"reviews{suffix}"
        write_file(path, args.format, args.rows, args.encoding)
        size_mb = path.stat().st_size / 2**20
        print(f"{args.format} {args.encoding}: {args.rows:,} rows, {size_mb:.1f} MB")
        for with_split in (False, True):
            count, seconds, growth = measure(path, with_split=with_split)
            label = "open_rows + split_fields" if with_split else "open_rows"
            print(
                f"  {label:<26} {count:>9,} rows in {seconds:6.2f} s = {count / seconds:>9,.0f} rows/s, "
                f"RSS growth {growth:6.1f} MB"
            )


if __name__ == "__main__":
    main()
