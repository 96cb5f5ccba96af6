"""The Iris network opened up, in a real (headless Debian) chromium: "One step" adds one point to the loss-per-step
curve and changes the network picture (neuron maps and weights); the click -> redraw time is printed (no timing assertion: a shared machine)."""

import statistics
import time

import pytest

from tests.browser_support import open_page, wait_idle

pytestmark = pytest.mark.browser

# The number of points of the loss-per-step curve (plotly keeps its data in _fullData) and the network picture's
# address (Streamlit serves an image under a name derived from its content: new maps or weights, a new address).
LOSS_POINTS = """() => {
  for (const plot of document.querySelectorAll('.js-plotly-plot'))
    for (const trace of plot._fullData || []) if (trace.name === 'loss per step') return trace._length || 0;
  return null;
}"""
PICTURE = """() => { const img = document.querySelector("[data-testid='stImage'] img"); return img && img.complete
  && img.naturalWidth > 0 ? img.getAttribute('src') : null; }"""
STATE = f"() => [({LOSS_POINTS})(), ({PICTURE})()]"
CHANGED = f"""([points, maps]) => {{ const [p, m] = ({STATE})(); return p === points + 1 && m !== null && m !== maps; }}"""


def test_one_step_adds_a_loss_point_and_changes_the_neuron_maps(app_server, browser_page):
    page = browser_page
    open_page(page, f"{app_server}/Iris")
    page.get_by_text("Open up the network", exact=True).click()
    step = page.get_by_role("button", name="One step", exact=True)
    step.wait_for(timeout=90_000)
    page.wait_for_function(f"({STATE})()[0] === 0 && ({STATE})()[1] !== null", timeout=90_000)
    wait_idle(page)
    times = []
    for _ in range(6):
        points, maps = page.evaluate(STATE)
        start = time.perf_counter()
        step.click()
        page.wait_for_function(CHANGED, arg=[points, maps], timeout=60_000)
        times.append((time.perf_counter() - start) * 1000)
        wait_idle(page)
        time.sleep(0.3)
    points, _ = page.evaluate(STATE)
    assert points == 6
    assert page.get_by_text("Step 6 (pass 1, batch 6 of 75)").count() == 1
    print(f"\nIris network 'One step' click -> redrawn loss curve and neuron maps in chromium: median "
          f"{statistics.median(times):.0f} ms (min {min(times):.0f}, max {max(times):.0f}) over {len(times)} clicks; "
          f"first {times[0]:.0f} ms")

    page.get_by_role("button", name="Reset to the same start", exact=True).click()
    page.wait_for_function(f"({STATE})()[0] === 0", timeout=60_000)
