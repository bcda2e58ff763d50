"""The web UI in a real browser (Debian's chromium, driven by Playwright) against a real
gateway holding the demo pipeline. Each test keeps a screenshot of what it saw in
tests/artifacts/ui/ (not committed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from metagate.gateway.ui import default_dir
from tests.server import Server

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "ui"
HOSTILE = "<img src=x onerror=alert(1)>"


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("the UI tests need Debian's chromium (make test installs it as root: make browser)")
    return found


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not (default_dir() / "index.html").is_file():
        pytest.fail("the web UI is not built: make ui")
    store = tmp_path_factory.mktemp("ui") / "metagate.db"
    subprocess.run([sys.executable, "-m", "metagate", "demo", "--store", str(store)], check=True, capture_output=True)
    server = Server(store)
    server.store = store  # type: ignore[attr-defined]
    server.gql("mutation($n: String!) { registerDataset(input: {name: $n, tags: [$n]}) { dataset { id } } }", n=HOSTILE)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module: Playwright's sync API runs an event loop while it is open, which the
    # suite's asyncio tests must not find running when they come after these.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


class Seen:
    """What the page did that a person would notice: dialogs, errors, blocked requests."""

    def __init__(self, page: Page) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))


@pytest.fixture
def page(browser: Browser, gateway: Server, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(base_url=gateway.url, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    seen = Seen(opened)

    def only_here(route: object) -> None:
        # No request leaves the machine: anything not for the gateway is refused and noted.
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith(gateway.url) or url.startswith("data:") or url.startswith("blob:"):
            route.continue_()  # type: ignore[attr-defined]
        else:
            seen.outside.append(url)
            route.abort()  # type: ignore[attr-defined]

    context.route("**/*", only_here)
    opened.seen = seen  # type: ignore[attr-defined]
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert seen.outside == [], f"requests that left the gateway: {seen.outside}"
    assert seen.dialogs == [], f"dialogs fired: {seen.dialogs}"
    assert seen.errors == [], f"errors in the page (a policy violation among them?): {seen.errors}"


def sign_in(page: Page, token: str) -> None:
    page.goto("/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Projects").wait_for()
