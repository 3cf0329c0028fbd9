"""``closeloop model adapt``: adapt the fast mode to a user's own unlabelled feedback (no labels needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from closeloop.analysis.adapt import MAX_TEXTS
from closeloop.cli.analysis import _load_table
from closeloop.cli.common import err_console, fail
from closeloop.cli.model import model_app

# What each stage of adapt_model is called on the progress bar (English / 中文).
STAGE_LABELS = {
    "labelling": "labelling with the accurate model / 精确模式标注",
    "training": "training the fast student / 训练快速模型",
    "writing": "writing the model / 写入模型",
}


def adapt_command(
    file: Annotated[Path, typer.Argument(help="CSV or JSONL of unlabelled feedback / 未标注的反馈文件")],
    model_dir: Annotated[
        Path, typer.Option("--model-dir", help="Where to write the adapted model / 模型输出目录")
    ],
    text_column: Annotated[str, typer.Option(help="Column holding the feedback text / 文本所在列")] = "text",
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Model to adapt (default: built-in) / 基础模型目录（默认内置模型）"),
    ] = None,
    max_texts: Annotated[
        int,
        typer.Option(help="Label at most this many distinct texts (≈ 40–80/s) / 最多使用的文本条数"),
    ] = MAX_TEXTS,
) -> None:
    """Adapt --fast to your own unlabelled feedback / 让快速模式适应你自己的（未标注）反馈。

    Then analyse with / 之后使用: closeloop analyze FILE --model DIR --fast
    """
    from closeloop.analysis.adapt import adapt_model

    table = _load_table(file, [text_column])
    if max_texts < 1:
        fail("--max-texts must be at least 1 / --max-texts 至少为 1")
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
    )
    tasks: dict[str, int] = {}

    def show(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(STAGE_LABELS.get(stage, stage), total=total)
        progress.update(tasks[stage], completed=done, total=total)

    with progress:
        try:
            report = adapt_model(
                table.column(text_column), model_dir, base_model_dir=model, max_texts=max_texts, progress=show
            )
        except (FileNotFoundError, KeyError, ValueError) as exc:
            fail(str(exc))
    summary = Table(title=f"adapted model / 适应后的模型: {report.version}")
    summary.add_column("what")
    summary.add_column("value", justify="right")
    summary.add_row("model directory / 模型目录", str(report.model_dir))
    summary.add_row("base model / 基础模型", report.base_version)
    summary.add_row("texts learned from / 使用文本", str(report.texts))
    summary.add_row("skipped (empty, duplicate) / 跳过", str(report.skipped))
    summary.add_row("left out by --max-texts / 超出上限", str(report.sampled_out))
    summary.add_row("languages / 语言", json.dumps(report.languages, ensure_ascii=False))
    summary.add_row(
        "fast agrees with accurate / 快速与精确一致",
        f"{report.agreement_before:.1%} → {report.agreement_after:.1%}",
    )
    summary.add_row("seconds / 秒", f"{report.seconds:.1f}")
    err_console.print(summary)
    err_console.print(
        f"use it with / 使用方法: closeloop analyze FILE --model {report.model_dir} --fast", highlight=False
    )


def register(app: typer.Typer) -> None:
    """Add ``adapt`` to the ``model`` group (registered by ``closeloop.cli.model``)."""
    model_app.command("adapt")(adapt_command)
