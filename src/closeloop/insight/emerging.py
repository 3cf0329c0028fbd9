"""Emerging topics in stored feedback, and turning one into a taxonomy category or a routing rule.

``emerging_topics`` reads the newest feedback the taxonomy does not cover (no category in its effective
analysis, and none found by the current taxonomy's keywords either, so a category added a minute ago
already hides its theme), groups it into themes with :func:`closeloop.analysis.topics.find_topics` and
finds near-duplicates among the same texts.

The taxonomy the analysis engine uses lives in the active model directory (``<model_dir>/taxonomy.yaml``,
see :mod:`closeloop.analysis.engine`); ``add_category`` appends a user category there and drops the cached
engines, so feedback analysed from then on can get the new category. The engine only ever returns ids of
its taxonomy, so nothing outside it can appear.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, Text, cast, or_, select
from sqlalchemy.orm import Session

from closeloop.act.jobs import replace_rules, stored_rules
from closeloop.act.routing import PRIORITIES, dump_rules
from closeloop.analysis.taxonomy import (
    TAXONOMY_FILE,
    TAXONOMY_PATH_ENV,
    TRAINED_CATEGORIES_DIR,
    Category,
    Taxonomy,
    active_taxonomy,
    category_id_for,
    save_taxonomy,
)
from closeloop.insight import aggregates
from closeloop.insight.aggregates import InsightFilter
from closeloop.store.models import Analysis, FeedbackItem, Team

DEFAULT_MAX_ITEMS = 1_000
# Uncategorised feedback is read in pages this large, at most SCAN_FACTOR × max_items items.
SCAN_PAGE = 1_000
EMPTY_JSON_LISTS = ("[]", "null")
SCAN_FACTOR = 10
KEYWORDS_PER_THEME = 5
EXAMPLE_CHARS = 300
DUPLICATE_GROUPS_SHOWN = 20
_HAN = re.compile(r"[\u3400-\u9fff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
_RULE_ID_JUNK = re.compile(r"[^A-Za-z0-9_.-]+")


class TaxonomyNotEditableError(Exception):
    """The active taxonomy cannot be changed here (built-in, or part of a trained model)."""


class CategoryExistsError(ValueError):
    """A category with this id or name is already in the taxonomy."""


class UnknownTeamError(ValueError):
    """A routing rule names a team that does not exist."""


# ------------------------------------------------------------------------------------- the taxonomy


def editable_taxonomy_file(model_dir: Path | None) -> Path:
    """Where a new category is written: ``<model_dir>/taxonomy.yaml``, else ``$CLOSELOOP_TAXONOMY_PATH``.

    Raises TaxonomyNotEditableError for the built-in model without that variable (its files are part of
    the installed package) and for a trained model (its detector was fitted to a fixed category list)."""
    if model_dir is not None:
        if (model_dir / TRAINED_CATEGORIES_DIR).is_dir():
            raise TaxonomyNotEditableError(
                "the active model was trained on a fixed category list: label feedback with the new "
                "category and train a new model / "
                "当前模型是训练得到的，类别固定：请为反馈标注新类别后重新训练"
            )
        return model_dir / TAXONOMY_FILE
    env_path = os.environ.get(TAXONOMY_PATH_ENV)
    if env_path:
        return Path(env_path)
    raise TaxonomyNotEditableError(
        "the built-in model's taxonomy cannot be edited: set CLOSELOOP_MODEL_DIR (or activate a model) "
        f"or {TAXONOMY_PATH_ENV} / 内置模型的类别不能修改：请设置 CLOSELOOP_MODEL_DIR 或 {TAXONOMY_PATH_ENV}"
    )


def split_keywords(keywords: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Keywords as (Chinese, English, other languages): a keyword with kana or Hangul, or with letters
    outside ASCII and no Han character (``verspätung``, ``доставка``), is another language's; else one
    holding a Han character is Chinese, the rest English. Blanks and repeats are dropped, order kept, all
    but Chinese lower-cased."""
    zh: list[str] = []
    en: list[str] = []
    intl: list[str] = []
    for keyword in keywords:
        cleaned = " ".join(str(keyword).split())
        if not cleaned:
            continue
        if _KANA_HANGUL.search(cleaned) or (not _HAN.search(cleaned) and not cleaned.isascii()):
            intl.append(cleaned.lower())
        elif _HAN.search(cleaned):
            zh.append(cleaned)
        else:
            en.append(cleaned.lower())
    return tuple(dict.fromkeys(zh)), tuple(dict.fromkeys(en)), tuple(dict.fromkeys(intl))


