"""``closeloop topics | duplicates``: emerging themes and near-duplicate feedback in a CSV/JSONL/XLSX file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from closeloop.analysis.topics import DUPLICATE_THRESHOLD
from closeloop.cli.common import err_console, fail, progress_bar

EMBED_BATCH = 64
EXAMPLE_CHARS = 80  # example texts are cut to this length in the table
TABLE_EXAMPLES = 2


@dataclass
class FeedbackTexts:
    """The texts of one column of a feedback file, with the file row number of each."""

    texts: list[str]
    rows: list[int]
    unreadable: int  # rows that could not be read at all


def _quiet_jieba() -> None:
    """jieba announces loading its dictionary on stderr; the CLI shows its own progress instead."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)


def read_texts(path: Path, text_column: str) -> FeedbackTexts:
    """The ``text_column`` cells of a CSV / JSON Lines / XLSX file (encoding detected), with row numbers."""
    from closeloop.collect.files import FileFormatError, open_rows

    texts: list[str] = []
    rows: list[int] = []
    unreadable = 0
    try:
        with open_rows(path) as source, progress_bar("reading / 读取", transient=True) as progress:
            task = progress.add_task("reading", total=source.progress()[1])
            checked = False
            for row in source:
                if not checked and row.values is not None:
                    _require_column(path, text_column, source.columns)
                    checked = True
                if row.values is None:
                    unreadable += 1
                    continue
                cell = row.values.get(text_column)
                texts.append("" if cell is None else str(cell))
                rows.append(row.row_number)
                progress.update(task, completed=source.progress()[0])
            if not checked:
                _require_column(path, text_column, source.columns)
    except FileFormatError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")
    return FeedbackTexts(texts, rows, unreadable)


def _require_column(path: Path, name: str, columns: Sequence[str]) -> None:
    if name not in columns:
        found = ", ".join(columns) if columns else "(none)"
        fail(
            f"column '{name}' not found in {path}; columns found: {found} / "
            f"未找到列 '{name}'，文件中的列：{found}"
        )


def embed_texts(texts: Sequence[str]) -> Any:
    """e5 embeddings of ``texts`` in batches, with a progress bar (about 50–70 short texts/s on 2 cores)."""
    import numpy as np

    from closeloop.analysis.categories import embed_feedback

    parts = []
    with progress_bar("embedding / 向量化", transient=True) as progress:
        task = progress.add_task("embedding", total=len(texts))
        for start in range(0, len(texts), EMBED_BATCH):
            parts.append(embed_feedback(list(texts[start : start + EMBED_BATCH])))
            progress.update(task, completed=min(start + EMBED_BATCH, len(texts)))
    return np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)


def uncovered_positions(texts: Sequence[str]) -> list[int]:
    """Positions of the texts the default taxonomy's categories do not cover (keyword detector)."""
    from closeloop.analysis.categories import CategoryDetector
    from closeloop.analysis.taxonomy import load_taxonomy
    from closeloop.analysis.topics import uncovered

    detector = CategoryDetector.default(load_taxonomy())
    found = detector.predict(list(texts))
    return uncovered(list(texts), [[category for category, _ in row] for row in found])


