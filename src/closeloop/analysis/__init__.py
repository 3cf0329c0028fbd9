"""closeloop's offline analysis engine: texts in, results out (no database, no HTTP, no downloads).

    from closeloop.analysis import Engine
    engine = Engine.load()                      # shipped model; Engine.load(model_dir) for a trained one
    Engine.load(fast=True)                      # char n-grams + VADER only, thousands of texts per second
    [result] = engine.analyze(["送餐很快，但是饭凉了，要求退款"])
    result.sentiment, result.sentiment_score, result.complaint, result.categories, result.aspects

    from closeloop.analysis import train_model
    train_model(texts, Path("model"), sentiment_labels=labels)   # then Engine.load(Path("model"))

Names are imported lazily so that importing a sub-module (e.g. the taxonomy) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AnalysisResult": "closeloop.analysis.engine",
    "Engine": "closeloop.analysis.engine",
    "DEFAULT_MODEL_DIR": "closeloop.analysis.engine",
    "train_model": "closeloop.analysis.train",
    "TrainingReport": "closeloop.analysis.train",
    "detect_language": "closeloop.analysis.language",
    "is_complaint": "closeloop.analysis.complaint",
    "complaint_cues": "closeloop.analysis.complaint",
    "parse_sentiment_label": "closeloop.analysis.sentiment",
    "split_clauses": "closeloop.analysis.text",
    "normalize_text": "closeloop.analysis.text",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'closeloop.analysis' has no attribute {name!r}")
