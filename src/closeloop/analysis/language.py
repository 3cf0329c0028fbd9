"""Language of a piece of feedback: ISO 639-1 codes (zh, ja, ko, en, fr, de, es, ru, …), ``other`` when
unsure, ``und`` when the text has no letters.

Han, kana and Hangul decide by script. Other scripts go to a character n-gram identifier (``py3langid``,
BSD-3, its model ships in the package) limited to common feedback languages; short Latin-script text
leans to English unless the identifier is sure or the text carries another language's marks.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

UNDETERMINED = "und"

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
# Frequent English function words: a Latin-script text with none of them is probably another language.
_ENGLISH_WORDS = frozenset(
    {
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "this",
        "that",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "my",
        "your",
        "our",
        "not",
        "no",
        "to",
        "of",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "very",
        "so",
        "too",
        "just",
        "it's",
        "i'm",
        "don't",
        "can't",
        "didn't",
        "won't",
        "would",
        "will",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "good",
        "bad",
        "great",
        "ok",
        "okay",
        "love",
        "hate",
        "product",
        "service",
    }
)
# Non-English Latin-script markers (accents and common words) to keep fr/de/es/pt reviews out of "en".
_OTHER_LATIN = re.compile(r"[àâäçéèêëîïôöûùüÿñßãõ]|\b(le|la|les|der|die|das|und|el|los|que|não|muy|très)\b")


# Languages the identifier may answer: restricting it keeps "Excellent product." out of Faroese or Latin.
IDENTIFIED_LANGUAGES = (
    "en", "fr", "de", "es", "pt", "it", "nl", "pl", "tr", "sv", "da", "no", "fi", "cs", "sk", "ro", "hu",
    "hr", "sl", "lt", "lv", "et", "ca", "id", "ms", "vi", "tl", "ru", "uk", "bg", "sr", "el", "ar", "he",
    "fa", "hi", "bn", "th",
)  # fmt: skip
# Below this probability a non-English guess on Latin text without another language's marks stays "en".
SURE = 0.9
OTHER = "other"


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """The process-wide py3langid identifier (normalised probabilities), or None if it is not installed."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        log.warning("py3langid not installed: languages other than zh/ja/ko/en are reported as 'other'")
        return None
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(IDENTIFIED_LANGUAGES))
    return identifier


def identify(text: str) -> tuple[str, float]:
    """(language, probability) from the n-gram identifier; (``other``, 0) without it."""
    identifier = _identifier()
    if identifier is None:
        return OTHER, 0.0
    language, probability = identifier.classify(text)
    return str(language), float(probability)


def detect_language(text: str) -> str:
    """Return the dominant language code of ``text``.

    Han characters count once each and Latin words once each, so mixed zh/en text goes to whichever
    carries more of the content; kana marks Japanese and Hangul Korean. Text with no letters is ``und``.
    """
    han = len(_HAN.findall(text))
    kana = len(_KANA.findall(text))
    hangul = len(_HANGUL.findall(text))
    words = _LATIN_WORD.findall(text)
    if kana and kana + han >= len(words) and kana >= max(1, hangul):
        return "ja"
    if hangul and hangul >= max(han, len(words)):
        return "ko"
    if han and han >= len(words):
        return "zh"
    if words:
        return _latin_language(text, [word.lower() for word in words])
    if han:
        return "zh"
    if any(unicodedata.category(ch).startswith("L") for ch in text):
        language, _ = identify(text)
        return language
    return UNDETERMINED


def _latin_language(text: str, words: list[str]) -> str:
    """English unless the identifier is sure of another language, or the text has another language's
    marks (accents, articles) and no English function word."""
    marked = bool(_OTHER_LATIN.search(text.lower())) and not any(word in _ENGLISH_WORDS for word in words)
    language, probability = identify(text)
    if language in ("en", OTHER):  # OTHER: no identifier installed
        return OTHER if marked else "en"
    if probability >= SURE or marked:
        return language
    return "en"
