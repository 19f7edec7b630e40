"""End to end: `tokbench dashboard` serves the app on loopback and headless Chromium renders every page.

Uses Debian's /usr/bin/chromium through Playwright's `executable_path` (no browser download). Screenshots
land in the test's temp folder (`TOKBENCH_SCREENSHOTS=DIR` keeps a copy there, for looking at them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from test_dashboard_fixtures import FLEX_TOKENS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
READY = "[data-testid='stApp'][data-test-script-state='notRunning']"
REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                 "(apt-get install chromium; `make system-deps` does it)")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dashboard exited early with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("dashboard did not become healthy in time")


@pytest.fixture
def server(tmp_path: Path, dashboard_runs):
    root, names = dashboard_runs  # real runs made once per session (conftest.py); the dashboard only reads them
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", "from tokbench.cli import run; run()", "dashboard", str(root),
                             "--port", str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url, names
    finally:
        proc.terminate()  # tokbench forwards it to the Streamlit server and waits for it
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        _assert_nothing_listens(port)


def _assert_nothing_listens(port: int, timeout: float = 15) -> None:
    """No server may outlive the test (issue 15, class 13)."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return
        assert time.monotonic() < deadline, f"a server still listens on port {port} after the test"
        time.sleep(0.2)


def _shot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("TOKBENCH_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _settle(page) -> None:
    page.wait_for_selector(READY, timeout=30_000)
    page.wait_for_timeout(400)  # a rerun may start right after the first run; wait it out too
    page.wait_for_selector(READY, timeout=30_000)


def test_dashboard_in_chromium(server, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    url, names = server
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(url, wait_until="domcontentloaded")
            _settle(page)
            page.get_by_text(names["text"][0], exact=True).first.wait_for(timeout=30_000)  # the table is drawn
            _settle(page)
            _shot(page, tmp_path, "runs")
            text = page.inner_text("body")
            for name in names["text"] + names["visual"] + names["audio"] + names["bench"]:
                assert name in text, f"run {name} not shown on the Runs page"
            assert "broken-run" in text and "corrupt" in text
            assert page.locator("[data-testid='stException']").count() == 0
            assert (tmp_path / "runs.png").stat().st_size > 10_000

            assert "Deploy" not in text  # client.toolbarMode = minimal: a local tool has nothing to deploy
            for label, expected in (("Text", ["bpe-500", "bpe-300", "Segmentation"]),
                                    ("Visual", ["vq-flex", "original", f"{FLEX_TOKENS} tokens"]),
                                    ("Audio", ["codec-rvq", "si_snr_db vs kbps"]),
                                    ("Rate–distortion", ["Text", "Image", "Audio", "bits per"]),
                                    ("Kernels", ["bench-cpu", "tiled_torch", "Speedup"])):
                page.get_by_role("link", name=label).first.click()
                _settle(page)
                # On a loaded machine the page can read "not running" before the rerun the click asked for has
                # started; wait for the page's own content (bounded) before reading the text.
                page.get_by_text(expected[0], exact=False).first.wait_for(state="attached", timeout=30_000)
                _settle(page)
                body = page.inner_text("body")
                for needle in expected:
                    assert needle in body, f"{needle!r} missing on the {label} page"
                assert page.locator("[data-testid='stException']").count() == 0, f"exception on {label}"
                _shot(page, tmp_path, _slug(label))
                tabs = page.get_by_role("tab")
                for k in range(1, tabs.count()):  # every further tab of the page, each on its own screenshot
                    tab = tabs.nth(k)
                    name = tab.inner_text().strip()
                    tab.click()
                    _settle(page)
                    if label == "Text" and name == "Segmentation":  # hoverable spans with ids
                        page.wait_for_selector("span.tok[title^='id ']", timeout=15_000)
                        assert page.locator("span.tok[title^='id ']").count() > 10
                    assert page.locator("[data-testid='stException']").count() == 0, f"exception on {label} › {name}"
                    _shot(page, tmp_path, f"{_slug(label)}-{_slug(name)}")
        finally:
            browser.close()
