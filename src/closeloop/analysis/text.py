"""Text preparation shared by the analysis models: normalisation, clause splitting, length limits."""

from __future__ import annotations

import re
import unicodedata

# Longer feedback is cut before it reaches a model: the opening carries the verdict, and it bounds run time.
MODEL_MAX_CHARS = 256

_SPACE = re.compile(r"\s+")
# Clause boundaries: sentence punctuation in both scripts, plus contrastive conjunctions that flip polarity.
_CLAUSE_BREAK = re.compile(
    r"[。！？!?；;，,、\n…~～،؛؟]+|\.(?=\s|$)|(?=但是|但|不过|可是|然而|只是)"
    r"|\b(?=but |however |although |though )",
    re.IGNORECASE,
)


def normalize_text(text: object) -> str:
    """Return ``text`` as a clean string: NFKC (full-width → half-width), collapsed whitespace, stripped.

    ``None`` and non-string cells become ``""`` so a bad row never crashes the engine.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    text = unicodedata.normalize("NFKC", text)
    return _SPACE.sub(" ", text).strip()


def clip_for_model(text: str, max_chars: int = MODEL_MAX_CHARS) -> str:
    """Keep the opening ``max_chars`` characters and the closing quarter of that, where verdicts also sit."""
    if len(text) <= max_chars:
        return text
    tail = max_chars // 4
    return text[: max_chars - tail] + " … " + text[-tail:]


def split_clauses(text: str) -> list[str]:
    """Split feedback into short clauses at punctuation and at 但是/不过/but/however; no empty parts."""
    parts = (part.strip(" .") for part in _CLAUSE_BREAK.split(text))
    return [part for part in parts if part]


def has_letters(text: str) -> bool:
    """True when ``text`` holds at least one letter or CJK character (not only emoji, digits, punctuation)."""
    return any(unicodedata.category(ch).startswith("L") for ch in text)
