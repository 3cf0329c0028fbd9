"""``closeloop model``: the model versions of stored feedback, retraining from corrections, activation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import func, select

from closeloop.cli.common import err_console, fail, store_session
from closeloop.store.models import Analysis, ModelVersion

model_app = typer.Typer(
    help="Model versions: list, retrain from corrections, activate.", no_args_is_help=True
)


@model_app.command("list")
def model_list() -> None:
    """List model versions with how many stored items each has analysed."""
    table = Table("version", "active", "items analysed", "path", "created")
    with store_session() as session:
        counts = dict(
            session.execute(
                select(Analysis.model_version, func.count()).group_by(Analysis.model_version)
            ).all()
        )
        for row in session.scalars(select(ModelVersion).order_by(ModelVersion.created_at)):
            table.add_row(
                row.version,
                "✔" if row.is_active else "",
                str(counts.get(row.version, 0)),
                row.path or "",
                row.created_at.strftime("%Y-%m-%d %H:%M"),
            )
    err_console.print(table)


@model_app.command("retrain")
def model_retrain(
    model_dir: Annotated[Path, typer.Option(help="Where to write the new model version.")] = Path(
        "models/latest"
    ),
    base: Annotated[Path | None, typer.Option(help="Model to start from (default: the active one).")] = None,
    activate: Annotated[bool, typer.Option(help="Use the new version for new feedback from now on.")] = False,
) -> None:
    """Build a new model version from the corrections people made (labels)."""
    from closeloop.jobs.analysis import active_model_dir
    from closeloop.jobs.retrain import register_version, retrain_from_labels

    with store_session() as session:
        base_dir = base or active_model_dir(session)
        try:
            result = retrain_from_labels(session, model_dir, base_model_dir=base_dir)
        except ValueError as exc:
            fail(str(exc))
        register_version(
            session,
            version=result.version,
            model_dir=model_dir,
            description=f"retrained from {result.examples} corrected items ({', '.join(result.fields)})",
            activate=activate,
        )
    err_console.print(
        f"model {result.version} written to {model_dir} from {result.examples} corrected items"
        + (" and activated" if activate else "; activate it with closeloop model activate")
    )


@model_app.command("activate")
def model_activate(
    version: Annotated[str, typer.Argument(help="A version from closeloop model list.")],
) -> None:
    """Make a registered model version the one that analyses new feedback."""
    from closeloop.jobs.retrain import register_version

    with store_session() as session:
        row = session.get(ModelVersion, version)
        if row is None or not row.path:
            fail(f"no registered model version {version!r} with a directory; see closeloop model list")
        register_version(
            session, version=version, model_dir=Path(row.path), description=row.description, activate=True
        )
    err_console.print(f"{version} is now active; run closeloop reanalyze to apply it to stored feedback")


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
