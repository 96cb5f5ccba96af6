"""The CNN's verdict on one digit, and the drawing's quick path to it.

A page rerun costs the browser 150-250 ms of rendering after the canvas sends its drawing (Streamlit's frontend
re-renders the fragment several times as a run starts, streams and ends). So the drawing's verdict lives in a small
``st.components.v2`` component that also takes a quicker road: at the pen's lift its JS (``verdict.js``) reads the
canvas and posts the picture to ``POST /_nn/verdict/<token>`` (:func:`endpoint`, a route of ``app.py``), which runs
the *same* code as the rerun, :func:`read_digit` and :func:`verdict_html`, and answers with the verdict's HTML.
The canvas's own message (200 ms after the pen lifts) still reruns the fragment, which renders the same HTML;
the component keeps whichever is newer. "Clear the canvas" is shown at the click too (the canvas blanked, the
empty-canvas message), before the fragment's rerun mounts the new, empty canvas.

The token is this session's (``st.session_state``); the server keeps, per token, a weak reference to the current
model and the settings that read a drawing (at most :data:`MAX_SESSIONS`), so a visitor's token reads only with
that visitor's model and a forgotten model is not kept alive by it.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import secrets
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
import streamlit as st
from PIL import Image, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from core.mnist.cnn import predict_digits
from core.mnist.preprocess import prediction_summary
from core.plots import probability_svg
from ui.digit_check import digit_check
from ui.digits import EMPTY_CANVAS, Digit, prepare_drawing

MAX_SESSIONS = 256  # readers kept (one per session); the oldest goes first
MAX_BODY_BYTES = 2_000_000  # a 280x280 PNG is ~10 kB
MAX_SIDE = 1024
SETTLE_MS = 800  # a verdict stays provisional until the drawing has been still this long (a pause between strokes)
_JS = (Path(__file__).parent / "verdict.js").read_text()
_CSS = """
.nnv-box { padding: 0.75rem 1rem; border-radius: 0.5rem; margin-bottom: 0.5rem; line-height: 1.5; }
.nnv-success { background: rgba(33, 195, 84, 0.1); color: rgb(23, 114, 51); }
.nnv-warning { background: rgba(255, 189, 69, 0.2); color: rgb(146, 108, 5); }
.nnv-error { background: rgba(255, 43, 43, 0.09); color: rgb(125, 53, 59); }
.nnv-info { background: rgba(28, 131, 225, 0.1); color: rgb(0, 66, 128); }
.nnv-probs { width: 100%; display: block; }
.nnv-caption { font-size: 14px; color: rgba(49, 51, 63, 0.6); margin: 0.25rem 0 0.5rem; }
"""


@dataclass
class Reading:
    """What the network makes of one preprocessed digit."""

    probs: np.ndarray
    summary: dict  # core.mnist.preprocess.prediction_summary
    check: dict | None  # core.mnist.ood.score_one, or None without the digit check's statistics


def read_digit(model, stats, image) -> Reading:
    probs = predict_digits(model, image)[0]
    return Reading(probs, prediction_summary(probs), digit_check(model, stats, image))


def verdict_message(reading: Reading, digit) -> tuple[str, str]:
    """(level, Markdown): ``success`` for a confident reading, ``warning`` when unsure, ``error`` for not a digit."""
    summary, check = reading.summary, reading.check
    if check is not None and check["not_a_digit"]:
        return "error", (f"This does not look like a digit: its features are far from every digit the network "
                         f"learned from (the softmax alone would say {summary['digit']}, {summary['probability']:.0%}).")
    if summary["unsure"] and digit.dark_on_light and not digit.inverted:
        return "warning", (f"Not sure: it might be a {summary['digit']} or a {summary['runner_up']}. The ink is dark "
                           "on light and reaches the network as it is (inversion is off): only a model trained with "
                           "the inversion augmentation reads that. Turn the inversion on, or train with the "
                           "augmentation.")
    if summary["unsure"]:
        return "warning", f"Not sure: {summary['message']}"
    return "success", f"It reads **{summary['digit']}** ({summary['probability']:.1%})."


def show_verdict(reading: Reading, digit) -> None:
    """The verdict as Streamlit elements (for uploads): the message and the probability bars."""
    level, text = verdict_message(reading, digit)
    getattr(st, level)(text)
    st.image(probability_svg(reading.probs, range(10)), caption="probability of each digit", width="stretch")


def _box(level: str, markdown: str) -> str:
    text = re.sub(r"[*][*](.+?)[*][*]", r"<b>\1</b>", html.escape(markdown))  # the messages' only Markdown: bold
    return f'<div class="nnv-box nnv-{level}">{text}</div>'


def verdict_html(reading: Reading | None, digit) -> str:
    """The drawing's verdict as HTML, the same from a rerun and from :func:`endpoint`; without a reading, the
    reason there is none (an empty canvas: "Draw a digit on the canvas.")."""
    if reading is None:
        return _box("info", digit.error or "")
    bars = "data:image/svg+xml;charset=utf-8," + quote(probability_svg(reading.probs, range(10)), safe="")
    return (_box(*verdict_message(reading, digit)) + f'<img class="nnv-probs" alt="probability of each digit" '
            f'src="{bars}"><div class="nnv-caption">probability of each digit</div>')


def stamp(digit) -> str:
    """Names one drawing (its 28x28 picture): a rerun and a quick answer for the same drawing carry the same."""
    if digit.image is None:
        return "none:" + (digit.error or "")
    return hashlib.sha1(np.ascontiguousarray(digit.image).tobytes()).hexdigest()[:16]


def answer(reading: Reading | None, digit) -> dict:
    """What the component shows for one drawing, from a rerun or from :func:`endpoint`."""
    return {"html": verdict_html(reading, digit), "stamp": stamp(digit), "provisional": reading is not None}


# --- the quick path: per-session readers and the route that uses them ------------------------------------------

_readers: OrderedDict[str, tuple] = OrderedDict()
_lock = threading.Lock()


def _register(token: str, model, stats, invert: bool) -> None:
    with _lock:
        _readers[token] = (weakref.ref(model), stats, invert)
        _readers.move_to_end(token)
        while len(_readers) > MAX_SESSIONS:
            _readers.popitem(last=False)


def _reader(token: str):
    with _lock:
        entry = _readers.get(token)
    model = entry[0]() if entry else None
    if model is None:
        raise LookupError("no model for this token")
    return model, entry[1], entry[2]


def read_png(token: str, body: bytes) -> dict:
    """The quick path's work: the PNG the canvas's JS posted, read as a rerun reads the canvas's own message.
    Raises ``LookupError`` for an unknown token or a model gone, ``ValueError`` for a body that is no picture."""
    model, stats, invert = _reader(token)
    try:
        picture = Image.open(io.BytesIO(body))
        if max(picture.size) > MAX_SIDE:
            raise ValueError("the picture is too large")
        raw = np.asarray(picture)  # as streamlit_drawable_canvas decodes the drawing it sends
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"not a picture: {err}") from err
    digit = prepare_drawing(raw, invert)
    reading = None if digit.error else read_digit(model, stats, digit.image)
    return answer(reading, digit)


_busy: set[str] = set()  # tokens with a read under way: one at a time per session


async def endpoint(request):
    """``POST /_nn/verdict/<token>`` with a PNG body: ``{"html", "stamp", "provisional"}``; 404 for an unknown
    token, 413 for a body over :data:`MAX_BODY_BYTES` (not read past it), 429 while the session's previous read
    runs, 400 for a body that is not a picture. The model runs in a worker thread, not on the server's loop."""
    token = request.path_params["token"]
    try:
        _reader(token)
    except LookupError as err:
        return JSONResponse({"error": str(err)}, status_code=404)
    if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
        return JSONResponse({"error": "the picture is too large"}, status_code=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "the picture is too large"}, status_code=413)
    with _lock:
        if token in _busy:
            return JSONResponse({"error": "a read is under way"}, status_code=429)
        _busy.add(token)
    try:
        return JSONResponse(await run_in_threadpool(read_png, token, bytes(body)))
    except LookupError as err:
        return JSONResponse({"error": str(err)}, status_code=404)
    except ValueError as err:
        return JSONResponse({"error": str(err)}, status_code=400)
    finally:
        with _lock:
            _busy.discard(token)


@st.cache_resource
def _component():
    return st.components.v2.component("nn_playground.verdict", html='<div class="nnv"></div>', css=_CSS, js=_JS,
                                      isolate_styles=False)


def drawing_verdict(key: str, model, stats, digit, reading: Reading | None, invert: bool, target: str) -> None:
    """The drawing's verdict (``key`` is the canvas's, as given to :func:`ui.digits.canvas_digit`), quick at the
    pen's lift, provisional (dimmed, ``data-provisional`` on ``st.container(key=target)``) until the drawing has been
    still for :data:`SETTLE_MS`."""
    token = st.session_state.setdefault("verdict.token", secrets.token_urlsafe(18))
    _register(token, model, stats, invert)
    empty = Digit("drawing", None, error=EMPTY_CANVAS)  # shown at a click on Clear, before its rerun
    data = {**answer(reading, digit), "source": digit.source,  # a new source (Clear, Undo) drops a quick answer
            "token": token, "canvas": key, "target": target, "settle_ms": SETTLE_MS, "paper": digit.paper,
            "empty": answer(None, empty)}
    _component()(data=data, key=f"{key}.verdict")
