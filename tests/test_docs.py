"""Docs that cannot drift: every setting and every CLI verb is in the README, every verb has --help."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from closeloop.cli import app
from closeloop.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _verbs(command, prefix=()):
    for name, sub in getattr(command, "commands", {}).items():
        yield (*prefix, name)
        yield from _verbs(sub, (*prefix, name))


VERBS = sorted(_verbs(get_command(app)))


def test_readme_starts_with_the_two_commands():
    first_block = README.split("```")[1]
    assert "./scripts/run" in first_block and "./scripts/test" in first_block
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "scripts/test" in ci


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name):
    assert f"CLOSELOOP_{name.upper()}" in README


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_is_documented_and_has_help(verb):
    assert f"closeloop {' '.join(verb)}" in README
    result = CliRunner().invoke(app, [*verb, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_the_cli_is_a_typer_app():
    assert isinstance(app, typer.Typer) and len(VERBS) >= 10
