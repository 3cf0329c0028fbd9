"""The feedback taxonomy: categories with Chinese and English names, keywords and example sentences.

Besides Chinese and English keywords a category may carry ``keywords_intl``: keywords in other languages
(German, French, Spanish, Russian, Japanese, Korean …) matched by :mod:`closeloop.analysis._matching`.

The default taxonomy is ``taxonomy.yaml`` next to this module, a file users edit. Users may also bring
their own categories ("Late Flight", "退款"): :meth:`Taxonomy.extend` gives them stable ids.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_TAXONOMY_PATH = Path(__file__).with_name("taxonomy.yaml")
TAXONOMY_PATH_ENV = "CLOSELOOP_TAXONOMY_PATH"
TAXONOMY_FILE = "taxonomy.yaml"  # inside a model directory (and inside its trained detectors' directories)
TRAINED_CATEGORIES_DIR = "categories"

# Ids travel inside "a;b" category lists and "category:polarity" aspect strings, so these are banned.
_UNSAFE_ID_CHARS = re.compile(r"[;:,\s]+")
_ASCII_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Category:
    """One feedback category: what customers talk about (delivery, price, packaging …)."""

    id: str
    name_zh: str
    name_en: str
    keywords_zh: tuple[str, ...]
    keywords_en: tuple[str, ...]
    examples: tuple[str, ...]
    description: str = ""
    # Keywords in languages other than Chinese and English (de, fr, es, ru, ja, ko …); optional.
    keywords_intl: tuple[str, ...] = ()


def category_id_for(name: str) -> str:
    """A stable id for a user-given category name.

    English (ASCII) names become a lower-case slug ("Late Flight" → ``late_flight``); other names keep
    their text ("退款" → ``退款``) with ``;`` ``:`` ``,`` and whitespace removed. A name with nothing
    usable left gets ``category_<hash>``.
    """
    cleaned = name.strip()
    if cleaned.isascii():
        slug = _ASCII_SLUG_JUNK.sub("_", cleaned.lower()).strip("_")
    else:
        slug = _UNSAFE_ID_CHARS.sub("", cleaned)
    if not slug:
        slug = "category_" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return slug


def is_safe_id(category_id: str) -> bool:
    """True when ``category_id`` is non-empty and free of ``;`` ``:`` ``,`` and whitespace."""
    return bool(category_id) and not _UNSAFE_ID_CHARS.search(category_id)


@dataclass
class Taxonomy:
    """An ordered list of categories with lookup by id and by Chinese or English name."""

    categories: list[Category] = field(default_factory=list)

    def ids(self) -> list[str]:
        """Category ids in taxonomy order."""
        return [category.id for category in self.categories]

    def get(self, id: str) -> Category:
        """The category with this id; ``KeyError`` when there is none."""
        for category in self.categories:
            if category.id == id:
                return category
        raise KeyError(id)

    def __contains__(self, id: object) -> bool:
        return isinstance(id, str) and any(category.id == id for category in self.categories)

    def __iter__(self) -> Iterator[Category]:
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)

    def resolve(self, name: str) -> str | None:
        """The id of the category called ``name`` (its id, zh name or en name; case-insensitive), or None."""
        wanted = name.strip().casefold()
        if not wanted:
            return None
        for category in self.categories:
            if wanted in (category.id.casefold(), category.name_zh.casefold(), category.name_en.casefold()):
                return category.id
        slug = category_id_for(name).casefold()
        for category in self.categories:
            if category.id.casefold() == slug:
                return category.id
        return None

    def extend(self, names: Iterable[str]) -> Taxonomy:
        """A new taxonomy with a category for each name not already known (this one is not changed).

        Known names and ids map to their existing category (see :meth:`resolve`); a new name becomes a
        category whose id is :func:`category_id_for` the name and whose only keyword is the name itself,
        so it is detected by keyword until a model has learned it from labels.
        """
        extended = Taxonomy(list(self.categories))
        for name in names:
            if not isinstance(name, str) or not name.strip() or extended.resolve(name) is not None:
                continue
            extended.categories.append(user_category(name))
        return extended


def user_category(name: str) -> Category:
    """A category for a user-given name, its own (lower-cased) name as its keyword."""
    cleaned = " ".join(name.split())
    keyword = cleaned.lower()
    ascii_name = cleaned.isascii()
    return Category(
        id=category_id_for(cleaned),
        name_zh=cleaned,
        name_en=cleaned,
        keywords_zh=() if ascii_name else (keyword,),
        keywords_en=(keyword,) if ascii_name else (),
        examples=(),
        description="",
    )


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read a taxonomy YAML file.

    ``path`` None means ``$CLOSELOOP_TAXONOMY_PATH`` when set, else the packaged default. A file that is
    not a valid taxonomy raises ``ValueError`` naming the file and the problem.
    """
    if path is None:
        env_path = os.environ.get(TAXONOMY_PATH_ENV)
        path = Path(env_path) if env_path else DEFAULT_TAXONOMY_PATH
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"{path}: cannot read taxonomy file ({error})") from error
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid YAML ({error})") from error
    return taxonomy_from_document(document, source=str(path))


