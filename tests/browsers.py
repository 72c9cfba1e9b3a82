"""Debian's Chromium for the tests that drive a browser, through Playwright's sync API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scrapers.browser import CHROMIUM_ARGS

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's Chromium is not installed"
)


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium. Playwright's sync API drives one instance per thread at a
    time: start it after anything else in the thread that runs a browser (the demo's
    build does)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        try:
            yield launched
        finally:
            launched.close()
