"""Emerging topics over the API: themes only from feedback no category covers (with phrases, counts, examples
and near-duplicates, honouring the filters), the taxonomy, adding a category from a theme (written to the
model directory, used by the next analysis, audited) and a routing rule from a theme (first in the rule set,
audited); viewers read, analysts change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml
from sqlalchemy import select

from closeloop.analysis.engine import DEFAULT_MODEL_DIR
from closeloop.collect.ingest import write_batch
from closeloop.collect.records import FeedbackRecord
from closeloop.jobs.analysis import active_engine, analyse_items
from closeloop.store.models import Analysis, AuditEntry, Team

# Loyalty points: a theme the packaged taxonomy has no category for (all on jd).
POINTS = [
    "会员积分怎么一直不到账",
    "积分兑换失败好几次了",
    "积分兑换失败好几次了！！",
    "积分清零了也没通知",
    "我的积分兑换一直显示失败",
    "积分到底什么时候到账",
    "积分兑换总是失败，积分也没了",
    "会员积分一直不到账，好几天了",
]
# Other uncovered feedback, on taobao.
OTHER = [
    "用了5个月了，没出过问题",
    "小巧精致，不占地方",
    "这个和上一代有什么区别？",
    "烧水很快，三五分钟就开了",
]
# Covered feedback mentioning points: its stored category keeps it out of every theme.
COVERED = ["积分兑换的快递三天才到", "积分抵扣后价格还行"]


def seed(db) -> dict[str, int]:
    """The texts above as analysed items (uncovered ones with no category); returns text → id."""
    now = datetime.now(UTC).replace(microsecond=0)
    rows = (
        [(text, "jd", []) for text in POINTS]
        + [(text, "taobao", []) for text in OTHER]
        + [(text, "jd", ["logistics"]) for text in COVERED]
    )
    records = [
        FeedbackRecord(text=text, channel=channel, created_at=now - timedelta(days=1, minutes=n))
        for n, (text, channel, _) in enumerate(rows)
    ]
    with db() as session:
        ids = write_batch(session, records, emit_event=False, redact_pii=False).item_ids
        for item_id, (_, _, categories) in zip(ids, rows, strict=True):
            session.add(
                Analysis(
                    feedback_id=item_id,
                    model_version="test-fixed",
                    language="zh",
                    sentiment="negative",
                    complaint=True,
                    categories=categories,
                    aspects=[],
                )
            )
        session.commit()
    return dict(zip([row[0] for row in rows], ids, strict=True))


def points_theme(document: dict) -> dict | None:
    """The theme about loyalty points (积分), if listed."""
    for theme in document["themes"]:
        if any("积分" in phrase for phrase in theme["phrases"]):
            return theme
    return None


def test_themes_come_from_uncovered_feedback_only(client_as, db):
    ids = seed(db)
    viewer = client_as("viewer")
    response = viewer.get("/api/v1/topics", params={"min_size": 3})
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["uncovered"] == len(POINTS) + len(OTHER)
    assert document["scanned"] == len(ids) - len(COVERED)  # items with a stored category are not read
    theme = points_theme(document)
    assert theme is not None, document["themes"]
    assert theme["count"] >= 5 and theme["count"] == len(theme["item_ids"])
    assert set(theme["item_ids"]) <= {ids[text] for text in POINTS}
    assert all("积分" in example["text"] for example in theme["examples"])
    assert {example["id"] for example in theme["examples"]} <= set(theme["item_ids"])
    suggested = theme["suggested_category"]
    assert suggested["keywords"] and any("积分" in keyword for keyword in suggested["keywords"])
    assert "积分" in suggested["name_zh"]
    covered = {ids[text] for text in COVERED}
    assert all(not covered & set(t["item_ids"]) for t in document["themes"])
    # The two wordings of "exchange failed several times" are one near-duplicate group.
    groups = [set(group["item_ids"]) for group in document["duplicate_groups"]]
    assert {ids[POINTS[1]], ids[POINTS[2]]} in groups


def test_topics_honour_the_channel_filter_and_bad_filters_are_refused(client_as, db):
    seed(db)
    viewer = client_as("viewer")
    on_taobao = viewer.get("/api/v1/topics", params={"min_size": 3, "channel": "taobao"}).json()
    assert on_taobao["uncovered"] == len(OTHER)
    assert points_theme(on_taobao) is None
    assert viewer.get("/api/v1/topics", params={"since": "last tuesday"}).status_code == 422
    assert viewer.get("/api/v1/topics", params={"max_items": 1}).status_code == 422
    assert client_as(None).get("/api/v1/topics").status_code == 401


def test_a_theme_becomes_a_category_that_new_analyses_use(client_as, db, model_dir):
    seed(db)
    analyst, viewer = client_as("analyst"), client_as("viewer")
    before = viewer.get("/api/v1/taxonomy").json()
    assert before["editable"] and before["writes_to"] == str(model_dir / "taxonomy.yaml")
    assert "loyalty_points" not in [c["id"] for c in before["categories"]]

    body = {
        "name_zh": "会员积分",
        "name_en": "Loyalty points",
        "keywords": ["积分", "Loyalty points", "积分", "Treuepunkte", "ポイント", "бонусы"],
    }
    assert viewer.post("/api/v1/taxonomy/categories", json=body).status_code == 403
    created = analyst.post("/api/v1/taxonomy/categories", json=body)
    assert created.status_code == 201, created.text
    assert created.json() | {"description": ""} == {
        "id": "loyalty_points",
        "name_zh": "会员积分",
        "name_en": "Loyalty points",
        "keywords_zh": ["积分"],
        "keywords_en": ["loyalty points", "treuepunkte"],
        "keywords_intl": ["ポイント", "бонусы"],
        "description": "",
    }
    saved = yaml.safe_load((model_dir / "taxonomy.yaml").read_text(encoding="utf-8"))
    assert saved["categories"][-1]["id"] == "loyalty_points"
    assert len(saved["categories"]) == len(before["categories"]) + 1
    after = viewer.get("/api/v1/taxonomy").json()
    assert after["source"] == str(model_dir / "taxonomy.yaml")
    assert [c["id"] for c in after["categories"]][-1] == "loyalty_points"

    # Again, or by its Chinese name: refused. No keywords: refused.
    assert analyst.post("/api/v1/taxonomy/categories", json=body).status_code == 409
    again = {**body, "name_en": "", "name_zh": "会员积分"}
    assert analyst.post("/api/v1/taxonomy/categories", json=again).status_code == 409
    empty = {"name_zh": "空", "name_en": "Empty", "keywords": [" "]}
    assert analyst.post("/api/v1/taxonomy/categories", json=empty).status_code == 422

    # The theme is covered now; a newly analysed item gets the category (and only taxonomy ids).
    assert points_theme(viewer.get("/api/v1/topics", params={"min_size": 3}).json()) is None
    new_id = analyst.post(
        "/api/v1/feedback", json={"text": "积分又没到账，太失望了", "channel": "jd"}
    ).json()["ids"][0]
    with db() as session:
        engine = active_engine(session)
    assert engine.model_dir == model_dir
    assert analyse_items(db, [new_id], engine) == 1
    with db() as session:
        analysis = session.scalars(select(Analysis).where(Analysis.feedback_id == new_id)).one()
        assert "loyalty_points" in analysis.categories
        known = {c["id"] for c in after["categories"]}
        assert set(analysis.categories) <= known
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "taxonomy.category_added")
        ).one()
        assert entry.target == "category:loyalty_points" and entry.actor.startswith("analyst-")


def test_the_built_in_taxonomy_is_not_edited(client_as, monkeypatch):
    monkeypatch.delenv("CLOSELOOP_TAXONOMY_PATH", raising=False)
    view = client_as("viewer").get("/api/v1/taxonomy").json()
    assert view["source"] == "built-in" and not view["editable"]
    assert "CLOSELOOP_MODEL_DIR" in view["not_editable_because"]
    body = {"name_zh": "会员积分", "name_en": "Loyalty points", "keywords": ["积分"]}
    refused = client_as("admin").post("/api/v1/taxonomy/categories", json=body)
    assert refused.status_code == 409 and "CLOSELOOP_MODEL_DIR" in refused.json()["detail"]
    assert DEFAULT_MODEL_DIR.joinpath("taxonomy.yaml").exists() is False


def test_a_theme_becomes_a_routing_rule(client_as, db):
    seed(db)
    with db() as session:
        session.add(Team(name="membership", label_zh="会员部", label_en="Membership"))
        session.commit()
    analyst, viewer = client_as("analyst"), client_as("viewer")
    body = {"team": "membership", "keywords": ["积分", "Loyalty points"], "name_en": "Loyalty points"}
    assert viewer.post("/api/v1/topics/routing-rules", json=body).status_code == 403
    unknown = analyst.post("/api/v1/topics/routing-rules", json={**body, "team": "nobody"})
    assert unknown.status_code == 422 and "nobody" in unknown.text
    assert analyst.post("/api/v1/topics/routing-rules", json={"team": "membership"}).status_code == 422

    created = analyst.post("/api/v1/topics/routing-rules", json={**body, "priority": "high"})
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["id"] == "topic-loyalty_points"
    assert rule["when"] == {"keywords_any": ["积分", "Loyalty points"]}
    assert rule["then"]["team"] == "membership" and rule["then"]["priority"] == "high"
    rules = viewer.get("/api/v1/routing-rules").json()["rules"]
    assert rules[0] == rule
    second = analyst.post("/api/v1/topics/routing-rules", json=body).json()
    assert second["id"] == "topic-loyalty_points-2"

    # The stored rule matches what the theme talks about in a dry run.
    dry = analyst.post("/api/v1/routing-rules/dry-run", json={"rule": rule}).json()
    with db() as session:
        audited = session.scalars(
            select(AuditEntry.target).where(AuditEntry.action == "routing_rule.from_topic")
        ).all()
    assert sorted(audited) == ["routing_rule:topic-loyalty_points", "routing_rule:topic-loyalty_points-2"]
    assert len(dry["matched_ids"]) == len(POINTS) + len(COVERED)
