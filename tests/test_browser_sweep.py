"""A sweep from a model page, watched on the Runs page, in a real (headless Debian) chromium: one mean ± std band
per configuration and the parallel-coordinates plot of settings -> final accuracy."""

import pytest

from tests.browser_support import open_page, wait_idle, wait_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PLOTS = """
() => [...document.querySelectorAll('.js-plotly-plot')].map(p => ({
  title: (p._fullLayout && p._fullLayout.title && p._fullLayout.title.text) || '',
  traces: (p._fullData || []).map(t => ({type: t.type, name: t.name, fill: t.fill || ''})),
}))
"""


def test_a_sweep_started_on_the_iris_page_shows_bands_and_parallel_coordinates(app_server, browser_page):
    page = browser_page
    open_page(page, f"{app_server}/Iris?iris.epochs=3&iris.repeat=2")
    page.get_by_text("Sweep: compare settings and seeds").click()
    # Into the fields themselves, never page.keyboard: a key that misses the field reaches Streamlit's own shortcuts
    # ("r" in "Learning rate" reruns the page), and the flaky failure was a timeout typing into these fields.
    vary = page.locator("input[aria-label='Vary']")
    option = page.get_by_role("option", name="Learning rate", exact=True)
    for _ in range(3):  # the menu opens on a click of the field; a click that landed during a rerun opens nothing
        wait_idle(page)
        vary.click()
        try:
            option.wait_for(timeout=5_000)
            break
        except Exception:
            vary.press("Escape")
    option.click()
    vary.press("Escape")  # close the menu, which would cover the fields below it
    values = page.get_by_label("Learning rate: values")
    values.wait_for()  # drawn by the run the choice started: once that run ends, no later run replaces the field
    wait_idle(page)
    assert values.input_value() == "0.0001,0.001,0.01"  # the page's suggestion around its learning rate
    values.fill("0.001,0.01")
    values.press("Enter")
    wait_text(page, "4 trials")  # 2 configurations x 2 seeds, said before anything starts
    wait_idle(page)  # the run that said it has ended: the button below is the one of the finished page
    page.get_by_role("button", name="Start the sweep").click()
    wait_text(page, "Watch it live on the Runs page")

    open_page(page, f"{app_server}/Runs")
    wait_text(page, "Sweeps")
    wait_text(page, "4 of 4 trials finished", timeout=240)
    wait_text(page, "Mattered most", timeout=60)
    plots = page.evaluate(PLOTS)
    bands = next(p for p in plots if "mean ± std across seeds" in p["title"])
    means = [t["name"] for t in bands["traces"] if t["fill"] != "toself"]
    assert sorted(means) == ["learning_rate=0.001 (n=2)", "learning_rate=0.01 (n=2)"], bands
    assert sum(t["fill"] == "toself" for t in bands["traces"]) == 2  # one band per configuration
    assert any(t["type"] == "parcoords" for p in plots for t in p["traces"]), plots
    page.get_by_role("button", name="Use the best configuration on its page").click()
    wait_text(page, "Iris: a feed-forward classifier")
    wait_idle(page)
    assert page.url.split("?")[0].endswith("/Iris") and "iris.learning_rate=0.01" in page.url, page.url
    rate = page.locator("input[aria-label='Learning rate']")
    page.wait_for_function("el => el.value === '1.0e-2'", arg=rate.element_handle(), timeout=30_000)  # 0.01 won
