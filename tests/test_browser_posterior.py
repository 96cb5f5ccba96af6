"""Browser test of the CVAE page's uncertainty section, in Debian's chromium: a drawn digit's posterior on the map
(mean, 1σ and 2σ ellipses with the encoder's σ, decoded draws, the KL value) and the β comparison of two runs."""

import re

import pytest

from tests.browser_support import (
    SHARED_TRAININGS,
    as_owner,
    draw_stroke,
    drawing_canvas,
    open_page,
    train_button,
    wait_text,
)

pytestmark = pytest.mark.browser

SMALL = "cvae.train_size=200&cvae.epochs=1&cvae.learning_rate=0.001"
TRACES = """(title) => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(p => (p.layout && p.layout.title && p.layout.title.text || '').includes(title))
  .map(p => (p._fullData || []).map(t => ({name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])})))"""


def _posterior_plots(page, title: str, count: int):
    """The decoded traces of the plots titled ``title`` once ``count`` of them hold both ellipses."""
    page.wait_for_function(f"""() => ({TRACES})({title!r}).filter(
        ts => ts.some(t => t.name === '1σ') && ts.some(t => t.name === '2σ')).length >= {count}""", timeout=60000)
    return page.evaluate(f"({TRACES})({title!r})")


def test_a_drawn_digit_shows_its_posterior_and_two_betas_side_by_side(app_server, browser_page, trained_owner):
    page = browser_page
    # the first run (β = 1): the small CVAE trained through the page once per session (conftest's trained_owner)
    as_owner(page, app_server, trained_owner("cvae"))
    open_page(page, f"{app_server}/{SHARED_TRAININGS['cvae'][0]}", timeout=120)
    wait_text(page, "Train a second run with another β", timeout=120)  # one run: nothing to compare yet
    # The new view finds the finished model (this browser's job) and computes its page: slow on a busy machine.
    open_page(page, f"{app_server}/CVAE?{SMALL}&cvae.beta=4", timeout=240)
    train_button(page).click()
    wait_text(page, "this model · β = 4", timeout=240)  # the first run (β = 1) is offered beside it
    canvas = drawing_canvas(page)
    canvas.scroll_into_view_if_needed()
    draw_stroke(page, canvas, [(150, 40 + 8 * i) for i in range(26)])  # a vertical stroke: a "1"

    plots = _posterior_plots(page, "q(z|x) of drawing", 3)  # the section's map, then the two compared models
    traces = {t["name"]: t for t in plots[0]}
    assert {"1σ", "2σ", "mean", "samples"} <= set(traces)
    assert len(traces["samples"]["x"]) == 8
    caption = page.get_by_text(re.compile(r"^μ = \(")).first.inner_text()
    sx, sy = (float(v) for v in re.search(r"σ = \(([-\d.]+), ([-\d.]+)\)", caption).groups())
    for name, k in (("1σ", 1), ("2σ", 2)):  # the ellipses' semi-axes are k σ of the encoder's log-variance
        xs, ys = traces[name]["x"], traces[name]["y"]
        assert (max(xs) - min(xs)) / 2 == pytest.approx(k * sx, abs=0.002 * k)
        assert (max(ys) - min(ys)) / 2 == pytest.approx(k * sy, abs=0.002 * k)
    split = page.get_by_text(re.compile(r"^−ELBO [\d.]+ = reconstruction")).first.inner_text()
    rec, kl = (float(v) for v in re.search(r"reconstruction ([\d.]+) \+ KL ([-\d.]+) nats", split).groups())
    elbo = float(re.search(r"^−ELBO ([\d.]+)", split).group(1))
    assert kl >= 0 and elbo == pytest.approx(rec + kl, abs=0.11)
    comparison = page.get_by_text(re.compile(r"^Same digit: KL")).first.inner_text()
    assert "(β = 4)" in comparison and "(β = 1)" in comparison
    print(f"\ndrawn digit: {split}\n{comparison}")
