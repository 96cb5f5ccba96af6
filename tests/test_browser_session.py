"""The app's frame in a real (headless Debian) chromium: the sidebar's navigation, and jobs that belong to the
browser, not to the page view (a reload finds the running job; another browser does not see it)."""

import re

import pytest

from tests.browser_support import (
    open_page,
    progress_text,
    start_training,
    stop_button,
    train_button,
    wait_idle,
    wait_text,
)

pytestmark = pytest.mark.browser

NAV = [("🧠 Home", ""), ("🌸 Iris", "Iris"), ("🎛️ Playground", "Playground"), ("📋 Your table", "Your_table"),
       ("🔢 MNIST CNN", "MNIST_CNN"), ("🌀 CVAE", "CVAE"), ("📊 Runs", "Runs")]


def test_the_sidebar_names_every_page_and_keeps_the_urls(app_server, browser_page):
    page = browser_page
    open_page(page, app_server)
    links = page.locator("[data-testid='stSidebarNav'] a")
    links.first.wait_for()
    entries = [(" ".join(link.inner_text().split()), link.get_attribute("href")) for link in links.all()]
    assert [label for label, _ in entries] == [label for label, _ in NAV]
    assert [href.rstrip("/").removeprefix(app_server).lstrip("/") for _, href in entries] == [path for _, path in NAV]
    page.get_by_text("train the Iris classifier (a few seconds)").click()  # Home's "Start here" link
    page.wait_for_url(re.compile(r"/Iris$"))
    wait_text(page, "Iris: a feed-forward classifier")


def test_a_reload_finds_the_running_job_and_another_browser_does_not(app_server, browser_page):
    page = browser_page
    start_training(page, f"{app_server}/Iris?iris.epochs=200")  # about a minute: still running after the reload
    progress_text(page, "Training")
    assert "nnp_owner" in {c["name"] for c in page.context.cookies()}

    page.reload()
    wait_idle(page)
    first = progress_text(page, "Training")
    # the fragment refreshes twice a second: the text (batch, elapsed time) moves on while the job trains
    progress_text(page, "Training", timeout=20, other_than=first)
    stop = stop_button(page)
    assert stop.is_enabled() and train_button(page).is_disabled()

    other = page.context.browser.new_context()  # another browser: its own cookie, no job
    try:
        stranger = other.new_page()
        open_page(stranger, f"{app_server}/Iris")
        wait_text(stranger, "Set the hyper-parameters and press")
        assert train_button(stranger).is_enabled()
        assert stranger.locator("[data-testid='stProgress']").count() == 0
    finally:
        other.close()

    stop.click()
    assert re.match(r"Stopped after \d+ of 200 epochs", progress_text(page, "Stopped"))
    wait_text(page, "Stopped by you")
