"""The Iris page in a real (headless Debian) chromium: settings from the link and the keyboard, curves that grow
while the job trains, the final accuracy, predictions from the example buttons and the sliders, and the measured
latency of a predict-panel slider.

Uses ``app_server`` (one ``streamlit run app.py`` for the session) and ``browser_page`` (a fresh browser context,
hence a fresh Streamlit session, per test) from conftest.py.
"""

import re
import statistics
import time

import pytest

from tests.browser_support import (
    metric,
    open_page,
    progress_text,
    start_training,
    stop_button,
    train_button,
    wait_idle,
    wait_text,
)

pytestmark = pytest.mark.browser

# Points of the "batch loss" trace of the live curves chart (plotly decodes its data into _fullData).
BATCH_POINTS = """() => {
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const trace = (plot._fullData || []).find(t => t.name === 'batch loss');
    if (trace) return trace._length || 0;
  }
  return 0;
}"""


def _slider(page, label, sidebar=False):
    scope = page.locator("[data-testid='stSidebar']") if sidebar else page
    return scope.locator("[data-testid='stSlider']").filter(has_text=label).get_by_role("slider")


def _iris(base, epochs):
    return f"{base}/Iris?iris.epochs={epochs}"


def _prediction(page):
    return page.get_by_text(re.compile(r"^Predicted species:")).first


def test_epochs_come_from_the_link_and_the_keyboard(app_server, browser_page):
    page = browser_page
    open_page(page, _iris(app_server, 30))
    epochs = _slider(page, "Epochs", sidebar=True)
    assert epochs.input_value() == "30"
    epochs.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(r"iris\.epochs=31"), timeout=10_000)
    assert epochs.input_value() == "31"
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(re.compile(r"iris\.epochs=30"), timeout=10_000)


def test_curves_grow_while_training_then_accuracy_and_predictions(app_server, browser_page):
    page = browser_page
    start_training(page, _iris(app_server, 30))  # 30 epochs: about 10 s of training here, long enough to watch
    progress = page.locator("[data-testid='stProgress']").first
    progress.wait_for(timeout=30_000)

    seen = []  # (progress text, batch points) while the progress still says "Training"
    deadline = time.time() + 180  # generous: on a loaded 2-core machine chromium's redraws slow the training
    while time.time() < deadline:
        text = progress.inner_text().strip()
        if text.startswith("Training"):
            seen.append((text, page.evaluate(BATCH_POINTS)))
        elif text.startswith(("Done", "Failed", "Stopped")):
            break
        time.sleep(0.4)
    counts = [n for _, n in seen if n]
    print(f"\nbatch-loss points seen while training: {counts}")
    assert len(set(counts)) >= 2, f"the loss curve did not gain points while training: {seen}"
    assert counts == sorted(counts) and counts[0] < 30 * 75

    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:  # no reload: a body gone blank after the job finished (seen twice in CI, when trainings ran in the web
        result = metric(page, "Test accuracy", timeout=150)  # server's own process) fails the test, saying so
    except PlaywrightTimeout:
        pytest.fail(f"no result after training; the page's body reads {page.inner_text('body')[:300]!r}")
    accuracy = float(re.search(r"([\d.]+)%", result.inner_text()).group(1))
    print(f"browser, 30 epochs: test accuracy {accuracy}%")
    assert accuracy >= 93.0
    assert page.evaluate(BATCH_POINTS) == 30 * 75

    assert _prediction(page).inner_text().startswith("Predicted species: setosa")
    page.get_by_role("button", name="virginica: 6.9, 3.1, 5.4, 2.1").click()
    wait_text(page, "Predicted species: virginica", timeout=15)
    wait_idle(page)  # the fragment's run has ended: what the user now sees, once
    assert page.get_by_text("Classify a flower", exact=True).count() == 1, page.inner_text("body")[-1500:]
    assert _slider(page, "petal length").input_value() == "5.4"

    for label in ("petal length", "petal width"):  # slide both petal measurements to their minimum
        _slider(page, label).focus()
        page.keyboard.press("Home")
    page.wait_for_function("el => el.innerText.startsWith('Predicted species: setosa')",
                           arg=_prediction(page).element_handle(), timeout=15_000)
    assert _slider(page, "petal width").input_value() == "0"


# Asserts README's latency bar: alone on the machine under -n 2, its 5-epoch training too (measured right after it,
# quiet only around the key presses, the median missed the bar once: 226 ms).
@pytest.mark.quiet
def test_predict_slider_latency(app_server, browser_page):
    """Time from a key press on a predict-panel slider to the new prediction text: README's bar for a slider of a
    fragment, < 200 ms (the ε slider's; README's row for this one: median 79-120 ms)."""
    page = browser_page
    start_training(page, _iris(app_server, 5))
    wait_text(page, "Classify a flower")
    result = _prediction(page)
    result.wait_for()
    _slider(page, "petal length").focus()
    wait_idle(page)
    times = []
    for _ in range(10):
        before = result.inner_text()
        start = time.perf_counter()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("([el, b]) => el.innerText !== b", arg=[result.element_handle(), before],
                               timeout=10_000)
        times.append((time.perf_counter() - start) * 1000)
        time.sleep(0.2)
    median = statistics.median(times)
    print(f"\npredict-panel slider (ArrowRight) -> updated prediction in chromium: median {median:.0f} ms, "
          f"min {min(times):.0f} ms, max {max(times):.0f} ms over {len(times)} presses")
    assert median < 200, f"predict-panel slider -> prediction: median {median:.0f} ms, README's bar is < 200 ms"


def test_train_is_disabled_while_the_job_runs(app_server, browser_page):
    page = browser_page
    start_training(page, _iris(app_server, 30))
    progress = page.locator("[data-testid='stProgress']").first
    progress_text(page, "Training")
    time.sleep(1.0)  # a few fragment refreshes
    status = progress.inner_text()
    disabled = train_button(page).is_disabled()
    stop_button(page).click()  # do not leave 30 epochs running on the server
    assert status.startswith(("Training", "Validating")), status  # still running (between epochs it validates)
    assert disabled
