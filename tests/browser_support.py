"""Serve the app on localhost and drive Debian's chromium with Playwright (never `playwright install`).

Import the fixtures into a test module: ``from tests.browser_support import app_url, page  # noqa: F401``.
Without chromium (or the playwright package) the tests are skipped with the reason, except under CI
(``CI`` set), where they fail: CI must run them.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NPZ = ROOT.parent / "shared" / "data" / "mnist.npz"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """A fresh `streamlit run app.py` on a free port, with its own runs directory."""
    port = _free_port()
    runs = tmp_path_factory.mktemp("browser-runs")
    env = {**os.environ, "NN_PLAYGROUND_RUNS": str(runs), "PYTHONPATH": str(ROOT)}
    if NPZ.is_file():
        env["MNIST_PATH"] = str(NPZ)
    log = open(runs / "server.log", "w")  # noqa: SIM115  (open for the server's whole life)
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail(f"streamlit did not start; log: {(runs / 'server.log').read_text()[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -r requirements-dev.txt)")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        _missing("chromium not installed: apt-get install chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 2400})
    pg = context.new_page()
    pg.set_default_timeout(30000)
    yield pg
    context.close()


def wait_text(pg, text: str, timeout: float = 60) -> None:
    pg.get_by_text(text).first.wait_for(timeout=timeout * 1000)


def drawing_canvas(pg):
    """The drawable canvas's top layer (280 x 280)."""
    return pg.locator("canvas.upper-canvas").first


def draw_stroke(pg, canvas, points) -> None:
    box = canvas.bounding_box()
    x0, y0 = box["x"], box["y"]
    pg.mouse.move(x0 + points[0][0], y0 + points[0][1])
    pg.mouse.down()
    for x, y in points[1:]:
        pg.mouse.move(x0 + x, y0 + y, steps=2)
    pg.mouse.up()
