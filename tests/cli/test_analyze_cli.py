"""The `closeloop analyze | train | evaluate` contract, through the real command line app."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from closeloop.cli import app

RESULT_COLUMNS = [
    "language",
    "sentiment",
    "sentiment_score",
    "complaint",
    "categories",
    "aspects",
    "confidence",
    "error",
]
FEEDBACK = [
    ("1", "送餐很快，味道很好，下次还点"),
    ("2", "等了两个小时才送到，饭都凉了，我要退款"),
    ("3", "Great battery life, I love this phone."),
    ("4", ""),
    ("5", "The food was cold and the waiter was rude. Never coming back."),
]

runner = CliRunner()


def write_csv(path: Path, header: list[str], rows: list[tuple[str, ...]], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def read_csv_text(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def feedback_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "feedback.csv", ["id", "text"], FEEDBACK)


def test_help_works_for_each_command() -> None:
    for command in ("analyze", "train", "evaluate"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "--text-column" in result.output


def test_analyze_appends_result_columns_in_order(feedback_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["analyze", str(feedback_csv), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text("utf-8")
    header = next(csv.reader(io.StringIO(text)))
    assert header == ["id", "text", *RESULT_COLUMNS]
    rows = read_csv_text(text)
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert [r["language"] for r in rows] == ["zh", "zh", "en", "und", "en"]
    assert [r["sentiment"] for r in rows] == ["positive", "negative", "positive", "neutral", "negative"]
    assert [r["complaint"] for r in rows] == ["false", "true", "false", "false", "true"]
    for row in rows:
        assert -1.0 <= float(row["sentiment_score"]) <= 1.0
        assert 0.0 <= float(row["confidence"]) <= 1.0
        assert row["error"] == ""
        assert all(":" in pair for pair in row["aspects"].split(";") if pair)


def test_analyze_writes_csv_to_stdout_without_output(feedback_csv: Path) -> None:
    result = runner.invoke(app, ["analyze", str(feedback_csv), "--fast"])
    assert result.exit_code == 0, result.output
    rows = read_csv_text(result.stdout)
    assert len(rows) == len(FEEDBACK)
    assert rows[2]["sentiment"] == "positive"


def test_wrong_text_column_lists_the_columns_found(feedback_csv: Path) -> None:
    result = runner.invoke(app, ["analyze", str(feedback_csv), "--text-column", "comment"])
    assert result.exit_code == 2
    assert "comment" in result.output
    assert "id, text" in result.output


def test_bad_rows_get_an_error_cell_and_keep_their_place(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("id,text\n1,很好吃\n2,太难吃了,extra,cells\n3\n4,Great food\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["analyze", str(path), "-o", str(out), "--fast"])
    assert result.exit_code == 0, result.output
    rows = read_csv_text(out.read_text("utf-8"))
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]
    assert [bool(r["error"]) for r in rows] == [False, True, True, False]
    assert "cells" in rows[1]["error"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "gb18030"])
def test_input_encodings(tmp_path: Path, encoding: str) -> None:
    path = write_csv(
        tmp_path / "in.csv", ["评论", "编号"], [("质量很好，非常满意", "a"), ("太差了，退货", "b")], encoding
    )
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["analyze", str(path), "-o", str(out), "--text-column", "评论", "--fast"])
    assert result.exit_code == 0, result.output
    rows = read_csv_text(out.read_bytes().decode("utf-8"))  # output is plain UTF-8
    assert [r["评论"] for r in rows] == ["质量很好，非常满意", "太差了，退货"]
    assert [r["sentiment"] for r in rows] == ["positive", "negative"]


def test_jsonl_input_and_output(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "很好吃", "stars": 5}\nnot json\n{"text": "The food was awful"}\n', "utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["analyze", str(path), "-o", str(out), "--fast"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(records) == 3
    assert records[0]["sentiment"] == "positive" and records[0]["stars"] == "5"
    assert records[1]["error"]
    assert records[2]["sentiment"] == "negative"


def test_input_column_named_like_a_result_is_kept(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", ["text", "sentiment"], [("很好吃", "1")])
    result = runner.invoke(app, ["analyze", str(path), "--fast"])
    assert result.exit_code == 0, result.output
    (row,) = read_csv_text(result.stdout)
    assert row["sentiment_input"] == "1"
    assert row["sentiment"] == "positive"


def test_evaluate_figures_on_a_hand_checked_example(tmp_path: Path) -> None:
    rows = [
        ("非常好吃，送餐也快，五星好评", "1"),
        ("质量很好，物超所值", "1"),
        ("I love it, works perfectly.", "1"),
        ("太难吃了，再也不点了", "0"),
        ("用了两天就坏了，质量太差", "0"),
        ("Terrible, broke after one day.", "0"),
        ("The service was excellent and friendly.", "0"),  # deliberately mislabelled: one sure miss
        ("差评，东西是坏的", "1"),  # deliberately mislabelled: one sure miss
    ]
    path = write_csv(tmp_path / "gold.csv", ["text", "label"], rows)
    result = runner.invoke(app, ["evaluate", str(path), "--sentiment-column", "label", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    sentiment = report["sentiment"]
    assert sentiment["rows"] == 8
    assert sentiment["binary_accuracy"] == pytest.approx(6 / 8)
    assert sentiment["accuracy"] == pytest.approx(6 / 8)
    assert sentiment["confusion_matrix"]["labels"] == ["negative", "positive"]
    assert sentiment["confusion_matrix"]["matrix"] == [[3, 1], [1, 3]]
    assert sentiment["per_class"]["positive"]["precision"] == pytest.approx(0.75)
    assert sentiment["macro_f1"] == pytest.approx(0.75)


def test_evaluate_prints_tables(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "gold.csv", ["text", "label"], [("很好", "positive"), ("很差", "negative")])
    result = runner.invoke(app, ["evaluate", str(path), "--fast"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "confusion matrix" in result.stdout


def test_train_then_analyze_with_the_model(tmp_path: Path) -> None:
    rows = [(f"订单{i} 这次是 zork 体验", "negative") for i in range(25)]
    rows += [(f"订单{i} 这次是 blip 体验", "positive") for i in range(25)]
    path = write_csv(tmp_path / "labelled.csv", ["text", "gold"], rows)
    model_dir = tmp_path / "model"
    result = runner.invoke(
        app, ["train", str(path), "--model-dir", str(model_dir), "--sentiment-column", "gold"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((model_dir / "model.json").read_text("utf-8"))["version"].startswith("user-")
    sample = write_csv(
        tmp_path / "new.csv", ["text"], [("订单77 这次是 zork 体验",), ("订单77 这次是 blip 体验",)]
    )
    result = runner.invoke(app, ["analyze", str(sample), "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert [r["sentiment"] for r in read_csv_text(result.stdout)] == ["negative", "positive"]


def test_train_with_a_wrong_label_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "labelled.csv", ["text", "gold"], [("好", "1")])
    result = runner.invoke(
        app, ["train", str(path), "--model-dir", str(tmp_path / "m"), "--sentiment-column", "stars"]
    )
    assert result.exit_code == 2
    assert "stars" in result.output and "text, gold" in result.output


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["analyze", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