def _clip(text: str, limit: int = EXAMPLE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def topics_command(
    file: Annotated[Path, typer.Argument(help="CSV, JSONL or XLSX of feedback / 反馈文件")],
    text_column: Annotated[str, typer.Option(help="Column holding the feedback text / 文本所在列")] = "text",
    min_size: Annotated[int, typer.Option(min=2, help="Fewest texts in a topic / 每个主题最少条数")] = 5,
    max_topics: Annotated[int, typer.Option(min=1, help="Most topics shown / 最多主题数")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object / 输出 JSON")] = False,
    embed: Annotated[
        bool,
        typer.Option(
            "--embed/--no-embed", help="Cluster on e5 sentence embeddings (slow, ~60 texts/s) / 使用语义向量"
        ),
    ] = False,
    uncovered_only: Annotated[
        bool,
        typer.Option(
            "--uncovered-only/--all",
            help="Only feedback no category covers (default), or all / 仅未归类的反馈（默认）或全部",
        ),
    ] = True,
) -> None:
    """Emerging topics: group feedback into themes with key phrases / 新兴主题：聚类反馈并给出关键词。"""
    from closeloop.analysis.topics import find_topics

    _quiet_jieba()
    feedback = read_texts(file, text_column)
    positions = list(range(len(feedback.texts)))
    if uncovered_only:
        with err_console.status("finding feedback no category covers / 查找未归类的反馈…"):
            positions = uncovered_positions(feedback.texts)
    texts = [feedback.texts[i] for i in positions]
    embeddings = embed_texts(texts) if embed and texts else None
    with err_console.status("finding topics / 聚类主题…"):
        topics = find_topics(texts, min_size=min_size, max_topics=max_topics, embeddings=embeddings)

    def row_of(index: int) -> int:
        return feedback.rows[positions[index]]

    summary = {
        "file": str(file),
        "rows": len(feedback.texts),
        "unreadable_rows": feedback.unreadable,
        "scope": "uncovered" if uncovered_only else "all",
        "texts_clustered": len(texts),
        "texts_in_topics": sum(topic.size for topic in topics),
        "embeddings": bool(embed),
    }
    if as_json:
        summary["topics"] = [
            {
                "id": topic.id,
                "size": topic.size,
                "phrases": topic.phrases,
                "language": topic.language,
                "examples": [{"row": row_of(i), "text": texts[i]} for i in topic.examples],
                "rows": [row_of(i) for i in topic.members],
            }
            for topic in topics
        ]
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    table = Table(title=f"topics / 主题 ({summary['scope']}: {len(texts)} texts, {len(topics)} topics)")
    table.add_column("#", justify="right")
    table.add_column("size / 数量", justify="right")
    table.add_column("key phrases / 关键词")
    table.add_column("examples / 示例")
    for topic in topics:
        examples = "\n".join(f"· {_clip(texts[i])}" for i in topic.examples[:TABLE_EXAMPLES])
        table.add_row(str(topic.id), str(topic.size), ", ".join(topic.phrases), examples)
    Console(soft_wrap=False).print(table)
    if not topics:
        err_console.print(
            f"no topic of at least {min_size} texts found / 没有找到不少于 {min_size} 条的主题",
            highlight=False,
        )


def duplicates_command(
    file: Annotated[Path, typer.Argument(help="CSV, JSONL or XLSX of feedback / 反馈文件")],
    text_column: Annotated[str, typer.Option(help="Column holding the feedback text / 文本所在列")] = "text",
    threshold: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Similarity needed, 0–1; higher = stricter / 相似度阈值，越高越严格"
        ),
    ] = DUPLICATE_THRESHOLD,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object / 输出 JSON")] = False,
) -> None:
    """Near-duplicates: group feedback that says the same thing / 近似重复：把说同一件事的反馈归为一组。"""
    from closeloop.analysis.topics import near_duplicates

    feedback = read_texts(file, text_column)
    with err_console.status("grouping near-duplicates / 查找近似重复…"):
        groups = near_duplicates(feedback.texts, threshold=threshold)
    rows = feedback.rows
    if as_json:
        report = {
            "file": str(file),
            "rows": len(feedback.texts),
            "unreadable_rows": feedback.unreadable,
            "threshold": threshold,
            "groups": [
                {
                    "size": len(group.members),
                    "representative": {
                        "row": rows[group.representative],
                        "text": feedback.texts[group.representative],
                    },
                    "rows": [rows[i] for i in group.members],
                }
                for group in groups
            ],
        }
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    duplicated = sum(len(group.members) for group in groups)
    table = Table(
        title=f"near-duplicates / 近似重复 ({len(groups)} groups, {duplicated} / {len(feedback.texts)} texts)"
    )
    table.add_column("#", justify="right")
    table.add_column("size / 数量", justify="right")
    table.add_column("representative / 代表文本")
    table.add_column("rows / 行号")
    for number, group in enumerate(groups, start=1):
        listed = _row_list([rows[i] for i in group.members])
        table.add_row(
            str(number), str(len(group.members)), _clip(feedback.texts[group.representative]), listed
        )
    Console(soft_wrap=False).print(table)


def _row_list(numbers: Sequence[int], shown: int = 10) -> str:
    """Row numbers joined by commas, the rest summarised as "… (+N)"."""
    text = ", ".join(str(n) for n in numbers[:shown])
    return text if len(numbers) <= shown else f"{text} … (+{len(numbers) - shown})"


def register(app: typer.Typer) -> None:
    app.command("topics")(topics_command)
    app.command("duplicates")(duplicates_command)
