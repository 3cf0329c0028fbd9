"""The ``closeloop`` command. Each module in this package adds the verbs of one part of the loop."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="closeloop",
    help="closeloop: self-hosted customer feedback management (ask, collect, categorize, act, see).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules that register verbs on ``app`` through their ``register(app)`` function.
COMMAND_MODULES = (
    "closeloop.cli.store",
    "closeloop.cli.feedback",
    "closeloop.cli.analysis",
    "closeloop.cli.jobs",
    "closeloop.cli.topics",
    "closeloop.cli.model",
    "closeloop.cli.accounts",
    "closeloop.cli.adapt",
    "closeloop.cli.privacy",
    "closeloop.cli.surveys",
    "closeloop.cli.events",
    "closeloop.cli.alerts",
    "closeloop.cli.community",
    "closeloop.cli.reports",
    "closeloop.cli.rollups",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_all()


def main() -> None:
    app()
