"""The real headless Chromium of the browser tests (Debian's package, driven by Playwright; scripts/browser
installs it and the test command passes its path in CLOSELOOP_TEST_CHROMIUM)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

CHROMIUM = os.environ.get("CLOSELOOP_TEST_CHROMIUM", "")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """A launched headless Chromium; the test is skipped, with the reason, when none is installed."""
    if not (CHROMIUM and os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            "no Chromium for browser tests: set CLOSELOOP_TEST_CHROMIUM to an executable "
            "(e.g. /usr/bin/chromium from Debian's chromium package; scripts/browser installs it)"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()
