"""Language of a piece of feedback by script: zh, ja, ko, en, other, or und (undetermined)."""

from __future__ import annotations

import re
import unicodedata

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
        lowered = [word.lower() for word in words]
        if _OTHER_LATIN.search(text.lower()) and not any(word in _ENGLISH_WORDS for word in lowered):
            return "other"
        return "en"
    if han:
        return "zh"
    if any(unicodedata.category(ch).startswith("L") for ch in text):
        return "other"
    return UNDETERMINED
