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

from test_dashboard_fixtures import build_all

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
def server(tmp_path: Path):
    root = tmp_path / "runs"
    names = build_all(root, tmp_path)
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
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _shot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("TOKBENCH_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


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
            _shot(page, tmp_path, "runs")
            text = page.inner_text("body")
            for name in names["text"] + names["visual"] + names["audio"] + names["bench"]:
                assert name in text, f"run {name} not shown on the Runs page"
            assert "broken-run" in text and "corrupt" in text
            assert page.locator("[data-testid='stException']").count() == 0
            assert (tmp_path / "runs.png").stat().st_size > 10_000

            for label, expected in (("Text", ["bpe-500", "bpe-300", "Segmentation"]),
                                    ("Visual", ["vq-flex", "original", "32 tokens"]),
                                    ("Audio", ["codec-rvq", "si_snr_db vs kbps"]),
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
                _shot(page, tmp_path, label.lower())
                if label == "Text":  # the live segmentation renders as hoverable spans with ids
                    page.get_by_role("tab", name="Segmentation").click()
                    page.wait_for_selector("span.tok[title^='id ']", timeout=15_000)
                    assert page.locator("span.tok[title^='id ']").count() > 10
                    _shot(page, tmp_path, "text-segmentation")
        finally:
            browser.close()
