"""One headless Chromium page for every browser test: Playwright driving Debian's ``chromium`` package.

Why this shape: Playwright's sync API keeps an event loop running in the test's thread while it is
started, and Django refuses ORM calls while a loop runs. So the browser starts after the database fixture
(the fixtures that use this take ``transactional_db``) and stops before the database is flushed, and
Django's async-safety check is switched off only in between (the test's own ORM calls are plain sync
calls). Playwright's own browser downloads are never used. Without a usable Chromium a test is skipped
with the reason, except with ``CI=true``, where it fails: CI must never silently skip a browser test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connections

from tests.helpers.servers import in_ci

#: Debian's Chromium (scripts/install_system_deps.sh installs it); ``chromium`` on PATH otherwise.
CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def browser_unavailable(reason: str) -> None:
    """Skip (fail with ``CI=true``) with what to install."""
    message = (
        f"The browser test cannot run: {reason}. Install Debian's Chromium with "
        "`bash scripts/install_system_deps.sh` (or `apt-get install chromium`) and the pinned `playwright` package."
    )
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@contextmanager
def chromium_page(monkeypatch: Any, *, viewport: dict[str, int], timeout_ms: int) -> Iterator[Any]:
    """A fresh page of a headless Chromium at ``viewport``; closed, with Django's connections, on exit."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is pinned in requirements.txt
        browser_unavailable(f"the playwright package is not installed ({exc})")
    executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if executable is None:
        browser_unavailable("no `chromium` executable on PATH")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    manager = sync_playwright().start()
    try:
        try:
            browser = manager.chromium.launch(
                executable_path=executable, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
        except PlaywrightError as exc:
            browser_unavailable(f"Chromium at {executable} did not start ({str(exc).splitlines()[0]})")
        context = browser.new_context(viewport=viewport, device_scale_factor=1, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        yield page
        context.close()
        browser.close()
    finally:
        # While Playwright's loop ran, Django gave the test body its own connection: close it before the
        # test database is dropped (PostgreSQL refuses to drop a database that still has users).
        connections.close_all()
        manager.stop()
