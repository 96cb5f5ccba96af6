"""The drawing's quick verdict (ui/verdict.py): the route answers with what the page's rerun shows for the same
picture, and refuses what it should (an unknown token, a model gone, a body that is no picture)."""

import asyncio
import gc
import io
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from core.mnist.cnn import build_cnn
from ui import verdict
from ui.digits import prepare_drawing


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _canvas(stroke: bool = True) -> np.ndarray:
    """A 280x280 RGBA canvas as streamlit_drawable_canvas sends it: white ink on black, a vertical bar (a "1")."""
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    if stroke:
        canvas[40:250, 130:152, :3] = 255
    return canvas


def _post(token: str, body: bytes):
    from starlette.requests import Request

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": f"/_nn/verdict/{token}", "path_params": {"token": token},
             "headers": [], "query_string": b""}
    # In a thread of its own: in the full suite the session's chromium (Playwright's sync API) keeps an event loop
    # running in this thread, where asyncio.run refuses to start another.
    with ThreadPoolExecutor(1) as pool:
        response = pool.submit(asyncio.run, verdict.endpoint(Request(scope, receive))).result()
    return response.status_code, json.loads(response.body)


@pytest.fixture(scope="module")
def model():
    return build_cnn(filters=(4, 8), dense_units=8)


def test_the_quick_answer_is_what_the_rerun_shows_for_the_same_picture(model):
    verdict._register("t-same", model, None, True)
    status, answer = _post("t-same", _png(_canvas()))
    assert status == 200
    digit = prepare_drawing(np.asarray(Image.open(io.BytesIO(_png(_canvas())))), True)  # the rerun's road
    assert answer["html"] == verdict.verdict_html(verdict.read_digit(model, None, digit.image), digit)
    assert answer["stamp"] == verdict.stamp(digit) and answer["provisional"] is True
    assert "probability of each digit" in answer["html"]
    assert any(word in answer["html"] for word in ("It reads", "Not sure"))


def test_an_empty_canvas_says_so_and_is_not_provisional(model):
    verdict._register("t-empty", model, None, True)
    status, answer = _post("t-empty", _png(_canvas(stroke=False)))
    assert status == 200 and answer["provisional"] is False
    assert answer["html"].startswith('<div class="nnv-box nnv-info">') and "probability" not in answer["html"]


def test_unknown_tokens_gone_models_and_bad_bodies_are_refused(model):
    assert _post("no-such-token", _png(_canvas()))[0] == 404
    verdict._register("t-bad", model, None, True)
    status, answer = _post("t-bad", b"not a png at all")
    assert status == 400 and "not a picture" in answer["error"]
    assert _post("t-bad", _png(np.zeros((2048, 8), np.uint8)))[0] == 400  # larger than a canvas can be
    assert _post("t-bad", b"\0" * (verdict.MAX_BODY_BYTES + 1))[0] == 413  # not read past the limit
    verdict._busy.add("t-bad")  # one read at a time per session
    assert _post("t-bad", _png(_canvas()))[0] == 429
    verdict._busy.discard("t-bad")

    gone = build_cnn(filters=(4,), dense_units=4)
    verdict._register("t-gone", gone, None, True)
    del gone
    gc.collect()
    assert _post("t-gone", _png(_canvas()))[0] == 404  # the server keeps no visitor's model alive for a token


def test_the_server_keeps_at_most_max_sessions_readers(model, monkeypatch):
    monkeypatch.setattr(verdict, "MAX_SESSIONS", 3)
    for i in range(5):
        verdict._register(f"t-many-{i}", model, None, True)
    assert len(verdict._readers) == 3 and "t-many-4" in verdict._readers and "t-many-0" not in verdict._readers


def test_markdown_bold_becomes_html_and_everything_else_is_escaped():
    assert verdict._box("success", "It reads **7** <b>(99%)</b>") == (
        '<div class="nnv-box nnv-success">It reads <b>7</b> &lt;b&gt;(99%)&lt;/b&gt;</div>')
