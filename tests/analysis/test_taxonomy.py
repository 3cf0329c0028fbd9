"""The feedback taxonomy: default file, lookups, user categories, load/save and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from closeloop.analysis.taxonomy import (
    TAXONOMY_PATH_ENV,
    Taxonomy,
    category_id_for,
    load_taxonomy,
    save_taxonomy,
)

REQUIRED_IDS = [
    "product_quality",
    "service",
    "logistics",
    "price",
    "packaging",
    "usability",
    "authenticity",
    "after_sales",
    "app_website",
]


def test_default_taxonomy_has_the_retail_categories_in_both_languages() -> None:
    taxonomy = load_taxonomy()
    assert set(REQUIRED_IDS) <= set(taxonomy.ids())
    for category in taxonomy:
        assert category.name_zh and category.name_en
        assert category.keywords_zh and category.keywords_en and category.examples
    assert taxonomy.get("logistics").name_zh == "物流配送"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("logistics", "logistics"),
        ("物流配送", "logistics"),
        ("Delivery & Logistics", "logistics"),
        ("  PRICE ", "price"),
        ("Product-Quality", "product_quality"),
        ("unknown thing", None),
        ("", None),
    ],
)
def test_resolve_finds_ids_from_ids_and_names(name: str, expected: str | None) -> None:
    assert load_taxonomy().resolve(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Late Flight", "late_flight"),
        ("退款", "退款"),
        ("退 款;问题:多", "退款问题多"),
        ("Wi-Fi / Internet", "wi_fi_internet"),
    ],
)
def test_user_category_ids_are_stable_and_safe(name: str, expected: str) -> None:
    assert category_id_for(name) == expected
    assert category_id_for(name) == category_id_for(name)


def test_extend_adds_new_names_and_maps_known_ones() -> None:
    taxonomy = load_taxonomy()
    extended = taxonomy.extend(["Late Flight", "退款", "物流配送", "price", "Late Flight"])
    assert extended.ids()[: len(taxonomy)] == taxonomy.ids()
    assert extended.ids()[len(taxonomy) :] == ["late_flight", "退款"]
    assert extended.resolve("late flight") == "late_flight"
    assert extended.get("退款").keywords_zh == ("退款",)
    assert "late_flight" not in taxonomy  # the original is left alone
    for category_id in extended.ids():
        assert not any(bad in category_id for bad in ";:, ")


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    extended = load_taxonomy().extend(["Late Flight"])
    save_taxonomy(extended, tmp_path / "taxonomy.yaml")
    assert load_taxonomy(tmp_path / "taxonomy.yaml") == extended


def test_environment_variable_picks_the_taxonomy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_taxonomy(Taxonomy(load_taxonomy().categories[:2]), tmp_path / "mine.yaml")
    monkeypatch.setenv(TAXONOMY_PATH_ENV, str(tmp_path / "mine.yaml"))
    assert len(load_taxonomy()) == 2


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("categories: [oops", "not valid YAML"),
        ("just text", "non-empty 'categories' list"),
        ("categories:\n  - id: a b\n    name_zh: 甲\n    name_en: A\n", "'id'"),
        ("categories:\n  - id: a\n    name_en: A\n", "'name_zh'"),
        (
            "categories:\n  - {id: a, name_zh: 甲, name_en: A}\n  - {id: a, name_zh: 乙, name_en: B}\n",
            "duplicate",
        ),
        ("categories:\n  - {id: a, name_zh: 甲, name_en: A, keywords_zh: 价格}\n", "keywords_zh"),
    ],
)
def test_malformed_taxonomy_names_file_and_problem(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=problem) as error:
        load_taxonomy(path)
    assert str(path) in str(error.value)


def test_missing_file_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        load_taxonomy(tmp_path / "absent.yaml")
