"""Issue 15, "A newcomer's first hour", in a real chromium: the points its AppTests check (tests/test_pages*.py),
seen as a user sees them on a served app (one server for the module, tiny trainings).

* Honest status: the progress line names the phase and, after the first batches, the time left; the presets say
  what they train ("20,000 images × 3 epochs"), not seconds.
* A diverging loss gets a warning and a "Log-scale loss" toggle that turns the loss axis logarithmic.
* Iris: the decision regions come with their caption (red rings, paler where less sure); a test accuracy above
  the training accuracy gets its one-line explanation, and only then.
* CVAE: one "Saved models" expander, two differently named Train buttons, the interpolation's two end digits,
  and why a barely trained decoder draws grey.
* Links: ``?iris.epochs=25.5`` is named at the top of the page and the slider shows what is used; a run's
  "Open on its page" lands on an address that holds its settings.
* Every model page opens with one sentence and what to press first, keeps the maths in an expander, and groups
  its sidebar settings under headings.
"""

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.browser_support import metric, open_page, stop_button, train_button, wait_idle, wait_text

pytestmark = pytest.mark.browser

EXPLANATION = "Higher on the test set than on the training set? No contradiction"
# Every text the progress bar shows, recorded in the page (a poll every 50 ms catches each of its redraws).
RECORD_PROGRESS = """() => { window.__progress = []; setInterval(() => {
  const el = document.querySelector("[data-testid='stProgress']");
  const text = el && el.innerText.trim();
  if (text && window.__progress[window.__progress.length - 1] !== text) window.__progress.push(text);
}, 50); }"""
PROGRESS_MATCHES = """(pattern) => { const el = document.querySelector("[data-testid='stProgress']");
  return !!el && new RegExp(pattern).test(el.innerText.trim()); }"""
# The y-axis type of the live curves chart (the plotly chart with a "batch loss" trace).
CURVES_AXIS = """() => { for (const p of document.querySelectorAll('.js-plotly-plot'))
  if ((p._fullData || []).some(t => t.name === 'batch loss')) return p._fullLayout.yaxis.type; return null; }"""
# Trace names of the decision-regions chart (the plotly chart with a "misclassified (n)" trace).
REGION_TRACES = """() => { for (const p of document.querySelectorAll('.js-plotly-plot')) {
  const names = (p._fullData || []).map(t => t.name);
  if (names.some(n => /^misclassified \\(\\d+\\)$/.test(n))) return names; } return null; }"""
# Durations in a label: what the presets must not promise ("42 s", "3 min", "seconds").
DURATION = re.compile(r"\d\s*(s|sec|secs|seconds?|min|minutes?|h|hours?)\b", re.IGNORECASE)


def _main(page):
    return page.get_by_test_id("stMainBlockContainer")


def _sidebar(page):
    return page.get_by_test_id("stSidebar")


def _wait_progress(page, pattern: str, timeout: float = 120) -> str:
    """The progress bar's text once it matches the regular expression ``pattern``."""
    page.wait_for_function(PROGRESS_MATCHES, arg=pattern, timeout=timeout * 1000)
    return page.locator("[data-testid='stProgress']").first.inner_text().strip()


def _model_caption(page, status: str, timeout: float = 120) -> str:
    """The results' "Model: <run id> (<status>)" line once the page shows a model of that status; its run id."""
    line = page.get_by_text(re.compile(rf"^Model: \S+ \({status}\)"))
    line.first.wait_for(timeout=timeout * 1000)
    wait_idle(page)
    return re.match(r"^Model: (\S+)", line.first.inner_text()).group(1)


def _percent(page, label: str) -> float:
    return float(re.search(r"([\d.]+)%", metric(page, label).inner_text()).group(1))


def _explained_exactly_when_test_beats_training(page) -> tuple[float, float]:
    """The explanation is on the page if and only if the two accuracies shown have test > training."""
    test, train = _percent(page, "Test accuracy"), _percent(page, "Training accuracy")
    shown = page.get_by_text(EXPLANATION).count() > 0
    assert shown == (test > train), f"test {test}%, training {train}%, explanation shown: {shown}"
    return test, train


