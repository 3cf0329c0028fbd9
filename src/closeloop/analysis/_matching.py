"""Keyword matching of feedback clauses against taxonomy categories (zero-shot, no labels needed).

Chinese keywords match as substrings of a clause; a one-character keyword (贵, 臭) only counts when jieba
makes it a word of its own, optionally after a degree adverb (很臭, 太贵), so 贵妇 is not about price.
English keywords match whole words with their plural, -ed and -ing forms; ``word*`` matches a prefix.
A keyword may carry conditions: ``收到 & 快`` needs 快 in the same clause, ``味道 & !吃`` needs 吃 absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from closeloop.analysis.taxonomy import Taxonomy
from closeloop.analysis.text import normalize_text, split_clauses

# Texts longer than this are cut before matching: it bounds run time on pasted documents.
MAX_MATCH_CHARS = 4_000
_ENGLISH_TOKEN = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
_DEGREE_ADVERBS = "很好太真超挺蛮较更最巨贼忒不没有点"
_VOWELS = frozenset("aeiou")


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
        for category in taxonomy.categories:
            for spec in category.keywords_zh:
                self._add_chinese(category.id, spec)
            for spec in category.keywords_en:
                self._add_english(category.id, spec)
        self._chinese_lengths = sorted({len(key) for key in self._chinese}, reverse=True)
        self._english_lengths = sorted({len(key) for key in self._english}, reverse=True)

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

    def clause_hits(self, clause: str) -> dict[str, set[str]]:
        """Category id → the distinct keywords of that category found in one prepared clause."""
        hits: dict[str, set[str]] = {}
        for rule in self._chinese_rules(clause):
            if self._conditions_hold(rule, clause):
                hits.setdefault(rule.category_id, set()).add(rule.keyword)
        if clause.isascii() or any("a" <= ch <= "z" for ch in clause):
            for rule in self._english_rules(english_tokens(clause)):
                if self._conditions_hold(rule, clause):
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

    def _english_rules(self, tokens: list[str]) -> Iterable[KeywordRule]:
        english = self._english
        for length in self._english_lengths:
            for start in range(len(tokens) - length + 1):
                rules = english.get(tuple(tokens[start : start + length]))
                if rules is not None:
                    yield from rules
        for token in tokens:
            for prefix, rule in self._prefixes:
                if token.startswith(prefix):
                    yield rule

    @staticmethod
    def _conditions_hold(rule: KeywordRule, clause: str) -> bool:
        return all(term in clause for term in rule.required) and not any(
            term in clause for term in rule.excluded
        )

    def text_hits(self, text: object) -> list[tuple[str, dict[str, set[str]]]]:
        """Each clause of ``text`` with the categories (and keywords) it mentions."""
        return [(clause, self.clause_hits(clause)) for clause in feedback_clauses(text)]

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
