"""`closeloop model adapt` through the real command line app: unlabelled file in, a model `analyze --fast`
reads out, and clear errors for bad input."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from closeloop.analysis.engine import DEFAULT_MODEL_DIR, read_manifest
from closeloop.cli import app

runner = CliRunner()
ADAPT = ["model", "adapt"]
GOOD = ["送餐很快", "味道很好", "分量很足", "包装很用心", "下次还点"]
BAD = ["送得太慢", "饭都凉了", "味道很差", "分量太少", "再也不点了"]


def feedback_rows() -> list[dict[str, str]]:
    """40 distinct unlabelled Chinese reviews with an id column."""
    texts = [f"{a}，{b}" for a, b in itertools.permutations(GOOD, 2)]
    texts += [f"{a}，{b}" for a, b in itertools.permutations(BAD, 2)]
    return [{"id": str(i), "comment": text} for i, text in enumerate(texts)]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_help_lists_adapt_under_model() -> None:
    result = runner.invoke(app, ["model", "--help"])
    assert result.exit_code == 0, result.output
    assert "adapt" in result.output
    result = runner.invoke(app, ["model", "adapt", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--model-dir", "--text-column", "--model", "--max-texts"):
        assert option in result.output


def test_adapt_jsonl_then_analyze_fast_with_the_model(tmp_path: Path) -> None:
    feedback = tmp_path / "feedback.jsonl"
    feedback.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in feedback_rows()), encoding="utf-8"
    )
    model_dir = tmp_path / "adapted"
    result = runner.invoke(
        app, ["model", "adapt", str(feedback), "--model-dir", str(model_dir), "--text-column", "comment"]
    )
    assert result.exit_code == 0, result.output
    version = read_manifest(model_dir)["version"]
    assert version.startswith("adapted-") and version in result.output
    assert read_manifest(model_dir)["adapted"]["texts"] == 40

    sample = write_csv(tmp_path / "new.csv", [{"id": "1", "comment": "饭都凉了，味道很差"}])
    out = tmp_path / "out.csv"
    result = runner.invoke(
        app,
        [
            "analyze",
            str(sample),
            "--text-column",
            "comment",
            "--model",
            str(model_dir),
            "--fast",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0]["sentiment"] == "negative" and rows[0]["error"] == ""
    assert f"{version}+fast" in result.output


def test_max_texts_caps_the_sample(tmp_path: Path) -> None:
    feedback = write_csv(tmp_path / "feedback.csv", feedback_rows())
    model_dir = tmp_path / "adapted"
    options = ["--text-column", "comment", "--max-texts", "25", "--model", str(DEFAULT_MODEL_DIR)]
    result = runner.invoke(app, [*ADAPT, str(feedback), "--model-dir", str(model_dir), *options])
    assert result.exit_code == 0, result.output
    assert read_manifest(model_dir)["adapted"]["texts"] == 25


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("", [], "column 'text' not found"),
        ("id,comment\n", ["--text-column", "comment"], "need at least"),
        ("id,comment\n1,很好\n", [], "column 'text' not found in"),
        ("id,comment\n1,很好\n", ["--text-column", "comment", "--max-texts", "0"], "at least 1"),
    ],
    ids=["empty-file", "header-only", "wrong-column", "bad-cap"],
)
def test_bad_input_gives_a_clear_error(tmp_path: Path, content: str, extra: list[str], message: str) -> None:
    feedback = tmp_path / "feedback.csv"
    feedback.write_text(content, encoding="utf-8")
    model_dir = tmp_path / "adapted"
    result = runner.invoke(app, ["model", "adapt", str(feedback), "--model-dir", str(model_dir), *extra])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not model_dir.exists()


def test_missing_file_and_missing_base_model(tmp_path: Path) -> None:
    result = runner.invoke(app, [*ADAPT, str(tmp_path / "nope.csv"), "--model-dir", str(tmp_path / "m")])
    assert result.exit_code == 2 and "no such file" in result.output
    rows = [{"id": row["id"], "text": row["comment"]} for row in feedback_rows()]
    feedback = write_csv(tmp_path / "feedback.csv", rows)
    options = ["--model-dir", str(tmp_path / "m"), "--model", str(tmp_path / "no-model")]
    result = runner.invoke(app, [*ADAPT, str(feedback), *options])
    assert result.exit_code == 2 and "not a closeloop model directory" in " ".join(result.output.split())