def _opens_with_one_sentence(page, start_here: str, maths: str, hidden_maths: str) -> None:
    """The first paragraph under the title: one sentence, then what to press first; the maths is in a closed
    expander that opens on a click."""
    main = _main(page)
    title_y = main.locator("h1").first.bounding_box()["y"]
    first = main.locator("[data-testid='stMarkdown']").first
    text = first.inner_text().strip()
    assert first.bounding_box()["y"] > title_y
    intro, _, rest = text.partition(" Start here: ")
    assert rest.startswith(start_here), text
    assert intro.endswith(".") and intro.count(". ") == 0, f"more than one sentence before 'Start here': {intro!r}"
    expander = main.locator("[data-testid='stExpander']").filter(has_text=maths).first
    assert expander.locator("summary").inner_text().strip().endswith(maths)
    hidden = page.get_by_text(hidden_maths).first
    assert not hidden.is_visible(), "the maths shows before its expander is opened"
    expander.locator("summary").click()
    hidden.wait_for(state="visible", timeout=10_000)


def _sidebar_groups(page, groups: dict[str, tuple[str, ...]]) -> None:
    """The sidebar's bold group headings, in order, each above the widgets of its group (by their labels)."""
    sidebar = _sidebar(page)
    sidebar.get_by_role("button", name="Reset to the portfolio's defaults").wait_for(timeout=30_000)  # the last one
    for labels in groups.values():  # element kinds are loaded on first use: wait until each label is drawn
        for label in labels:
            sidebar.locator("[data-testid='stWidgetLabel']").filter(has_text=re.compile(rf"^{label}$")).first \
                .wait_for(timeout=30_000)
    headings = [h.inner_text().strip() for h in sidebar.locator("[data-testid='stMarkdownContainer'] strong").all()]
    assert headings == list(groups), headings
    tops = [sidebar.locator("[data-testid='stMarkdownContainer'] strong").filter(has_text=re.compile(rf"^{h}$"))
            .first.bounding_box()["y"] for h in groups] + [float("inf")]
    for (heading, labels), top, next_top in zip(groups.items(), tops, tops[1:]):
        for label in labels:
            y = sidebar.locator("[data-testid='stWidgetLabel']").filter(has_text=re.compile(rf"^{label}$")).first \
                .bounding_box()["y"]
            assert top < y < next_top, f"{label!r} is not under the heading {heading!r}"


def _preset_labels(page) -> list[str]:
    """The options of the sidebar's Preset box, as its drop-down lists them."""
    _sidebar(page).locator("[data-testid='stSelectbox']").filter(has_text="Preset").click()
    options = page.get_by_role("option")
    options.first.wait_for(timeout=10_000)
    labels = [o.inner_text().strip() for o in options.all()]
    page.keyboard.press("Escape")
    return labels


def _switch(page, label: str):
    """A ``st.toggle`` by its label: (its switch input, the label element to click: it covers the input)."""
    switch = page.get_by_role("switch", name=label)
    return switch, page.locator("label").filter(has=switch).first


# --- Iris: a link's notice, the status line, the explanation, the regions, the Runs page's link ------------------

