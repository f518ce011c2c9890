"""Real-browser fixtures: a `streamlit run` server on a free loopback port and Debian's chromium.

These tests never skip for a missing browser: without /usr/bin/chromium they fail with a message saying
how to install it (`apt-get install -y chromium`; `.ci/run` does it).
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ARTIFACTS, ROOT

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"browser tests need Debian's chromium at {CHROMIUM}: run `apt-get install -y chromium`",
                    pytrace=False)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}, "accept_downloads": True}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerDidNotStart(RuntimeError):
    """`streamlit run` exited or did not answer its health check in time."""


@contextlib.contextmanager
def streamlit_server(log_path: Path, *, timeout: float = 60, script: str = "app.py",
                     env: dict[str, str] | None = None, port: int | None = None):
    """Run `streamlit run <script>` (default app.py) on a free loopback port (or ``port``); yield its
    address; stop that process only. ``env`` adds environment variables (e.g. the poll database's path).

    Shared by the browser tests and the benchmarks that drive a real server.
    """
    port = port or _free_port()
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                        if response.read().decode() == "ok":
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise ServerDidNotStart(f"streamlit did not start; see {log_path}")
                time.sleep(0.25)
            yield url
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


POLL_DB = ARTIFACTS / "polls" / "session.sqlite3"  # the session server's poll database, new each run


@pytest.fixture(scope="session")
def app_url():
    """The address of a `streamlit run` server for the whole session (its polls in ``POLL_DB``)."""
    for old in POLL_DB.parent.glob(f"{POLL_DB.name}*"):
        old.unlink()
    try:
        with streamlit_server(ARTIFACTS / "server.log", env={"LOWRANK_POLL_DB": str(POLL_DB)}) as url:
            yield url
    except ServerDidNotStart as err:
        pytest.fail(str(err), pytrace=False)


def wait_idle(page: Page, timeout: int = 60_000) -> None:
    """Wait until the script has finished its rerun and the status widget is gone."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout)


def open_page(page: Page, app_url: str, path: str, heading, *, timeout: int = 90_000) -> None:
    """Open the app's root, then its page ``path``, and wait until ``heading`` shows and the run is over.

    A fresh server runs a deep link as a v1 multipage app (pages/ auto-discovered, app.py skipped) until
    app.py has called st.navigation once; the root page does that.
    """
    page.goto(app_url)
    expect(page.get_by_test_id("stSidebarNavLink").first).to_be_visible(timeout=60_000)
    wait_idle(page)
    page.goto(f"{app_url}/{path}")
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=timeout)
    wait_idle(page, timeout=timeout)
    expect_no_error(page)


def expect_no_error(page: Page) -> None:
    """No exception box and no error alert on the page."""
    expect(page.get_by_test_id("stException")).to_have_count(0)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ (ignored by git) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
