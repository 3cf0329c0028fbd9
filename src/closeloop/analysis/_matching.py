"""Keyword matching of feedback clauses against taxonomy categories (zero-shot, no labels needed).

Chinese keywords match as substrings of a clause; a one-character keyword (贵, 臭) only counts when jieba
makes it a word of its own, optionally after a degree adverb (很臭, 太贵), so 贵妇 is not about price.
English keywords match whole words with their plural, -ed and -ing forms; ``word*`` matches a prefix.
A keyword may carry conditions: ``收到 & 快`` needs 快 in the same clause, ``味道 & !吃`` needs 吃 absent.

Keywords in other languages (``keywords_intl``) take a path of their own beside those two. Words of scripts
written with spaces (Latin, Cyrillic, Greek …) match whole Unicode word tokens, folded so that case, accents
and the Turkish dotless i do not matter (``lieferung``, ``доставка``); ``word*`` matches a prefix
(``lieferung*`` also finds ``lieferungen``); several words match as consecutive tokens. Keywords in scripts
without spaces (kana, hangul, kanji, Thai) match as substrings of the clause, but only in a text that holds
kana, hangul or Thai somewhere, so a Japanese 配送 never fires on Chinese feedback.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from closeloop.analysis.taxonomy import Taxonomy
from closeloop.analysis.text import normalize_text, split_clauses

# Texts longer than this are cut before matching: it bounds run time on pasted documents.
MAX_MATCH_CHARS = 4_000
# Texts whose clause hits a matcher remembers: the category and aspect detectors of one batch ask about the
# same texts, so the second asks for free.
RECENT_TEXTS = 4_096
_ENGLISH_TOKEN = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
_DEGREE_ADVERBS = "很好太真超挺蛮较更最巨贼忒不没有点"
_VOWELS = frozenset("aeiou")
# Other languages: Unicode word tokens (letters and digits; apostrophes and hyphens split, so l'emballage
# gives "l" and "emballage"), and the scripts written without spaces whose keywords match as substrings.
_WORD_TOKEN = re.compile(r"[^\W_]+")
# Scripts written without spaces besides Han: Thai, Lao, Myanmar, hangul, Khmer, kana.
_NON_HAN_UNSPACED_CHARS = (
    "\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3040-\u30ff\u3130-\u318f\uac00-\ud7af"
)
_NON_HAN_UNSPACED = re.compile(f"[{_NON_HAN_UNSPACED_CHARS}]")
_UNSPACED_SCRIPT = re.compile(f"[\u3400-\u9fff{_NON_HAN_UNSPACED_CHARS}]")
# A letter of a script written with spaces: only clauses holding one need word matching.
_SPACED_LETTER = re.compile(f"(?![\u3400-\u9fff{_NON_HAN_UNSPACED_CHARS}])[^\\W\\d_]")
# Letters NFD does not take apart: Polish ł, Turkish dotless ı, Nordic ø, Croatian đ.
_UNDECOMPOSED_LETTERS = str.maketrans({"ł": "l", "ı": "i", "ø": "o", "đ": "d"})


@dataclass(frozen=True)
class KeywordRule:
    """One keyword of one category, with the extra terms its clause must (not) contain."""

    category_id: str
    keyword: str
    required: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


def prepare_text(text: object) -> str:
    """Normalised, lower-cased and length-bounded text ready for matching."""
    return normalize_text(text)[:MAX_MATCH_CHARS].lower()


def feedback_clauses(text: object) -> list[str]:
    """The prepared clauses of a feedback text (see :func:`closeloop.analysis.text.split_clauses`)."""
    prepared = prepare_text(text)
    return split_clauses(prepared) if prepared else []


def parse_keyword(spec: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Split ``"收到 & 快 & !慢"`` into the keyword, required terms and excluded terms (all lower-case)."""
    parts = [part.strip().lower() for part in spec.split("&")]
    parts = [part for part in parts if part and part != "!"]
    if not parts or parts[0].startswith("!"):
        return "", (), ()
    required = tuple(part for part in parts[1:] if not part.startswith("!"))
    excluded = tuple(part[1:].strip() for part in parts[1:] if part.startswith("!"))
    return parts[0], required, excluded


def english_forms(word: str) -> set[str]:
    """The word with its regular plural / -ed / -ing forms (over-generating is harmless)."""
    forms = {word}
    if len(word) < 3 or not word.isalpha():
        return forms | {word + "s"}
    if word.endswith("y") and word[-2] not in _VOWELS:
        forms |= {word[:-1] + "ies", word[:-1] + "ied", word + "ing"}
    elif word.endswith("e"):
        forms |= {word + "s", word + "d", word[:-1] + "ing"}
    elif word.endswith(("s", "x", "z", "ch", "sh")):
        forms |= {word + "es", word + "ed", word + "ing"}
    else:
        forms |= {word + "s", word + "ed", word + "ing"}
        if word[-1] not in _VOWELS and word[-1] not in "wxy" and word[-2] in _VOWELS:
            forms |= {word + word[-1] + "ed", word + word[-1] + "ing"}
    return forms


