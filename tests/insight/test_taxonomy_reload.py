"""A category added to the active model's taxonomy reaches every reader: the engine of a process that did
not make the change (no cache cleared), routing-rule validation and the dashboard's category names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from closeloop.act.jobs import replace_rules
from closeloop.analysis.taxonomy import Category, Taxonomy, active_taxonomy, save_taxonomy
from closeloop.insight.aggregates import category_names
from closeloop.jobs.analysis import active_engine


def add_points_category(model_dir: Path) -> None:
    """What another process (the web app) does: write the taxonomy file; this process clears nothing."""
    taxonomy = active_taxonomy(model_dir)
    category = Category(
        id="loyalty_points", name_zh="会员积分", name_en="Loyalty points",
        keywords_zh=("积分",), keywords_en=("points",), examples=(), description="",
    )  # fmt: skip
    path = model_dir / "taxonomy.yaml"
    save_taxonomy(Taxonomy(categories=[*taxonomy.categories, category]), path)
    stat = path.stat()  # make sure the modification time moves even on coarse file systems
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_an_engine_in_another_process_picks_up_a_new_category(db, model_dir):
    with db() as session:
        before = active_engine(session)
    assert "loyalty_points" not in before.analyze(["积分又没到账，太失望了"])[0].categories
    add_points_category(model_dir)
    with db() as session:
        after = active_engine(session)
    assert after is not before
    assert "loyalty_points" in after.analyze(["积分又没到账，太失望了"])[0].categories
    with db() as session:
        assert active_engine(session) is after  # loaded once per change, not per call


def test_routing_rules_and_dashboard_names_know_the_new_category(db, model_dir):
    rule = {
        "id": "points",
        "name": "积分 points",
        "when": {"categories_any": ["loyalty_points"]},
        "then": {"team": "crm"},
    }
    with db() as session, pytest.raises(ValueError, match="loyalty_points"):
        replace_rules(session, [rule])
    assert category_names("loyalty_points") == ("loyalty_points", "loyalty_points")
    add_points_category(model_dir)
    with db() as session:
        assert [r.id for r in replace_rules(session, [rule])] == ["points"]
    assert category_names("loyalty_points") == ("会员积分", "Loyalty points")
    assert category_names("packaging")[1] == "Packaging"  # packaged categories keep their names
