"""``closeloop topics`` and ``closeloop duplicates`` on small feedback files (CSV, JSONL)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from closeloop.cli import app

PACKAGING = [
    "包装破损，杯子碎了",
    "快递箱子压坏了，包装破损严重",
    "外包装破损，里面的盘子碎了两个",
    "包装破损，瓶子漏液了",
    "收到包装破损，玻璃壶碎了",
    "包装破损漏液，其他东西都弄脏了",
]
GIFTS = [  # a theme no default category covers
    "买给妈妈当生日礼物",
    "送给女儿的生日礼物",
    "生日礼物送老公",
    "买来当生日礼物送朋友",
    "给爸爸买的生日礼物",
    "作为生日礼物送同事",
]
DUPLICATES = [
    "客服一直不回复消息，等了三天",
    "客服一直不回复消息，等了三天！！😡",
    "客服一直不回复消息 等了三天",
]

runner = CliRunner()


def write_csv(path: Path, texts: list[str], column: str = "text") -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", column])
        writer.writerows([[n, text] for n, text in enumerate(texts, start=1)])
    return path


def write_jsonl(path: Path, texts: list[str]) -> Path:
    lines = [json.dumps({"id": n, "comment": text}, ensure_ascii=False) for n, text in enumerate(texts, 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_topics_json_over_all_texts(tmp_path):
    source = write_csv(tmp_path / "feedback.csv", PACKAGING + GIFTS)
    result = runner.invoke(
        app, ["topics", str(source), "--all", "--min-size", "3", "--max-topics", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["scope"] == "all" and report["rows"] == 12 and report["texts_clustered"] == 12
    assert len(report["topics"]) == 2
    rows_by_topic = [set(topic["rows"]) for topic in report["topics"]]
    # CSV rows are numbered as a spreadsheet shows them: the header is row 1.
    assert set(range(2, 8)) in rows_by_topic and set(range(8, 14)) in rows_by_topic
    for topic in report["topics"]:
        assert topic["phrases"] and topic["language"] == "zh"
        assert all(example["row"] in topic["rows"] for example in topic["examples"])


def test_topics_default_to_feedback_no_category_covers(tmp_path):
    source = write_csv(tmp_path / "feedback.csv", PACKAGING + GIFTS)
    result = runner.invoke(app, ["topics", str(source), "--min-size", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["scope"] == "uncovered"
    # Packaging complaints are covered by the taxonomy's packaging category; the gift mentions are not.
    assert report["texts_clustered"] < 12
    topic_rows = {row for topic in report["topics"] for row in topic["rows"]}
    assert topic_rows and topic_rows <= set(range(8, 14))


def test_topics_table_reads_jsonl_with_a_named_column(tmp_path):
    source = write_jsonl(tmp_path / "feedback.jsonl", PACKAGING + GIFTS)
    result = runner.invoke(
        app, ["topics", str(source), "--all", "--min-size", "3", "--text-column", "comment"]
    )
    assert result.exit_code == 0, result.output
    assert "key phrases" in result.stdout and "包装破损" in result.stdout


def test_topics_report_when_nothing_groups(tmp_path):
    source = write_csv(tmp_path / "feedback.csv", ["只有一条", "第二条完全不同"])
    result = runner.invoke(app, ["topics", str(source), "--all", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["topics"] == []


def test_missing_text_column_is_a_clear_error(tmp_path):
    source = write_csv(tmp_path / "feedback.csv", PACKAGING, column="review")
    for verb in ("topics", "duplicates"):
        result = runner.invoke(app, [verb, str(source)])
        assert result.exit_code == 2
        assert "column 'text' not found" in result.output and "review" in result.output


def test_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["duplicates", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_duplicates_json_groups_rewordings(tmp_path):
    source = write_csv(tmp_path / "feedback.csv", [*DUPLICATES, *GIFTS[:2], "物流很快"])
    result = runner.invoke(app, ["duplicates", str(source), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [group["rows"] for group in report["groups"]] == [[2, 3, 4]]
    assert report["groups"][0]["representative"]["row"] in (2, 3, 4)


@pytest.mark.parametrize(("threshold", "groups"), [("0.65", 1), ("1.0", 1), ("0.1", 1)])
def test_duplicates_threshold_option(tmp_path, threshold, groups):
    source = write_csv(tmp_path / "feedback.csv", [*DUPLICATES, "完全不同的另一条反馈"])
    result = runner.invoke(app, ["duplicates", str(source), "--threshold", threshold, "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["groups"]) == groups


def test_duplicates_threshold_above_one_is_refused(tmp_path):
    source = write_csv(tmp_path / "feedback.csv", DUPLICATES)
    result = runner.invoke(app, ["duplicates", str(source), "--threshold", "1.5"])
    assert result.exit_code == 2


def test_duplicates_table(tmp_path):
    source = write_csv(tmp_path / "feedback.csv", [*DUPLICATES, "物流很快"])
    result = runner.invoke(app, ["duplicates", str(source)])
    assert result.exit_code == 0, result.output
    assert "near-duplicates" in result.stdout and "2, 3, 4" in result.stdout