def english_tokens(clause: str) -> list[str]:
    """Lower-case English word tokens of a clause (Chinese characters are skipped)."""
    return _ENGLISH_TOKEN.findall(clause)


def fold_word_text(text: str) -> str:
    """``text`` case-folded without accents or diacritics (Qualität → qualitat, kırık → kirik, ё → е)."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.translate(_UNDECOMPOSED_LETTERS)


def word_tokens(clause: str) -> list[str]:
    """Folded word tokens of a clause in any script written with spaces (see :func:`fold_word_text`)."""
    return _WORD_TOKEN.findall(fold_word_text(clause))


def is_unspaced_keyword(keyword: str) -> bool:
    """True for a keyword in a script written without spaces (kana, hangul, kanji, Thai …): a substring."""
    return bool(_UNSPACED_SCRIPT.search(keyword))


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    return jieba


def _stands_alone(clause: str, char: str) -> bool:
    """True when ``char`` is a word of its own in ``clause``, possibly after a degree adverb (很臭)."""
    for token in _jieba().lcut(clause):
        if char in token and token.lstrip(_DEGREE_ADVERBS) in (char, char + "了", char + "的"):
            return True
    return False


class KeywordMatcher:
    """Finds which taxonomy categories each clause of a text mentions, by keyword."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._chinese: dict[str, list[KeywordRule]] = {}
        self._english: dict[tuple[str, ...], list[KeywordRule]] = {}
        self._prefixes: list[tuple[str, KeywordRule]] = []
        # Other languages: whole-word phrases, prefixes (last word of a ``word*`` keyword → (the words
        # before it, rule)), and substrings (kana, hangul, kanji: only in texts with kana or hangul).
        self._intl_words: dict[tuple[str, ...], list[KeywordRule]] = {}
        self._intl_prefixes: dict[str, list[tuple[tuple[str, ...], KeywordRule]]] = {}
        self._intl_substrings: list[tuple[str, KeywordRule]] = []
        for category in taxonomy.categories:
            for spec in category.keywords_zh:
                self._add_chinese(category.id, spec)
            for spec in category.keywords_en:
                self._add_english(category.id, spec)
            for spec in category.keywords_intl:
                self._add_international(category.id, spec)
        self._chinese_lengths = sorted({len(key) for key in self._chinese}, reverse=True)
        self._english_lengths = sorted({len(key) for key in self._english}, reverse=True)
        self._intl_word_lengths = sorted({len(key) for key in self._intl_words}, reverse=True)
        self._intl_prefix_lengths = sorted({len(key) for key in self._intl_prefixes}, reverse=True)
        self._recent: dict[str, list[tuple[str, dict[str, set[str]]]]] = {}

    def _add_chinese(self, category_id: str, spec: str) -> None:
        keyword, required, excluded = parse_keyword(spec)
        if keyword and not keyword.isascii():
            rule = KeywordRule(category_id, keyword, required, excluded)
            self._chinese.setdefault(keyword, []).append(rule)
        elif keyword:
            # An ASCII keyword in the Chinese list ("app", "bug") is matched as an English word.
            self._add_english(category_id, spec)

    def _add_english(self, category_id: str, spec: str) -> None:
        keyword, required, excluded = parse_keyword(spec)
        if not keyword:
            return
        if not keyword.isascii():
            self._add_chinese(category_id, spec)
            return
        rule = KeywordRule(category_id, keyword, required, excluded)
        words = english_tokens(keyword.rstrip("*"))
        if not words:
            return
        if keyword.endswith("*") and len(words) == 1:
            self._prefixes.append((words[0], rule))
            return
        variants: list[tuple[str, ...]] = [()]
        for word in words:
            variants = [(*head, form) for head in variants for form in sorted(english_forms(word))]
        for variant in variants:
            self._english.setdefault(variant, []).append(rule)

    def _add_international(self, category_id: str, spec: str) -> None:
        keyword, required, excluded = parse_keyword(spec)
        if not keyword:
            return
        if is_unspaced_keyword(keyword):
            rule = KeywordRule(category_id, keyword, required, excluded)
            self._intl_substrings.append((keyword, rule))
            return
        # Words and conditions are folded like the clause they are compared with; so is the keyword, so
        # envío* and envio* (Spanish, Portuguese) count as one keyword.
        rule = KeywordRule(
            category_id,
            fold_word_text(keyword),
            tuple(fold_word_text(term) for term in required),
            tuple(fold_word_text(term) for term in excluded),
        )
        words = tuple(word_tokens(keyword.rstrip("*")))
        if not words:
            return
        if keyword.endswith("*"):
            self._intl_prefixes.setdefault(words[-1], []).append((words[:-1], rule))
        else:
            self._intl_words.setdefault(words, []).append(rule)

    def clause_hits(self, clause: str, *, has_kana: bool | None = None) -> dict[str, set[str]]:
        """Category id → the distinct keywords of that category found in one prepared clause.

        ``has_kana`` says whether the whole text holds kana, hangul (or Thai …) — None: look at this clause.
        Other-language keywords in those scripts only match then, which keeps them off Chinese text, and a
        keyword written in kanji only can match a Japanese clause that has no kana of its own.
        """
        hits: dict[str, set[str]] = {}
        for rule in self._chinese_rules(clause):
            if self._conditions_hold(rule, clause):
                hits.setdefault(rule.category_id, set()).add(rule.keyword)
        if clause.isascii() or any("a" <= ch <= "z" for ch in clause):
            for rule in self._english_rules(english_tokens(clause)):
                if self._conditions_hold(rule, clause):
                    hits.setdefault(rule.category_id, set()).add(rule.keyword)
        if (self._intl_words or self._intl_prefixes) and _SPACED_LETTER.search(clause):
            folded = fold_word_text(clause)
            for rule in self._international_word_rules(_WORD_TOKEN.findall(folded)):
                if self._conditions_hold(rule, folded):
                    hits.setdefault(rule.category_id, set()).add(rule.keyword)
        if has_kana is None:
            has_kana = bool(_NON_HAN_UNSPACED.search(clause))
        if has_kana:
            for keyword, rule in self._intl_substrings:
                if keyword in clause and self._conditions_hold(rule, clause):
                    hits.setdefault(rule.category_id, set()).add(rule.keyword)
        return hits

    def _chinese_rules(self, clause: str) -> Iterable[KeywordRule]:
        chinese = self._chinese
        size = len(clause)
        for length in self._chinese_lengths:
            for start in range(size - length + 1):
                rules = chinese.get(clause[start : start + length])
                if rules is None:
                    continue
                if length == 1 and not _stands_alone(clause, clause[start]):
                    continue
                yield from rules

    @staticmethod
    def _phrase_rules(
        table: dict[tuple[str, ...], list[KeywordRule]], lengths: Iterable[int], tokens: list[str]
    ) -> Iterable[KeywordRule]:
        """The rules of every run of consecutive tokens that is a keyword phrase in ``table``."""
        for length in lengths:
            for start in range(len(tokens) - length + 1):
                rules = table.get(tuple(tokens[start : start + length]))
                if rules is not None:
                    yield from rules

    def _english_rules(self, tokens: list[str]) -> Iterable[KeywordRule]:
        yield from self._phrase_rules(self._english, self._english_lengths, tokens)
        for token in tokens:
            for prefix, rule in self._prefixes:
                if token.startswith(prefix):
                    yield rule

    def _international_word_rules(self, tokens: list[str]) -> Iterable[KeywordRule]:
        yield from self._phrase_rules(self._intl_words, self._intl_word_lengths, tokens)
        prefixes = self._intl_prefixes
        for position, token in enumerate(tokens):
            for length in self._intl_prefix_lengths:
                if length > len(token):
                    continue
                for head, rule in prefixes.get(token[:length], ()):
                    # A phrase ending in a prefix ("trop grand*") needs its first words just before.
                    start = position - len(head)
                    if start >= 0 and tuple(tokens[start:position]) == head:
                        yield rule

    @staticmethod
    def _conditions_hold(rule: KeywordRule, clause: str) -> bool:
        return all(term in clause for term in rule.required) and not any(
            term in clause for term in rule.excluded
        )

    def text_hits(self, text: object) -> list[tuple[str, dict[str, set[str]]]]:
        """Each clause of ``text`` with the categories (and keywords) it mentions (callers must not change
        the answer: the matcher remembers it for the recent texts)."""
        key = text if isinstance(text, str) else None
        remembered = self._recent.get(key) if key is not None else None  # one lookup: safe across threads
        if remembered is not None:
            return remembered
        clauses = feedback_clauses(text)
        has_kana = bool(self._intl_substrings) and any(_NON_HAN_UNSPACED.search(clause) for clause in clauses)
        hits = [(clause, self.clause_hits(clause, has_kana=has_kana)) for clause in clauses]
        if key is not None:
            if len(self._recent) >= RECENT_TEXTS:
                self._recent.clear()
            self._recent[key] = hits
        return hits

    def category_hits(self, text: object) -> dict[str, int]:
        """Category id → number of distinct keywords of that category in the whole text."""
        keywords: dict[str, set[str]] = {}
        for _clause, hits in self.text_hits(text):
            for category_id, found in hits.items():
                keywords.setdefault(category_id, set()).update(found)
        return {category_id: len(found) for category_id, found in keywords.items()}


def keyword_score(hit_count: int) -> float:
    """Confidence 0..1 that a category is mentioned, from its number of distinct keyword hits."""
    return 0.0 if hit_count <= 0 else round(1.0 - 0.35**hit_count, 4)
