"""Import speed and memory: generate a CSV of N rows, import it into a fresh SQLite file, print figures.

    .venv/bin/python benchmarks/ingest.py [--rows 1000000]

Target (issue 3): ≥ 20,000 rows/s and peak RSS < 500 MB on a 2-core machine. The import runs in a child
process (`closeloop import --json`), so the peak RSS printed is the importer's own.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHRASES_ZH = [
    "物流很快",
    "包装有点破损",
    "客服态度很好",
    "质量不错",
    "价格偏贵",
    "用了两天就坏了",
    "颜色和图片一样",
    "发货太慢了",
    "性价比高",
    "味道有点怪",
    "尺码偏小",
    "会回购",
]
PHRASES_EN = [
    "fast delivery",
    "box was damaged",
    "great support",
    "poor quality",
    "too expensive",
    "works as described",
    "arrived late",
    "love it",
]


def write_csv(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["评价ID", "评论内容", "评分", "评论时间", "买家昵称", "商品名称", "订单号"])
        for i in range(rows):
            if rng.random() < 0.8:
                text = "，".join(rng.sample(PHRASES_ZH, 3)) + f"。第{i}单"
            else:
                text = ", ".join(rng.sample(PHRASES_EN, 2)) + f". order {i}"
            writer.writerow(
                [
                    f"R{i:08d}",
                    text,
                    rng.randint(1, 5),
                    f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:15:00",
                    f"user{rng.randint(1, rows // 20 + 1)}",
                    f"商品{rng.randint(1, 50)}",
                    f"O{i:09d}",
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    closeloop = Path(sys.executable).with_name("closeloop")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "reviews.csv"
        started = time.perf_counter()
        write_csv(data, args.rows)
        print(
            f"generated {args.rows:,} rows ({data.stat().st_size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        env = {**os.environ, "CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp}/bench.db"}
        subprocess.run([str(closeloop), "init"], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        done = subprocess.run(
            [str(closeloop), "import", str(data), "--channel", "taobao", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(json.dumps({k: summary[k] for k in ("imported", "duplicates", "rejected", "rows")}))
        print(
            f"import: {args.rows / seconds:,.0f} rows/s ({seconds:.1f} s wall, including start-up); "
            f"peak RSS {peak_mb:.0f} MB"
        )
        started = time.perf_counter()
        again = subprocess.run(
            [str(closeloop), "import", str(data), "--channel", "taobao", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        summary = json.loads(again.stdout.strip().splitlines()[-1])
        print(
            f"re-import (all duplicates): {args.rows / (time.perf_counter() - started):,.0f} rows/s, "
            f"imported {summary['imported']}, duplicates {summary['duplicates']}"
        )


if __name__ == "__main__":
    main()
