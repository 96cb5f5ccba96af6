"""The fair queue as visitors see it, in chromium: on a server with one training slot (this 2-core machine keeps a
core for the pages), a second visitor's Train waits, its page says where it stands, its training starts and is
saved when the first ends; a third visitor's Stop takes their queued job out at once."""

import pytest

from tests.browser_support import open_page, progress_text, start_training, stop_button, train_button, wait_text

pytestmark = pytest.mark.browser


def test_a_second_visitor_waits_sees_the_queue_and_trains_after_the_first(app_server, browser_page):
    first = browser_page
    start_training(first, f"{app_server}/Iris?iris.epochs=200")  # a minute or more: it holds the only slot
    progress_text(first, "Training", timeout=120)

    browser = first.context.browser
    contexts = [browser.new_context(viewport={"width": 1400, "height": 2400}) for _ in range(2)]
    try:
        second, third = (context.new_page() for context in contexts)
        start_training(second, f"{app_server}/Iris?iris.epochs=2")
        assert progress_text(second, "Queued: 1st of 1").startswith("Queued: 1st of 1")
        assert train_button(second).is_disabled() and stop_button(second).is_enabled()

        start_training(third, f"{app_server}/Iris?iris.epochs=2")
        progress_text(third, "Queued: 2nd of 2")
        stop_button(third).click()
        wait_text(third, "Cancelled before it started")
        progress_text(second, "Queued: 1st of 1")  # the cancelled job was behind it: still first

        stop_button(first).click()
        progress_text(first, "Stopped", timeout=30)
        progress_text(second, "Done", timeout=120)  # it started when the slot was free, trained and was saved
        wait_text(second, "Test accuracy", timeout=60)
        open_page(third, f"{app_server}/Runs")
        wait_text(third, "No runs yet")  # the cancelled visitor has no run
    finally:
        for context in contexts:
            context.close()
