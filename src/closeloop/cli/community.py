"""``closeloop community``: boards of the public community portal, and its status-change e-mails."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from closeloop.cli.common import fail, store_factory, store_session

community_app = typer.Typer(help="The public community portal. 用户社区。", no_args_is_help=True)


@community_app.command("board-add")
def board_add(
    slug: Annotated[str, typer.Argument(help="The board's address: /community/b/<slug>.")],
    name_zh: Annotated[str, typer.Option("--name-zh", help="Chinese name.")],
    name_en: Annotated[str, typer.Option("--name-en", help="English name.")],
    description: Annotated[str, typer.Option(help="One line shown under the name.")] = "",
    product: Annotated[str | None, typer.Option(help="The product its posts are feedback about.")] = None,
    position: Annotated[int, typer.Option(help="Order on the portal's front page.")] = 0,
) -> None:
    """Add a board (per product or topic) to the community portal. 新建社区版块。"""
    from closeloop.community.posts import CommunityError, create_board

    with store_session() as session:
        try:
            board = create_board(
                session,
                slug=slug,
                name_zh=name_zh,
                name_en=name_en,
                description=description,
                product=product,
                position=position,
            )
        except CommunityError as exc:
            fail(str(exc))
        session.commit()
        typer.echo(f"board {board.slug} added: /community/b/{board.slug}")


@community_app.command("boards")
def boards() -> None:
    """List the community boards. 列出社区版块。"""
    from closeloop.community.posts import list_boards

    with store_session() as session:
        table = Table("slug", "中文", "English", "product")
        for board in list_boards(session):
            table.add_row(board.slug, board.name_zh, board.name_en, board.product or "")
        Console().print(table)


@community_app.command("notify")
def notify() -> None:
    """E-mail followers and voters about status changes not yet notified (what the background job does).
    通知关注者和投票者帖子状态的变化。"""
    from closeloop.community.notifications import send_status_notifications
    from closeloop.notify.mailer import mailer_from_settings
    from closeloop.settings import get_settings

    settings = get_settings()
    mailer = mailer_from_settings(settings)
    if mailer is None:
        fail("no SMTP server configured: set CLOSELOOP_SMTP_HOST / 未配置 SMTP 服务器")
    run = send_status_notifications(store_factory(), mailer, public_url=settings.public_url)
    typer.echo(f"sent {run.sent}, skipped {run.skipped}, changes done {run.changes}, failed {run.failed}")
    if run.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(community_app, name="community")
