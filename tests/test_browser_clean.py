"""A newcomer's tour in chromium, on a server of its own: every page loads; each model trains its Quick setting,
the page is reloaded mid-training and the training stopped from the reloaded page; and neither the browser's
console nor the server's log holds an error or a warning.

One kind of line is not the app's and is left out: TensorFlow's start-up lines about the missing GPU. (Streamlit's
frontend, opened at a page's own address, used to try ``/<page>/_stcore/health`` and ``/<page>/_stcore/host-config``
before ``/_stcore/...``: two 404s per direct page load. app.py now tells it where the server is.)
"""

import pytest

from tests.browser_support import (
    open_page,
    progress_text,
    server_log_problems,
    server_log_size,
    stop_button,
    train_button,
    wait_idle,
    wait_text,
)

pytestmark = pytest.mark.browser

# The progress bar says a batch has been trained: "Training: epoch e of n, batch b of m" with e > 1 or b > 0.
BATCH_TRAINED = """() => { const el = document.querySelector("[data-testid='stProgress']");
  const m = el && el.innerText.match(/^Training: epoch (\\d+) of \\d+, batch (\\d+) of/);
  return !!m && (Number(m[1]) > 1 || Number(m[2]) > 0); }"""

# (page path, settings of its quickest honest training, the Train button's label)
TOURS = [
    ("Iris", "iris.epochs=200", "Train"),
    # small data, many epochs: still training after the reload, and stopping, evaluating and saving take little
    ("MNIST_CNN", "cnn.train_size=3000&cnn.epochs=20", "Train"),
    ("CVAE", "cvae.train_size=2000&cvae.epochs=20", "Train"),
]


def test_every_page_trains_reloads_and_stops_with_a_clean_console_and_log(app_server, browser_page):
    page = browser_page
    log_start = server_log_size(app_server)
    console = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda err: console.append(f"pageerror: {err}"))
    failed = []  # responses >= 400: the console's "Failed to load resource" lines do not say which
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    for path in ("", "Runs"):
        open_page(page, f"{app_server}/{path}")
    for path, settings, label in TOURS:
        open_page(page, f"{app_server}/{path}?{settings}", timeout=120)
        train_button(page, label).click()
        progress_text(page, "Training", timeout=120)
        page.reload()
        wait_idle(page, timeout=120)
        progress_text(page, "Training", timeout=120)  # the reloaded page finds its running job
        # Stop once a batch has been trained (a Stop before the first ends the job with nothing kept: another message)
        page.wait_for_function(BATCH_TRAINED, timeout=120_000)
        stop = stop_button(page)
        assert stop.is_enabled()
        stop.click()
        text = progress_text(page, "Stopped", timeout=300)
        wait_text(page, "Stopped by you")
        print(f"{path}: {text}")
    open_page(page, f"{app_server}/Runs")
    wait_text(page, "Select one or more rows")

    assert failed == [], "\n".join(failed)
    console = [line for line in console if "Failed to load resource" not in line]  # each is in ``failed``
    assert console == [], "\n".join(console)
    problems = server_log_problems(app_server, log_start)
    assert problems == [], "\n".join(problems[:40])