def taxonomy_from_document(document: object, *, source: str = "<taxonomy>") -> Taxonomy:
    """Build a taxonomy from parsed YAML (``{"categories": [...]}`` or a bare list); ``ValueError`` if bad."""
    entries = document.get("categories") if isinstance(document, dict) else document
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{source}: expected a non-empty 'categories' list")
    categories: list[Category] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        category = _category_from_entry(entry, where=f"{source}: category #{position}")
        if category.id in seen:
            raise ValueError(f"{source}: category #{position}: duplicate id {category.id!r}")
        seen.add(category.id)
        categories.append(category)
    return Taxonomy(categories)


def _category_from_entry(entry: object, *, where: str) -> Category:
    """One validated category from a YAML mapping."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a mapping with id, name_zh, name_en")
    category_id = entry.get("id")
    if not isinstance(category_id, str) or not is_safe_id(category_id):
        raise ValueError(f"{where}: 'id' must be a non-empty string without ';', ':', ',' or spaces")
    where = f"{where} ({category_id})"
    names = {}
    for key in ("name_zh", "name_en"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: '{key}' must be a non-empty string")
        names[key] = value.strip()
    description = entry.get("description") or ""
    if not isinstance(description, str):
        raise ValueError(f"{where}: 'description' must be a string")
    return Category(
        id=category_id,
        name_zh=names["name_zh"],
        name_en=names["name_en"],
        keywords_zh=_string_tuple(entry.get("keywords_zh"), where=f"{where}: 'keywords_zh'"),
        keywords_en=_string_tuple(entry.get("keywords_en"), where=f"{where}: 'keywords_en'"),
        keywords_intl=_string_tuple(entry.get("keywords_intl"), where=f"{where}: 'keywords_intl'"),
        examples=_string_tuple(entry.get("examples"), where=f"{where}: 'examples'"),
        description=description.strip(),
    )


def _string_tuple(value: object, *, where: str) -> tuple[str, ...]:
    """A list of strings from YAML as a tuple (None → empty); numbers are accepted as text."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list of strings")
    items = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ValueError(f"{where} must be a list of strings, got {item!r}")
        text = str(item).strip()
        if text:
            items.append(text)
    return tuple(items)


def taxonomy_to_document(taxonomy: Taxonomy) -> dict[str, object]:
    """The YAML-ready mapping of a taxonomy (inverse of :func:`taxonomy_from_document`)."""
    entries = []
    for category in taxonomy.categories:
        entry: dict[str, object] = {
            "id": category.id,
            "name_zh": category.name_zh,
            "name_en": category.name_en,
        }
        if category.description:
            entry["description"] = category.description
        entry["keywords_zh"] = list(category.keywords_zh)
        entry["keywords_en"] = list(category.keywords_en)
        if category.keywords_intl:  # optional: files without other-language keywords stay as they were
            entry["keywords_intl"] = list(category.keywords_intl)
        entry["examples"] = list(category.examples)
        entries.append(entry)
    return {"categories": entries}


def save_taxonomy(taxonomy: Taxonomy, path: Path) -> None:
    """Write ``taxonomy`` as YAML (UTF-8, Chinese kept readable) that :func:`load_taxonomy` reads back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(taxonomy_to_document(taxonomy), allow_unicode=True, sort_keys=False, width=110)
    path.write_text(text, encoding="utf-8")


def taxonomy_file(model_dir: Path | None) -> Path | None:
    """The taxonomy file the engine of ``model_dir`` reads, or None for the packaged default.

    A trained model's categories keep their own taxonomy (``categories/taxonomy.yaml``); otherwise the
    model directory's ``taxonomy.yaml`` when present, else ``$CLOSELOOP_TAXONOMY_PATH`` when set."""
    if model_dir is not None:
        if (model_dir / TRAINED_CATEGORIES_DIR).is_dir():
            return model_dir / TRAINED_CATEGORIES_DIR / TAXONOMY_FILE
        if (model_dir / TAXONOMY_FILE).is_file():
            return model_dir / TAXONOMY_FILE
    env_path = os.environ.get(TAXONOMY_PATH_ENV)
    return Path(env_path) if env_path else None


def taxonomy_stamp(model_dir: Path | None) -> tuple[str, int]:
    """Which taxonomy file ``model_dir``'s engine reads and when it last changed: a cache key that
    changes when an analyst adds a category, so every process (web, worker, Celery) picks it up."""
    path = taxonomy_file(model_dir)
    if path is None or not path.is_file():
        return (str(DEFAULT_TAXONOMY_PATH), 0)
    return (str(path), path.stat().st_mtime_ns)


_ACTIVE: dict[tuple[str, int], Taxonomy] = {}


def active_taxonomy(model_dir: Path | None) -> Taxonomy:
    """The taxonomy the analysis engine of ``model_dir`` uses (None: the built-in model), re-read only
    when its file changes."""
    stamp = taxonomy_stamp(model_dir)
    if stamp not in _ACTIVE:
        path = taxonomy_file(model_dir)
        if len(_ACTIVE) >= 8:  # a handful of live taxonomies per process; never grow without bound
            _ACTIVE.clear()
        _ACTIVE[stamp] = load_taxonomy(path if path is not None and path.is_file() else None)
    return _ACTIVE[stamp]