def new_category(
    taxonomy: Taxonomy, *, name_zh: str, name_en: str, keywords: Sequence[str], description: str = ""
) -> Category:
    """A category for ``taxonomy`` named in Chinese and English and detected by ``keywords``.

    Its id comes from the English name (``Lid leaks`` → ``lid_leaks``), else the Chinese one. Raises
    ValueError without names or keywords, CategoryExistsError when the id or a name is taken."""
    name_zh, name_en = " ".join(name_zh.split()), " ".join(name_en.split())
    if not name_zh and not name_en:
        raise ValueError("a category needs a Chinese or an English name / 类别需要名称")
    name_zh, name_en = name_zh or name_en, name_en or name_zh
    keywords_zh, keywords_en, keywords_intl = split_keywords(keywords)
    if not keywords_zh and not keywords_en and not keywords_intl:
        raise ValueError("a category needs at least one keyword / 类别至少需要一个关键词")
    category_id = category_id_for(name_en if name_en.isascii() else name_zh)
    for name in (category_id, name_zh, name_en):
        taken = taxonomy.resolve(name)
        if taken is not None:
            raise CategoryExistsError(f"category {taken!r} already exists / 类别 {taken!r} 已存在")
    return Category(
        id=category_id,
        name_zh=name_zh,
        name_en=name_en,
        keywords_zh=keywords_zh,
        keywords_en=keywords_en,
        keywords_intl=keywords_intl,
        examples=(),
        description=" ".join(description.split()),
    )


def add_category(
    model_dir: Path | None,
    *,
    name_zh: str,
    name_en: str,
    keywords: Sequence[str],
    description: str = "",
) -> Category:
    """Append a new category to the active taxonomy file and make the analysis engine reload it.

    Raises TaxonomyNotEditableError, ValueError or CategoryExistsError (see :func:`new_category`)."""
    from closeloop.jobs.analysis import load_engine

    path = editable_taxonomy_file(model_dir)
    taxonomy = active_taxonomy(model_dir)
    category = new_category(
        taxonomy, name_zh=name_zh, name_en=name_en, keywords=keywords, description=description
    )
    save_taxonomy(Taxonomy([*taxonomy.categories, category]), path)
    load_engine.cache_clear()  # engines are cached per model dir: the next analysis reads the new file
    return category


def category_document(category: Category) -> dict[str, Any]:
    """A category as JSON: id, names, keywords, description."""
    return {
        "id": category.id,
        "name_zh": category.name_zh,
        "name_en": category.name_en,
        "keywords_zh": list(category.keywords_zh),
        "keywords_en": list(category.keywords_en),
        "keywords_intl": list(category.keywords_intl),
        "description": category.description,
    }


# ------------------------------------------------------------------------------------- emerging themes


@dataclass
class UncoveredFeedback:
    """The newest feedback no category covers: ids and texts (newest first), and how many items without a
    stored category were read to find them."""

    ids: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    scanned: int = 0


def _uncategorised_rows(session: Session, flt: InsightFilter) -> Select:
    """(id, text, newest analysis's categories, newest categories label) of the items matching ``flt``
    whose stored analysis lists no category or whose categories were corrected, newest first."""
    # The dashboard's own query pieces, so "uncategorised" here means what the dashboard counts.
    since, until = flt.window()
    dialect = session.get_bind().dialect.name
    label = aggregates.label_value("categories")
    stored = cast(Analysis.categories, Text)
    columns = select(FeedbackItem.id, FeedbackItem.text, stored, label)
    return (
        aggregates.scoped_query(columns, flt, since, until, dialect, analysis_filters=False)
        .where(*aggregates.effective_conditions(flt, dialect))
        .where(or_(label.is_not(None), Analysis.id.is_(None), stored.is_(None), stored.in_(EMPTY_JSON_LISTS)))
        .order_by(FeedbackItem.created_at.desc(), FeedbackItem.id.desc())
    )


def _has_no_category(stored: str | None, label: str | None) -> bool:
    """True when the effective categories are empty: the label's when corrected, else the analysis's."""
    if label is not None:
        return not [part for part in label.split(";") if part.strip()]
    return not (json.loads(stored) if stored else [])


def uncovered_feedback(
    session: Session, flt: InsightFilter, taxonomy: Taxonomy, *, max_items: int = DEFAULT_MAX_ITEMS
) -> UncoveredFeedback:
    """Up to ``max_items`` of the newest items matching ``flt`` that have no category: none in their
    effective analysis (corrections applied) and none by ``taxonomy``'s keywords (which catches categories
    added since they were analysed). At most SCAN_FACTOR × ``max_items`` uncategorised items are read."""
    from closeloop.analysis.categories import CategoryDetector
    from closeloop.analysis.topics import uncovered

    detector = CategoryDetector.default(taxonomy)
    found = UncoveredFeedback()
    rows = session.execute(_uncategorised_rows(session, flt).limit(SCAN_FACTOR * max_items))
    for page in rows.partitions(SCAN_PAGE):
        candidates = [
            (item_id, text) for item_id, text, stored, label in page if _has_no_category(stored, label)
        ]
        found.scanned += len(page)
        texts = [text for _, text in candidates]
        keyword_hits = [[c for c, _ in row] for row in detector.predict(texts)] if texts else []
        for position in uncovered(texts, keyword_hits)[: max_items - len(found.ids)]:
            found.ids.append(candidates[position][0])
            found.texts.append(texts[position])
        if len(found.ids) >= max_items:
            break
    rows.close()
    return found


