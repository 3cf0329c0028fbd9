"""``closeloop analyze | train | evaluate``: the analysis engine on a file of feedback (CSV or JSONL)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.table import Table

from closeloop.cli.common import err_console, fail, progress_bar

# Columns ``analyze`` appends, in this order (the contract of the command).
RESULT_COLUMNS = (
    "language",
    "sentiment",
    "sentiment_score",
    "complaint",
    "categories",
    "aspects",
    "confidence",
    "error",
)
# Guessed gold sentiment columns when none is named.
SENTIMENT_COLUMN_GUESSES = ("sentiment", "label", "情感", "标签")
BATCH_ROWS = 64
FAST_BATCH_ROWS = 2000


@dataclass
class FeedbackTable:
    """The rows of an input file: column names and one dict of cells per row, plus per-row read problems."""

    columns: list[str]
    rows: list[dict[str, str]]
    problems: list[str | None]

    def column(self, name: str) -> list[str]:
        return [row.get(name, "") for row in self.rows]


def decode_bytes(raw: bytes) -> str:
    """Decode UTF-8 (with or without BOM), falling back to GB18030 (a superset of GBK) for Chinese exports."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace")


def parse_csv(text: str) -> FeedbackTable:
    """Rows of a CSV text; a row with a different number of cells than the header is kept and flagged."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return FeedbackTable([], [], [])
    columns = [name.strip() for name in header]
    rows, problems = [], []
    for cells in reader:
        if not cells:
            continue
        rows.append({name: cells[i] if i < len(cells) else "" for i, name in enumerate(columns)})
        problems.append(
            None if len(cells) == len(columns) else f"row has {len(cells)} cells, header has {len(columns)}"
        )
    return FeedbackTable(columns, rows, problems)


def parse_jsonl(text: str) -> FeedbackTable:
    """Rows of a JSON Lines text (one object per line); a line that is not an object becomes an error row."""
    columns: list[str] = []
    rows, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            rows.append({})
            problems.append(f"line {number}: {exc}")
            continue
        for key in record:
            if key not in columns:
                columns.append(key)
        rows.append(
            {
                k: "" if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                for k, v in record.items()
            }
        )
        problems.append(None)
    return FeedbackTable(columns, rows, problems)


def read_feedback_file(path: Path) -> FeedbackTable:
    """Read a CSV or JSONL (``.jsonl``/``.ndjson``) file of feedback in UTF-8, UTF-8-BOM or GBK/GB18030."""
    text = decode_bytes(path.read_bytes())
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return parse_jsonl(text)
    return parse_csv(text)


def _load_table(file: Path, required: Sequence[str | None]) -> FeedbackTable:
    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        table = read_feedback_file(file)
    except OSError as exc:
        fail(f"{file}: {exc.strerror or exc}")
    for name in required:
        if name is not None and name not in table.columns:
            found = ", ".join(table.columns) if table.columns else "(none)"
            fail(
                f"column '{name}' not found in {file}; columns found: {found} / "
                f"未找到列 '{name}'，文件中的列：{found}"
            )
    return table


def _load_engine(model: Path | None, fast: bool) -> Any:
    from closeloop.analysis.engine import Engine

    try:
        return Engine.load(model, fast=fast)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        fail(f"cannot load model {model}: {exc}")


def analyze_table(engine: Any, table: FeedbackTable, text_column: str, label: str = "analyzing") -> list[Any]:
    """Engine results for every row, in order, with a progress bar; read problems go into ``error``."""
    texts = table.column(text_column)
    results: list[Any] = []
    step = FAST_BATCH_ROWS if engine.fast else BATCH_ROWS
    with progress_bar(label) as progress:
        task = progress.add_task(label, total=len(texts))
        for start in range(0, len(texts), step):
            results.extend(engine.analyze(texts[start : start + step]))
            progress.update(task, completed=min(start + step, len(texts)))
    for result, problem in zip(results, table.problems, strict=True):
        if problem and not result.error:
            result.error = problem
    return results


def _output_columns(columns: list[str]) -> tuple[list[str], dict[str, str]]:
    """Output header and the renaming of input columns whose names clash with result columns."""
    renamed = {name: f"{name}_input" for name in columns if name in RESULT_COLUMNS}
    return [renamed.get(name, name) for name in columns] + list(RESULT_COLUMNS), renamed


def write_results(table: FeedbackTable, results: Sequence[Any], out: TextIO, *, jsonl: bool = False) -> None:
    """Every input column (clashing names get ``_input``) followed by the result columns."""
    header, renamed = _output_columns(table.columns)
    if jsonl:
        for row, result in zip(table.rows, results, strict=True):
            record: dict[str, Any] = {renamed.get(k, k): v for k, v in row.items()}
            record.update(
                language=result.language,
                sentiment=result.sentiment,
                sentiment_score=result.sentiment_score,
                complaint=result.complaint,
                categories=result.categories,
                aspects=[f"{c}:{p}" for c, p in result.aspects],
                confidence=result.confidence,
                error=result.error,
            )
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row, result in zip(table.rows, results, strict=True):
        cells = result.as_row()
        writer.writerow(
            [row.get(name, "") for name in table.columns] + [cells[name] for name in RESULT_COLUMNS]
        )


def analyze_command(
    file: Annotated[Path, typer.Argument(help="CSV or JSONL of feedback / 反馈文件（CSV 或 JSONL）")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here (.csv or .jsonl); default stdout.")
    ] = None,
    text_column: Annotated[str, typer.Option(help="Column holding the feedback text / 文本所在列")] = "text",
    model: Annotated[
        Path | None, typer.Option(help="Model directory from `closeloop train` (default: built-in).")
    ] = None,
    fast: Annotated[
        bool, typer.Option("--fast", help="Skip the embedding model: ~50× faster, slightly less accurate.")
    ] = False,
) -> None:
    """Analyse feedback: language, sentiment, complaint, categories, aspects, confidence / 分析反馈。"""
    table = _load_table(file, [text_column])
    engine = _load_engine(model, fast)
    results = analyze_table(engine, table, text_column)
    jsonl = output is not None and output.suffix.lower() in (".jsonl", ".ndjson")
    if output is None:
        write_results(table, results, sys.stdout)
        sys.stdout.flush()
        return
    with output.open("w", encoding="utf-8", newline="") as out:
        write_results(table, results, out, jsonl=jsonl)
    errors = sum(1 for r in results if r.error)
    err_console.print(
        f"{file}: analysed {len(results)} rows → {output} (model {engine.version}; "
        f"{errors} rows with errors)",
        highlight=False,
    )


def guess_sentiment_column(columns: Sequence[str]) -> str | None:
    """The first of the usual gold-label column names present, or None."""
    return next((name for name in SENTIMENT_COLUMN_GUESSES if name in columns), None)


def train_command(
    file: Annotated[Path, typer.Argument(help="CSV or JSONL of labelled feedback / 已标注的反馈文件")],
    model_dir: Annotated[
        Path, typer.Option("--model-dir", help="Where to write the trained model / 模型输出目录")
    ],
    text_column: Annotated[str, typer.Option(help="Column holding the feedback text / 文本所在列")] = "text",
    sentiment_column: Annotated[
        str | None, typer.Option(help="Gold sentiment: positive/neutral/negative or 1/0.")
    ] = None,
    categories_column: Annotated[
        str | None, typer.Option(help="Category names joined by ';' (e.g. 退款;Late Flight).")
    ] = None,
    aspects_column: Annotated[str | None, typer.Option(help="category:polarity pairs joined by ';'.")] = None,
) -> None:
    """Learn from labelled feedback; use the result with `analyze --model DIR` / 用已标注数据训练模型。"""
    from closeloop.analysis.train import train_model

    table = _load_table(file, [text_column, sentiment_column, categories_column, aspects_column])
    if sentiment_column is None and categories_column is None and aspects_column is None:
        sentiment_column = guess_sentiment_column(table.columns)
        if sentiment_column is None:
            fail(
                "name a label column: --sentiment-column, --categories-column or --aspects-column; "
                f"columns found: {', '.join(table.columns)}"
            )
        err_console.print(f"learning sentiment from column '{sentiment_column}'", highlight=False)
    with err_console.status("training…") as status:
        try:
            report = train_model(
                table.column(text_column),
                model_dir,
                sentiment_labels=table.column(sentiment_column) if sentiment_column else None,
                category_labels=table.column(categories_column) if categories_column else None,
                aspect_labels=table.column(aspects_column) if aspects_column else None,
                progress=lambda message: status.update(f"training: {message}"),
            )
        except ValueError as exc:
            fail(str(exc))
    summary = Table(title=f"trained model / 训练完成: {report.version}")
    summary.add_column("what")
    summary.add_column("value", justify="right")
    summary.add_row("model directory", str(report.model_dir))
    summary.add_row("sentiment rows (skipped)", f"{report.sentiment_rows} ({report.sentiment_skipped})")
    if report.sentiment_weights:
        summary.add_row("stacking weights", json.dumps(report.sentiment_weights))
        summary.add_row("stacking weights --fast", json.dumps(report.sentiment_fast_weights))
    summary.add_row("category rows", str(report.category_rows))
    summary.add_row("aspect rows", str(report.aspect_rows))
    summary.add_row("seconds", f"{report.seconds:.1f}")
    err_console.print(summary)


def sentiment_report(gold_cells: Sequence[str], results: Sequence[Any]) -> dict[str, Any]:
    """Sentiment metrics over rows with a usable gold label (binary accuracy when gold is binary)."""
    from closeloop.analysis.evaluate import accuracy, confusion_matrix, macro_f1, per_class_scores
    from closeloop.analysis.sentiment import parse_sentiment_label

    pairs = [(parse_sentiment_label(g), r) for g, r in zip(gold_cells, results, strict=True)]
    usable = [(g, r) for g, r in pairs if g is not None]
    gold = [g for g, _ in usable]
    predicted = [r.sentiment for _, r in usable]
    labels, matrix = confusion_matrix(gold, predicted)
    report: dict[str, Any] = {
        "rows": len(usable),
        "skipped_rows": len(pairs) - len(usable),
        "accuracy": accuracy(gold, predicted),
        "macro_f1": macro_f1(gold, predicted),
        "per_class": {label: asdict(s) for label, s in per_class_scores(gold, predicted, labels).items()},
        "confusion_matrix": {"labels": labels, "matrix": matrix},
    }
    if usable and set(gold) <= {"positive", "negative"}:
        from closeloop.analysis.evaluate import binary_accuracy

        report["binary_accuracy"] = binary_accuracy(
            [g == "positive" for g in gold], [r.sentiment_score for _, r in usable]
        )
    return report


def category_report(gold_cells: Sequence[str], results: Sequence[Any], engine: Any) -> dict[str, Any]:
    """Multi-label precision / recall / F1 of categories (gold names resolved to taxonomy ids)."""
    from closeloop.analysis.evaluate import multilabel_scores
    from closeloop.analysis.train import parse_category_cell

    taxonomy = getattr(engine.category_detector, "taxonomy", None)

    def resolve(name: str) -> str:
        return (taxonomy.resolve(name) if taxonomy is not None else None) or name

    gold = [{resolve(name) for name in parse_category_cell(cell)} for cell in gold_cells]
    return multilabel_scores(gold, [set(r.categories) for r in results]).as_dict()


def aspect_report(gold_cells: Sequence[str], results: Sequence[Any], engine: Any) -> dict[str, Any]:
    """Multi-label scores of ``category:polarity`` pairs."""
    from closeloop.analysis.evaluate import multilabel_scores
    from closeloop.analysis.train import parse_aspect_cell

    taxonomy = getattr(engine.category_detector, "taxonomy", None)
    resolve = (lambda name: taxonomy.resolve(name) or name) if taxonomy is not None else (lambda name: name)
    gold = [{f"{resolve(c)}:{p}" for c, p in parse_aspect_cell(cell)} for cell in gold_cells]
    return multilabel_scores(gold, [{f"{c}:{p}" for c, p in r.aspects} for r in results]).as_dict()


def _scores_table(title: str, rows: dict[str, dict[str, float]]) -> Table:
    table = Table(title=title)
    for column in ("label", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for label, scores in rows.items():
        table.add_row(
            label,
            f"{scores['precision']:.3f}",
            f"{scores['recall']:.3f}",
            f"{scores['f1']:.3f}",
            str(scores["support"]),
        )
    return table


def _print_report(report: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console()
    console.print(f"model: {report['model_version']}  rows: {report['rows']}", highlight=False)
    if "sentiment" in report:
        s = report["sentiment"]
        line = (
            f"sentiment / 情感: accuracy {s['accuracy']:.4f}  macro-F1 {s['macro_f1']:.4f}  rows {s['rows']}"
        )
        if "binary_accuracy" in s:
            line += f"  binary accuracy (score > 0) {s['binary_accuracy']:.4f}"
        console.print(line, highlight=False)
        console.print(_scores_table("sentiment per class", s["per_class"]))
        labels, matrix = s["confusion_matrix"]["labels"], s["confusion_matrix"]["matrix"]
        confusion = Table(title="confusion matrix (rows gold, columns predicted)")
        confusion.add_column("gold \\ predicted")
        for label in labels:
            confusion.add_column(label, justify="right")
        for label, counts in zip(labels, matrix, strict=True):
            confusion.add_row(label, *map(str, counts))
        console.print(confusion)
    for key, title in (("categories", "categories / 类别"), ("aspects", "aspects / 方面")):
        if key in report:
            r = report[key]
            console.print(
                f"{title}: micro-F1 {r['micro']['f1']:.4f}  macro-F1 {r['macro']['f1']:.4f}  "
                f"exact match {r['exact_match']:.4f}",
                highlight=False,
            )
            console.print(_scores_table(f"{key} per category", r["per_category"]))


def evaluate_command(
    file: Annotated[Path, typer.Argument(help="CSV or JSONL of labelled feedback / 已标注的反馈文件")],
    model: Annotated[Path | None, typer.Option(help="Model directory (default: built-in).")] = None,
    text_column: Annotated[str, typer.Option(help="Column holding the feedback text / 文本所在列")] = "text",
    sentiment_column: Annotated[str | None, typer.Option(help="Gold sentiment column.")] = None,
    categories_column: Annotated[str | None, typer.Option(help="Gold category names joined by ';'.")] = None,
    aspects_column: Annotated[
        str | None, typer.Option(help="Gold category:polarity pairs joined by ';'.")
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Evaluate the fast mode.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Measure the engine against labelled feedback: accuracy, macro-F1, per-class P/R, confusion matrix."""
    table = _load_table(file, [text_column, sentiment_column, categories_column, aspects_column])
    if sentiment_column is None and categories_column is None and aspects_column is None:
        sentiment_column = guess_sentiment_column(table.columns)
        if sentiment_column is None:
            fail(
                "name a gold column: --sentiment-column, --categories-column or --aspects-column; "
                f"columns found: {', '.join(table.columns)}"
            )
    engine = _load_engine(model, fast)
    results = analyze_table(engine, table, text_column, label="evaluating")
    report: dict[str, Any] = {"file": str(file), "model_version": engine.version, "rows": len(results)}
    if sentiment_column:
        report["sentiment"] = sentiment_report(table.column(sentiment_column), results)
    if categories_column:
        report["categories"] = category_report(table.column(categories_column), results, engine)
    if aspects_column:
        report["aspects"] = aspect_report(table.column(aspects_column), results, engine)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        _print_report(report)


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze_command)
    app.command("train")(train_command)
    app.command("evaluate")(evaluate_command)
