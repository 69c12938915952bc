"""Browser tests of the dashboard: a real ``cw start --detach`` coordinator (SQLite and
PostgreSQL) with the shipped fake agent as its Claude, driven by Playwright in Debian's
``chromium`` (through ``executable_path``: Playwright's own browser download is not
reachable here).

Without chromium or Playwright these tests skip, saying why; in CI (``CI=true``) they fail
instead: browser tests never skip silently there (``.ci/run`` installs chromium).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.agents.conftest import isolated_git_config  # noqa: F401  (autouse: no user git config)
from tests.coordinated import coordinator_of, fake_agent_workspace
from tests.server.conftest import Server, Workspace

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CW_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
#: Playwright's default wait for expectations, in ms (a loaded CI machine is slow).
TIMEOUT_MS = 20_000


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true: browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the session (each test gets its own context)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def space(backend: str, database_url: str, tmp_path: Path) -> Workspace:
    # `cw open` must never try to launch a browser here: no display.
    workspace = fake_agent_workspace(
        tmp_path / "workspace",
        backend,
        database_url,
        settings="hang_timeout = 30\nmax_chunk_chars = 500\n",
        env={"CW_EVENTS_POLL": "0.05", "CW_SSE_HEARTBEAT": "2"},
    )
    workspace.env.pop("DISPLAY", None)
    workspace.env.pop("WAYLAND_DISPLAY", None)
    return workspace


@pytest.fixture
def coordinator(space: Workspace) -> Iterator[Server]:
    with coordinator_of(space) as running:
        yield running


@pytest.fixture
def page_errors() -> list[str]:
    """The JavaScript and console errors of the test's pages (a test that provokes some,
    e.g. by stopping the server, clears them)."""
    return []


@pytest.fixture
def context(browser: Any, page_errors: list[str]) -> Iterator[Any]:
    """A fresh browser profile (no cookies); fails the test on a JavaScript error or a
    console error (a Content-Security-Policy violation is one)."""
    made = browser.new_context()
    made.set_default_timeout(TIMEOUT_MS)
    errors = page_errors
    made.on("weberror", lambda error: errors.append(str(error.error)))

    def console(message: Any) -> None:
        # Refused loads and htmx's report of an error answer (401/403/422, which tests
        # provoke on purpose) are logged as errors too.
        expected = ("Failed to load resource", "Response Status Error Code")
        if message.type == "error" and not message.text.startswith(expected):
            errors.append(message.text)

    made.on("console", console)
    try:
        yield made
    finally:
        made.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def login_link(space: Workspace) -> str:
    data = space.ok("open", "--print")
    assert data["opened"] is False
    return str(data["url"])


@pytest.fixture
def client(space: Workspace, coordinator: Server) -> Iterator[httpx.Client]:
    """A signed-in browser-like client: the session cookie, and this server's Origin."""
    with httpx.Client(
        base_url=coordinator.url, headers={"Origin": coordinator.url}, timeout=30
    ) as signed_in:
        assert signed_in.get(login_link(space)).status_code == 200
        yield signed_in


def ok(response: httpx.Response) -> str:
    assert response.status_code == 200, (response.status_code, response.text[:500])
    return response.text


def login(context: Any, space: Workspace) -> Any:
    """A new tab signed in through a fresh one-time link, on the initiatives page."""
    page = context.new_page()
    page.goto(login_link(space))
    page.wait_for_url("**/ui/initiatives")
    return page


def live(page: Any) -> None:
    """Wait until the page's event stream is connected (the health dot is green)."""
    from playwright.sync_api import expect

    expect(page.locator("#health")).to_have_attribute("data-state", "live")


def scenario(*steps: object) -> str:
    return "```cw-fake\n" + json.dumps({"steps": list(steps)}) + "\n```"


def plan_with_agent_task(space: Workspace, remote_url: str, description: str) -> tuple[str, str]:
    """A project, an initiative linked to it, a phase and one task; (initiative id, task id)."""
    project = space.ok("project", "add", "app", remote_url)
    initiative = space.ok("initiative", "create", "Ship it", "--project", project["id"])
    phase = space.ok("phase", "create", "--initiative", initiative["id"], "Build")
    task = space.ok("task", "create", "Do it", "--phase", phase["id"], "--description", description)
    return initiative["id"], task["id"]


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.1)
