"""Digits from the user: a drawing canvas and an upload box, preprocessed the way MNIST was made.

Shared by the CNN and CVAE pages. ``streamlit_drawable_canvas`` is imported here, inside a Streamlit
run (a bare import outside one raises), never in ``core``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.mnist.data import DataUnavailable, load_for, save_upload
from core.mnist.preprocess import PreprocessError, load_image_bytes, preprocess_digit
from ui.session import store
from ui.text import literal

# Lazy import: streamlit_drawable_canvas inside canvas_digit, not for its cost but because a bare import outside a
# Streamlit run raises (StreamlitAPIException: "Component ... must be declared in pyproject.toml").

CANVAS_SIZE = 280
PEN_WIDTH = 22  # a 280 px canvas is 10x MNIST's 28 px; MNIST strokes are ~2-3 px wide
POLARITIES = {"white on black": ("#FFFFFF", "#000000"), "black on white": ("#000000", "#FFFFFF")}
MAX_UPLOADS = 12
EMPTY_CANVAS = "Draw a digit on the canvas."


def mnist_or_stop(kind: str, params: dict):
    """The MNIST a page's settings name (with a spinner), or an error and the end of the page's run.

    For the ``upload`` source, an upload box in the sidebar; the server keeps the checked file and sets
    ``params["data_path"]`` to its own copy (a page never takes a path from the visitor).
    """
    if params["data_source"] == "upload":
        params["data_path"] = _uploaded_mnist(kind)
    with st.spinner("Loading MNIST…"):
        try:
            return load_for(params)
        except DataUnavailable as err:
            st.error(f"{err}. Choose another MNIST source in the sidebar.")
            st.stop()


def _uploaded_mnist(kind: str) -> str:
    upload = st.sidebar.file_uploader("Your mnist.npz (x_train, y_train, x_test, y_test)", type=["npz"],
                                      key=f"{kind}.mnist_upload")
    if upload is None:
        st.info("Upload an mnist.npz in Keras' layout in the sidebar, or choose another MNIST source.")
        st.stop()
    try:
        return str(save_upload(upload.getvalue(), store().root / ".uploads"))
    except ValueError as err:
        st.error(f"{literal(upload.name)} cannot be used: {literal(err, 400)}")
        st.stop()


@dataclass
class Digit:
    """One input digit: where it came from, the raw picture, and the 28x28 image or the reason there is none."""

    name: str
    raw: np.ndarray | None
    image: np.ndarray | None = None
    inverted: bool = False  # this picture was inverted on its way to the network
    error: str | None = None
    dark_on_light: bool = False  # the picture has dark ink on light paper (inverted or not)
    source: str = ""  # for a drawing: which canvas, cleared or undone how often, drew it
    paper: str = ""  # for a drawing: the canvas's background colour


def _prepare(name: str, raw, invert_dark: bool = True) -> Digit:
    try:
        result = preprocess_digit(raw, invert_dark=invert_dark)
    except PreprocessError as err:  # an empty canvas (EmptyImageError) included
        return Digit(name, raw, error=str(err))
    return Digit(name, raw, result.image, inverted=bool(result.inverted and invert_dark),
                 dark_on_light=bool(result.inverted))


def prepare_drawing(raw, invert_dark: bool = True) -> Digit:
    """The canvas's picture as the network reads it (the page's rerun and :mod:`ui.verdict`'s quick path)."""
    return _prepare("drawing", np.asarray(raw), invert_dark)


def _clear(key: str) -> None:
    st.session_state[f"{key}.generation"] = st.session_state.get(f"{key}.generation", 0) + 1
    st.session_state.pop(f"{key}.redraw", None)


def _undo(key: str, drawing: dict) -> None:
    """Redraw the canvas without its last stroke: the same canvas gets a new ``initial_drawing`` (it then sends
    the redrawn picture). A counter in the drawing makes two undos to the same strokes still count as a change."""
    count = st.session_state.get(f"{key}.undos", 0) + 1
    st.session_state[f"{key}.undos"] = count
    st.session_state[f"{key}.redraw"] = {**drawing, "objects": drawing.get("objects", [])[:-1], "undo": count}


def canvas_digit(key: str, invert_dark: bool = True) -> Digit:
    """A 280x280 drawing canvas with an ink choice, a pen or eraser of adjustable width, Undo and Clear buttons."""
    from streamlit_drawable_canvas import st_canvas

    polarity = st.radio("Ink", list(POLARITIES), horizontal=True, key=f"{key}.polarity", persist_state="session")
    ink, paper = POLARITIES[polarity]
    tool_col, width_col = st.columns(2)
    tool = tool_col.radio("Tool", ("pen", "eraser"), horizontal=True, key=f"{key}.tool",
                          help="The eraser paints in the paper's colour.")
    width = width_col.slider("Width (px)", 6, 48, PEN_WIDTH, 2, key=f"{key}.pen_width", persist_state="session",
                             help=f"MNIST strokes are 2-3 px of 28; on this {CANVAS_SIZE} px canvas about {PEN_WIDTH}.")
    generation = st.session_state.setdefault(f"{key}.generation", 0)
    if st.session_state.get(f"{key}.redraw_polarity") != polarity:  # an undo's strokes carry the old ink
        st.session_state.pop(f"{key}.redraw", None)
        st.session_state[f"{key}.redraw_polarity"] = polarity
    result = st_canvas(stroke_width=width, stroke_color=ink if tool == "pen" else paper, background_color=paper,
                       height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw", return_image_data=True,
                       initial_drawing=st.session_state.get(f"{key}.redraw"), key=f"{key}.canvas.{polarity}.{generation}")
    drawing = (None if result is None else result.json_data) or {}
    # Callbacks, so a click reruns only the fragment that holds the canvas (the pages draw it in one).
    undo_col, clear_col, _ = st.columns([1, 1, 2])
    undo_col.button("Undo the last stroke", key=f"{key}.undo", on_click=_undo, args=(key, drawing),
                    disabled=not drawing.get("objects"), width="stretch")
    clear_col.button("Clear the canvas", key=f"{key}.clear", on_click=_clear, args=(key,), width="stretch")
    raw = None if result is None else result.image_data
    source = f"{key}.{polarity}.{generation}.{st.session_state.get(f'{key}.undos', 0)}"
    if raw is None:
        return Digit("drawing", None, error=EMPTY_CANVAS, source=source, paper=paper)
    return dataclasses.replace(prepare_drawing(raw, invert_dark), source=source, paper=paper)


def uploaded_digits(key: str, invert_dark: bool = True) -> list[Digit]:
    """PNG/JPEG photos or scans of digits; each bad file gets its own clear message."""
    files = st.file_uploader("…or upload photos or scans of digits (PNG/JPEG)", type=["png", "jpg", "jpeg"],
                             accept_multiple_files=True, key=f"{key}.uploads")
    digits = []
    for upload in (files or [])[:MAX_UPLOADS]:
        try:
            raw = load_image_bytes(upload.getvalue())
        except PreprocessError as err:
            digits.append(Digit(upload.name, None, error=str(err)))
            continue
        digits.append(_prepare(upload.name, raw, invert_dark))
    if files and len(files) > MAX_UPLOADS:
        st.warning(f"Only the first {MAX_UPLOADS} of {len(files)} files are read.")
    return digits
