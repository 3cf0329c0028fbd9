"""Learning from people: corrections become a new model version that then analyses new feedback."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from closeloop.cli import app
from closeloop.jobs.events import process_pending
from closeloop.store.models import Analysis, FeedbackItem, ModelVersion

REFUND = [
    "我要退款，东西不想要了",
    "申请退款三天了还没处理",
    "退款什么时候到账",
    "请尽快给我退款",
    "不退款我就投诉",
    "退款流程太麻烦",
    "客服说可以退款但一直没退",
    "麻烦退款到原账户",
]
OTHER = [
    "快递很快，第二天就到了",
    "质量不错，做工精细",
    "颜色很好看",
    "价格实惠，性价比高",
    "包装很用心",
    "客服回复很及时",
    "尺码合适",
    "会推荐给朋友",
]


def test_corrections_retrain_and_activate_a_new_version(client, db, tmp_path):
    items = [{"text": t, "channel": "taobao", "external_id": f"r{i}"} for i, t in enumerate(REFUND + OTHER)]
    ids = client.post("/api/v1/feedback/batch", json={"items": items}).json()["ids"]
    process_pending(db)
    for item_id, text in zip(ids, REFUND + OTHER, strict=True):
        label = {"categories": ["退款"]} if text in REFUND else {"categories": []}
        label["sentiment"] = "negative" if text in REFUND else "positive"
        assert client.post(f"/api/v1/feedback/{item_id}/labels", json=label).status_code == 201

    model_dir = tmp_path / "model-v2"
    result = CliRunner().invoke(app, ["model", "retrain", "--model-dir", str(model_dir), "--activate"])
    assert result.exit_code == 0, result.output
    with db() as session:
        active = session.scalars(select(ModelVersion).where(ModelVersion.is_active.is_(True))).one()
        assert active.path == str(model_dir.resolve()) and active.version.startswith("user-")

    new_id = client.post(
        "/api/v1/feedback", json={"text": "退款申请被拒绝了，要求退款", "channel": "jd"}
    ).json()["ids"][0]
    process_pending(db)
    with db() as session:
        analysis = session.scalars(select(Analysis).where(Analysis.feedback_id == new_id)).one()
        assert analysis.model_version == active.version
        assert "退款" in analysis.categories
        assert session.get(FeedbackItem, new_id) is not None
    listed = CliRunner().invoke(app, ["model", "list"])
    assert active.version in listed.output


def test_retrain_without_corrections_is_a_clear_error(settings, tmp_path):
    result = CliRunner().invoke(app, ["model", "retrain", "--model-dir", str(tmp_path / "m")])
    assert result.exit_code == 2 and "no corrections" in result.output