def _clip(text: str, limit: int = EXAMPLE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def suggested_names(phrases: Sequence[str]) -> tuple[str, str]:
    """Prefilled (Chinese, English) names for a theme: its first Chinese and first English phrase, each
    standing in for the other when the theme has only one language."""
    zh = next((p for p in phrases if _HAN.search(p)), "")
    en = next((p for p in phrases if not _HAN.search(p)), "")
    return zh or en, (en[:1].upper() + en[1:]) if en else zh


def emerging_topics(
    session: Session,
    flt: InsightFilter,
    taxonomy: Taxonomy,
    *,
    max_items: int = DEFAULT_MAX_ITEMS,
    min_size: int = 5,
    max_topics: int = 12,
) -> dict[str, Any]:
    """Themes in the newest uncovered feedback (largest first) with phrases, counts, example verbatims
    (redacted text as stored) and a suggested category, plus near-duplicate groups among the same items."""
    from closeloop.analysis.topics import find_topics, near_duplicates

    feedback = uncovered_feedback(session, flt, taxonomy, max_items=max_items)
    topics = find_topics(feedback.texts, min_size=min_size, max_topics=max_topics) if feedback.texts else []
    themes = []
    for topic in topics:
        name_zh, name_en = suggested_names(topic.phrases)
        themes.append(
            {
                "id": topic.id,
                "label": topic.phrases[0] if topic.phrases else f"#{topic.id}",
                "phrases": topic.phrases,
                "count": topic.size,
                "language": topic.language,
                "examples": [
                    {"id": feedback.ids[i], "text": _clip(feedback.texts[i])} for i in topic.examples
                ],
                "item_ids": [feedback.ids[i] for i in topic.members],
                "suggested_category": {
                    "name_zh": name_zh,
                    "name_en": name_en,
                    "keywords": topic.phrases[:KEYWORDS_PER_THEME],
                },
            }
        )
    groups = near_duplicates(feedback.texts) if len(feedback.texts) >= 2 else []
    duplicates = [
        {
            "size": len(group.members),
            "representative": {
                "id": feedback.ids[group.representative],
                "text": _clip(feedback.texts[group.representative]),
            },
            "item_ids": [feedback.ids[i] for i in group.members],
        }
        for group in groups[:DUPLICATE_GROUPS_SHOWN]
    ]
    return {
        "filters": flt.echo(),
        "scanned": feedback.scanned,
        "uncovered": len(feedback.ids),
        "in_themes": sum(theme["count"] for theme in themes),
        "themes": themes,
        "duplicate_groups": duplicates,
        "duplicate_group_count": len(groups),
    }


# ------------------------------------------------------------------------------------- routing rules


def theme_rule_id(label: str, taken: set[str]) -> str:
    """A routing rule id for a theme: ``topic-`` plus an ASCII slug of the label (or a number), unique."""
    slug = _RULE_ID_JUNK.sub("-", category_id_for(label) if label.isascii() else "").strip("-._")[:40]
    base = f"topic-{slug}" if slug else "topic"
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def add_theme_rule(
    session: Session,
    *,
    team: str,
    keywords: Sequence[str] = (),
    category: str | None = None,
    name_zh: str = "",
    name_en: str = "",
    priority: str = "normal",
) -> dict[str, Any]:
    """Put a routing rule sending feedback about a theme to ``team`` first in the rule set: its condition is
    the category when one is given (``categories_any``), else the theme's keywords (``keywords_any``). It
    has ``stop: false``, so the rules after it still add their tags, priority and SLA. Validated and
    stored like any rule set (RoutingRuleError names the problem); the session is flushed, not committed.
    Returns the new rule as JSON."""
    if session.get(Team, team) is None:
        known = ", ".join(session.scalars(select(Team.name).order_by(Team.name))) or "(none)"
        raise UnknownTeamError(f"no team {team!r}; teams: {known} / 没有团队 {team!r}")
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}")
    cleaned = [" ".join(k.split()) for k in keywords if k and k.strip()]
    if category:
        when: dict[str, Any] = {"categories_any": [category]}
    elif cleaned:
        when = {"keywords_any": list(dict.fromkeys(cleaned))}
    else:
        raise ValueError("a theme rule needs keywords or a category / 规则需要关键词或类别")
    label = name_en or category or (cleaned[0] if cleaned else "")
    existing = dump_rules(stored_rules(session))
    rule_id = theme_rule_id(label, {rule["id"] for rule in existing})
    title = name_zh or name_en or (category or "、".join(cleaned[:3]))
    definition = {
        "id": rule_id,
        "name": {"zh": f"新主题：{title}", "en": f"Emerging topic: {name_en or title}"},
        "when": when,
        "then": {"team": team, "priority": priority, "tags": ["emerging-topic"]},
        "stop": False,
    }
    rules = replace_rules(session, [definition, *existing])
    return next(rule for rule in dump_rules(rules) if rule["id"] == rule_id)
