"""``closeloop import``: bring a file of feedback (CSV, JSONL, XLSX, .eml/.mbox) into the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from closeloop.cli.common import err_console, fail, store_factory
from closeloop.cli.store import initialise_database
from closeloop.collect.channels import UnknownChannelError
from closeloop.collect.files import FileFormatError
from closeloop.collect.importer import ImportAbortedError, import_file, parse_map_options
from closeloop.collect.records import parse_scale
from closeloop.settings import get_settings


def import_command(
    file: Annotated[
        Path, typer.Argument(help="The export to import (.csv, .tsv, .jsonl, .json, .xlsx, .eml, .mbox).")
    ],
    channel: Annotated[
        str, typer.Option(help="Channel the feedback came from, e.g. taobao, jd, wechat, ticket.")
    ],
    format_: Annotated[
        str | None, typer.Option("--format", help="csv, jsonl, xlsx, eml or mbox (default: from the suffix).")
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="field=column, e.g. --map text=评论内容 --map rating=评分"),
    ] = None,
    rating_scale: Annotated[str, typer.Option(help="Scale of the rating column, e.g. 1-5 or 0-10.")] = "1-5",
    kind: Annotated[str | None, typer.Option(help="Kind of these items (default: the channel's).")] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding (default: detected: UTF-8, UTF-8 BOM, GBK/GB18030).")
    ] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Where to write refused rows (default: FILE.rejects.csv).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Rows per atomic batch (default CLOSELOOP_IMPORT_BATCH_ROWS).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line with the summary.")] = False,
) -> None:
    """Import feedback from a file; re-running the same file adds nothing twice."""
    settings = get_settings()
    if not file.exists():
        fail(f"{file}: no such file")
    if file.is_dir() and format_ not in (None, "eml"):
        fail(f"{file}: is a directory")
    try:
        user_map = parse_map_options(map_ or [])
        scale = parse_scale(rating_scale)
    except ValueError as exc:
        fail(str(exc))
    initialise_database()
    show_progress = not as_json and err_console.is_terminal
    progress = Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeRemainingColumn(),
        console=err_console,
        disable=not show_progress,
    )
    with progress:
        task = progress.add_task("import", total=None, rows=0)

        def on_progress(done: int, total: int, rows: int) -> None:
            progress.update(task, completed=done, total=total, rows=rows)

        try:
            summary = import_file(
                store_factory(),
                file,
                channel=channel,
                fmt=format_,
                user_map=user_map,
                rating_scale=scale,
                kind=kind,
                encoding=encoding,
                rejects_path=rejects,
                batch_rows=batch_size or settings.import_batch_rows,
                max_text_chars=settings.max_text_chars,
                progress=on_progress,
            )
        except (FileFormatError, UnknownChannelError) as exc:
            fail(str(exc))
        except ImportAbortedError as exc:
            fail(str(exc), code=1)
        except OSError as exc:
            fail(f"{file}: {exc.strerror or exc}")
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), ensure_ascii=False))
        return
    err_console.print(
        f"{file}: imported {summary.imported}, duplicates skipped {summary.duplicates}, "
        f"rejected {summary.rejected} of {summary.rows} rows in {summary.seconds:.1f} s",
        highlight=False,
    )
    if summary.rejects_file:
        err_console.print(f"rejected rows with their reasons: {summary.rejects_file}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
