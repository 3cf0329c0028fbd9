"""What the benchmarks share about the development sets in ../shared/data (read there, never copied)."""

from __future__ import annotations

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Zhijiang aspect columns → closeloop taxonomy ids ("other" is a catch-all with no counterpart).
ZHIJIANG_TO_TAXONOMY = {
    "user_experience": "usability",
    "efficacy": "efficacy",
    "price": "price",
    "logistics": "logistics",
    "smell": "smell",
    "packaging": "packaging",
    "authenticity": "authenticity",
    "service": "service",
    "ingredients": "ingredients",
    "size": "size_fit",
    "freshness": "taste_freshness",
}
