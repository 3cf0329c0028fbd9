"""Shared fixtures: the shipped engine is loaded once per test session (it is the slow part)."""

from __future__ import annotations

import pytest

from closeloop.analysis.engine import Engine


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.load()


@pytest.fixture(scope="session")
def fast_engine() -> Engine:
    return Engine.load(fast=True)
