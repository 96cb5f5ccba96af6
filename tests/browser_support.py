"""Helpers for the browser tests (the server and chromium fixtures live in conftest.py)."""

import re
import sys

from ui.session import OWNER_COOKIE  # the browser's id, which owns its jobs and runs

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def wait_text(pg, text: str, timeout: float = 60) -> None:
    """Wait until ``text`` is on the page, case and all (a plain ``get_by_text`` ignores case)."""
    pg.get_by_text(re.compile(re.escape(text))).first.wait_for(timeout=timeout * 1000)


def wait_idle(pg, timeout: float = 60) -> None:
    """Wait until the page's script run has finished (Streamlit marks its root with the script state)."""
    pg.locator(IDLE).wait_for(timeout=timeout * 1000)


def open_page(pg, url: str, timeout: float = 60) -> None:
    """Go to ``url`` and wait for its first script run to finish, so a click is not lost to a rerun."""
    pg.goto(url)
    wait_idle(pg, timeout)


def train_button(pg, label: str = "Train"):
    return pg.get_by_role("button", name=label, exact=True).first


def stop_button(pg, label: str = "Stop"):
    """The page's own Stop button. Not Streamlit's: while a script run takes long, the header's status widget
    shows a "Stop" button too (it stops the script run, not the training), and it comes first in the page."""
    return pg.get_by_test_id("stMainBlockContainer").get_by_role("button", name=label, exact=True).first


def start_training(pg, url: str, label: str = "Train") -> None:
    """Open ``url`` (its query string sets the hyper-parameters) and press the page's train button."""
    open_page(pg, url)
    train_button(pg, label).click()


def metric(pg, label: str, timeout: float = 60):
    """The ``st.metric`` element labelled ``label`` once it is shown."""
    element = pg.locator("[data-testid='stMetric']").filter(has=pg.get_by_text(label, exact=True)).first
    element.wait_for(timeout=timeout * 1000)
    return element


def progress_text(pg, prefix: str, timeout: float = 30, other_than: str | None = None) -> str:
    """The training progress bar's text once it starts with ``prefix`` ("Training", "Stopped", ...) and, if given,
    differs from ``other_than`` (an earlier reading: the text moves on while a job trains).

    The bar is looked up afresh on every poll: a rerun may replace its element, and a handle kept from before would
    go on reading the detached copy.
    """
    found = """([p, t]) => {
        const el = document.querySelector("[data-testid='stProgress']");
        const s = el ? el.innerText.trim() : null;
        return s !== null && s.startsWith(p) && s !== t ? s : false;
    }"""
    try:
        return pg.wait_for_function(found, arg=[prefix, other_than], timeout=timeout * 1000).json_value()
    except Exception as err:  # say what the bar showed instead, and whether a script run was under way
        bar = pg.locator("[data-testid='stProgress']")
        shown = bar.first.inner_text(timeout=1000).strip() if bar.count() else "(no progress bar)"
        state = pg.locator("[data-testid='stApp']").first.get_attribute("data-test-script-state", timeout=1000)
        raise AssertionError(f"progress bar never read {prefix!r}..." + (f" other than {other_than!r}" if other_than
                             else "") + f" within {timeout:.0f} s; it reads {shown!r}, script {state}") from err


# Trainings through a page that several tests only read: (the page and its settings, what the page shows once the
# model is there). Each is trained once per session (conftest's ``trained_owner``) by a browser of its own; a test
# takes that browser's id (``as_owner``) and its page finds the finished job's model at once.
SHARED_TRAININGS = {
    "cnn": ("MNIST_CNN?cnn.train_size=3000&cnn.epochs=1", "How well it reads MNIST"),
    "cvae": ("CVAE?cvae.train_size=1000&cvae.epochs=1&cvae.learning_rate=0.001", "Move through the latent space"),
}