def test_iris_link_notice_status_regions_explanation_and_open_from_runs(app_server, browser_page):
    page = browser_page
    base = app_server

    # Point 10: a fractional epochs value in the link is named at the top of the main page, not in the sidebar,
    # with the value the slider shows.
    open_page(page, f"{base}/Iris?iris.epochs=25.5", timeout=120)
    notice = _main(page).locator("[data-testid='stAlert']").filter(has_text="Link setting ignored").first
    notice.wait_for(timeout=10_000)
    text = notice.inner_text()
    assert "Epochs: '25.5' is not a valid int" in text and text.rstrip().endswith("using 25."), text
    assert notice.bounding_box()["y"] < _main(page).locator("h1").first.bounding_box()["y"]  # above the title
    assert _sidebar(page).locator("[data-testid='stAlert']").count() == 0
    epochs = _sidebar(page).locator("[data-testid='stSlider']").filter(has_text="Epochs").get_by_role("slider")
    expect(epochs).to_have_value("25", timeout=10_000)
    assert dict(parse_qsl(urlsplit(page.url).query)).get("iris.epochs") == "25", page.url

    # Point 12: one sentence, what to press first, the maths in an expander, the sidebar in groups.
    _opens_with_one_sentence(page, "press Train (a few seconds)", "The maths and the portfolio's setting",
                             "The portfolio's setting (the defaults)")
    _sidebar_groups(page, {"Architecture": ("Hidden layers", "Units", "Activation"),
                           "Training": ("Optimizer", "Learning rate", "Batch size", "Epochs", "Seed"),
                           "Data": ("Test fraction",)})

    # Point 3: while it trains, the progress line names the phase and, after the first batches, the time left.
    open_page(page, f"{base}/Iris?iris.epochs=200")
    train_button(page).click()
    status = _wait_progress(page, r"^Training: epoch \d+ of 200, batch \d+ of 75 — .+, about .+ left$", timeout=180)
    print(f"\nIris status line while training: {status!r}")
    stop_button(page).click()
    assert re.match(r"^Stopped after \d+ of 200 epochs in .+$", _wait_progress(page, r"^Stopped", timeout=60))
    stopped_run = _model_caption(page, "stopped")
    _explained_exactly_when_test_beats_training(page)  # point 6, whichever way this model's figures go

    # Point 6: two epochs at 3e-3 (seed 42) end with 100% test against 95% training accuracy: explained.
    open_page(page, f"{base}/Iris?iris.epochs=2&iris.learning_rate=0.003")
    train_button(page).click()
    done_run = _model_caption(page, "done")
    test, train = _explained_exactly_when_test_beats_training(page)
    assert test > train, f"these settings no longer give a test accuracy above the training one: {test}% / {train}%"
    explanation = page.get_by_text(EXPLANATION).first.inner_text()
    assert "30 test flowers are few" in explanation, explanation

    # Point 5: the decision regions with their caption; the red rings count the test mistakes shown above.
    traces = page.wait_for_function(REGION_TRACES, timeout=20_000).json_value()
    assert {"setosa", "versicolor", "virginica"} <= set(traces), traces
    mistakes = int(metric(page, "Test mistakes").inner_text().split()[-1])
    assert f"misclassified ({mistakes})" in traces, (mistakes, traces)
    wait_text(page, "red rings: the ones the model gets wrong")
    caption = page.get_by_text(re.compile(r"^Dots: the test flowers")).first.inner_text()
    assert "paler where it is less sure" in caption and caption.endswith("less sure."), caption
    page.get_by_text("Two measurements of your choice").click()
    wait_text(page, "paler where it is less sure, averaged over the two measurements not shown.", timeout=30)

    # Point 10: the Runs page's "Open on its page" lands on an address holding the run's settings.
    expected = {done_run: {"iris.epochs": "2", "iris.learning_rate": "0.003"}, stopped_run: {"iris.epochs": "200"}}
    open_page(page, f"{base}/Runs")
    wait_text(page, "Select one or more rows")
    grid = page.locator("[data-testid='stDataFrame']").first
    open_button = page.get_by_role("button", name="Open on its page")
    for _ in range(3):  # the grid draws on a canvas: a click before it is drawn selects nothing, so click again
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection box
        try:
            open_button.first.wait_for(timeout=15_000)
            break
        except PlaywrightTimeout:
            wait_idle(page)
    open_button.first.wait_for(timeout=15_000)
    assert open_button.count() == 1
    heading = page.get_by_text(re.compile(r"^iris-\S+ · Iris classifier · (done|stopped)$")).first.inner_text()
    run_id = heading.split()[0]
    assert run_id in expected, (heading, expected)
    open_button.click()
    page.wait_for_url(re.compile(r"/Iris\?"), timeout=30_000)
    wait_idle(page)
    query = dict(parse_qsl(urlsplit(page.url).query))
    assert expected[run_id].items() <= query.items(), (page.url, expected[run_id])
    assert _model_caption(page, "done" if run_id == done_run else "stopped") == run_id
    epochs = _sidebar(page).locator("[data-testid='stSlider']").filter(has_text="Epochs").get_by_role("slider")
    expect(epochs).to_have_value(expected[run_id]["iris.epochs"], timeout=10_000)


# --- Iris: a diverging loss ---------------------------------------------------------------------------------------

def test_a_diverging_loss_is_named_and_the_loss_axis_goes_log(app_server, browser_page):
    page = browser_page
    open_page(page, f"{app_server}/Iris?iris.learning_rate=1&iris.activation=linear&iris.epochs=3", timeout=120)
    # The link's settings are the widgets' (a number box mounts with its default, then shows the link's value).
    learning_rate = _sidebar(page).locator("[data-testid='stNumberInput']").filter(has_text="Learning rate")
    expect(learning_rate.locator("input")).to_have_value("1.0e+0", timeout=10_000)
    train_button(page).click()
    final = _wait_progress(page, r"^(Done|Failed|Stopped)", timeout=180)
    print(f"\ndiverging Iris run: {final!r}")
    warning = _main(page).locator("[data-testid='stAlert']").filter(has_text="The loss is diverging").first
    warning.wait_for(timeout=10_000)
    text = warning.inner_text()
    assert re.search(r"grew from [\d.e+-]+ to [\d.e+-]+", text) and text.lower().count("log-scale loss axis") == 1, text
    print(f"the warning reads: {text!r}")

    wait_idle(page)  # the full rerun that shows the finished model's results
    page.wait_for_function(f"() => ({CURVES_AXIS})() === 'linear'", timeout=20_000)  # plotly draws after the text
    switch, label = _switch(page, "Log-scale loss")
    assert not switch.is_checked()
    label.click()
    page.wait_for_function(f"() => ({CURVES_AXIS})() === 'log'", timeout=20_000)
    assert switch.is_checked()
    if final.startswith("Done"):  # a finished model's results: the explanation rule holds here too
        _model_caption(page, "done")
        _explained_exactly_when_test_beats_training(page)


