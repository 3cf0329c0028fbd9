"""``closeloop rollups``: rebuild the dashboard's daily rollups, or refresh the days marked dirty."""

from __future__ import annotations

import time

import typer

from closeloop.cli.common import err_console, progress_bar, store_factory

rollups_app = typer.Typer(
    help="The dashboard's daily rollups: rebuild all, refresh dirty days. 看板日汇总：重建、刷新。",
    no_args_is_help=True,
)


@rollups_app.command()
def rebuild() -> None:
    """Recompute the rollups of every day holding feedback (after an upgrade, or to be sure).
    重新计算所有日期的看板汇总。"""
    from closeloop.insight.rollups import rebuild as rebuild_all

    started = time.perf_counter()
    with progress_bar("rollups / 汇总 (days)", transient=True) as bar:
        task = bar.add_task("days", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        days = rebuild_all(store_factory(), progress=advance)
    err_console.print(
        f"rebuilt {days} days in {time.perf_counter() - started:.1f} s / 已重建 {days} 天的汇总",
        highlight=False,
    )


@rollups_app.command()
def refresh() -> None:
    """Recompute only the days whose figures changed since their last refresh (the background job does
    this every minute). 只刷新有变动的日期。"""
    from closeloop.insight.rollups import run_rollup_refresh

    days = run_rollup_refresh(store_factory())
    err_console.print(f"refreshed {days} days / 已刷新 {days} 天", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(rollups_app, name="rollups")