def train_through_page(browser, base: str, kind: str) -> str:
    """Train ``SHARED_TRAININGS[kind]`` through its page in a browser context of its own, wait for the page to show
    the model, check that neither the page nor the server's log complained; the context's owner id."""
    path, shown = SHARED_TRAININGS[kind]
    log_start = server_log_size(base)
    context = browser.new_context(viewport={"width": 1400, "height": 2400})
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda err: errors.append(f"uncaught: {err}"))
        start_training(page, f"{base}/{path}")
        wait_text(page, shown, timeout=240)  # start-up and training; slower on a busy machine
        wait_idle(page)
        owner = owner_of(context)
    finally:
        context.close()
    assert errors == [], errors
    assert server_log_problems(base, log_start) == []
    return owner


def owner_of(context) -> str | None:
    """A browser context's owner id (its cookie, which owns its jobs and runs), once a page has set it."""
    return next((c["value"] for c in context.cookies() if c["name"] == OWNER_COOKIE), None)


def as_owner(pg, base: str, owner: str) -> None:
    """Make ``pg``'s browser the one with id ``owner`` (its cookie), before the page is opened."""
    pg.context.add_cookies([{"name": OWNER_COOKIE, "value": owner, "url": base}])


def drawing_canvas(pg):
    """The drawable canvas's top layer (280 x 280)."""
    return pg.locator("canvas.upper-canvas").first


def draw_stroke(pg, canvas, points) -> None:
    """Draw one stroke through ``points`` (pixels from the canvas's top left corner) once the canvas holds still.

    After Clear the canvas is a new component: the old one may still be found, then vanish. And after a page's first
    reruns, content above the canvas (images, charts) may still change height: a stroke aimed at where the canvas was
    a moment ago misses it (seen: a first stroke after loading the CNN page never reached the canvas). So wait until
    its box is the same 100 ms apart."""
    box = None
    for _ in range(100):
        canvas.wait_for(state="visible")
        previous, box = box, canvas.bounding_box()
        if box is not None and box == previous:
            break
        pg.wait_for_timeout(100)
    x0, y0 = box["x"], box["y"]
    pg.mouse.move(x0 + points[0][0], y0 + points[0][1])
    pg.mouse.down()
    for x, y in points[1:]:
        pg.mouse.move(x0 + x, y0 + y, steps=2)
    pg.mouse.up()


def timed_click(pg, button, done_js: str, arg=None, timeout: float = 60) -> tuple[float, float]:
    """Click ``button`` and wait until ``done_js(arg)`` holds in the page; returns (ms seen by the test, ms in the
    page from the click event to the first animation frame where it holds: the user's wait, without the
    test driver's own overhead)."""
    import time

    pg.evaluate("""() => { window.__clickAt = null; document.addEventListener('click',
        () => { window.__clickAt = performance.now(); }, {capture: true, once: true}); }""")
    start = time.perf_counter()
    button.click()
    in_page = pg.evaluate("""([done, arg, timeout]) => new Promise((resolve, reject) => {
        const check = new Function('return ' + done)();
        const give_up = performance.now() + timeout;
        const poll = () => {
          if (window.__clickAt !== null && check(arg)) resolve(performance.now() - window.__clickAt);
          else if (performance.now() > give_up) reject(new Error('not done in time: ' + done));
          else requestAnimationFrame(poll);
        };
        poll();
    })""", [done_js, arg, timeout * 1000])
    return (time.perf_counter() - start) * 1000, in_page


# A line of the server's log that is a problem (TensorFlow's start-up lines are not written: core.tf_startup).
PROBLEM = re.compile(r"(Traceback|Error|ERROR|WARNING|Warning|warning)")


def server_log_size(url: str) -> int:
    """How many lines the test server's log holds now (a test reads its own part with ``server_log_problems``)."""
    return len(sys.modules["conftest"].SERVER_LOGS[url].read_text(errors="replace").splitlines())


def server_log_problems(url: str, since: int = 0) -> list[str]:
    """The lines of the test server's log (``url``'s) from line ``since`` on that hold an error or a warning. The
    server is shared by the session's browser tests: pass ``server_log_size(url)`` taken when the test began."""
    log = sys.modules["conftest"].SERVER_LOGS[url].read_text(errors="replace").splitlines()[since:]
    return [line for line in log if PROBLEM.search(line)]