# --- MNIST CNN: the opening and the presets ------------------------------------------------------------------------

def test_cnn_page_opens_with_one_sentence_grouped_settings_and_presets_in_images(app_server, browser_page):
    page = browser_page
    open_page(page, f"{app_server}/MNIST_CNN", timeout=120)
    _opens_with_one_sentence(page, "pick the Quick preset in the sidebar, press Apply preset, then Train",
                             "The maths and the portfolio's network", "A convolution slides a small kernel")
    _sidebar_groups(page, {"Architecture": ("Conv1 filters", "Kernel size", "Dense units", "Dropout"),
                           "Training": ("Learning rate", "Batch size", "Epochs", "Precision", "Seed"),
                           "Data": ("Train size", "Inversion augmentation")})
    labels = _preset_labels(page)
    assert labels == ["Quick: 20,000 images × 3 epochs", "Portfolio: 60,000 images × 10 epochs"], labels
    assert not any(DURATION.search(label) for label in labels), labels


# --- CVAE: the opening, the status, the two models, the interpolation, a young decoder ------------------------------

def test_cvae_page_names_its_two_models_shows_the_ends_and_explains_a_young_decoder(app_server, browser_page):
    page = browser_page
    open_page(page, f"{app_server}/CVAE?cvae.train_size=1000&cvae.epochs=1", timeout=120)
    _opens_with_one_sentence(page, "apply the Quick preset in the sidebar and press Train",
                             "The maths and the portfolio's network", "the reparameterisation trick")
    _sidebar_groups(page, {"Model": ("Latent dim", "Beta"),
                           "Training": ("Learning rate", "Batch size", "Epochs", "Seed"),
                           "Data": ("Train size", "MNIST source")})
    labels = _preset_labels(page)
    assert labels == ["Quick: 10,000 images × 3 epochs", "Portfolio: 60,000 images × 10 epochs"], labels
    assert not any(DURATION.search(label) for label in labels), labels

    # Point 3 on the model people wait for: the phases in turn, then how it ended.
    page.evaluate(RECORD_PROGRESS)
    train_button(page).click()
    wait_text(page, "Interpolate between two digits", timeout=300)
    wait_idle(page)
    seen = page.evaluate("() => window.__progress")
    print(f"\nCVAE progress lines: {seen}")
    assert any(re.match(r"^Training: epoch 1 of 1, batch \d+ of 16 — ", s) for s in seen), seen
    assert any(re.match(r"^(Validating|Evaluating|Saving)… — ", s) for s in seen), seen
    assert re.match(r"^Done after 1 of 1 epochs in ", seen[-1]), seen

    # Point 8: two models, two names; one "Saved models" panel.
    main = _main(page)
    trains = [b.inner_text().strip() for b in main.get_by_role("button", name=re.compile(r"^Train\b")).all()]
    stops = [b.inner_text().strip() for b in main.get_by_role("button", name=re.compile(r"^Stop\b")).all()]
    assert trains == ["Train", "Train the classifier"], trains
    assert stops == ["Stop", "Stop the classifier"], stops
    saved = [s.inner_text().strip() for s in main.locator("[data-testid='stExpander'] summary").all()
             if "Saved" in s.inner_text()]
    assert len(saved) == 1 and saved[0].endswith("Saved models: load, download, upload"), saved

    # The interpolation strip starts and ends with the two test digits it joins: 10 steps + 2 ends, 28 px each
    # with 1 px between, enlarged 3 times.
    caption = page.get_by_text(re.compile(r"^first and last: test digits 0 \(a \d\) and 1 \(a \d\);")).first
    caption.wait_for(timeout=30_000)
    strip = page.locator("[data-testid='stImage']").filter(has=caption).locator("img").first
    size = strip.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size == [(12 * 29 - 1) * 3, 28 * 3], size

    # A decoder that has seen 1,000 images draws grey: the page says so beside the grid.
    young = page.get_by_text(re.compile(r"^This model has seen only 1,000 images in all")).first
    young.wait_for(timeout=10_000)
    assert "grey" in young.inner_text(), young.inner_text()
