"""The Playground page's plane: the points (generated or drawn) under the current model's boundary; a click adds a
point of the chosen class to the drawn set (the ``points`` setting, so it is in the address and kept with the run),
Undo removes the last, Clear all of them. And the live boundary drawn under the curves while a job trains.
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from core.plane import data
from core.plane.figures import boundary_svg, clicked_point, plane_figure
from core.plane.model import predict_blue
from core.progress import FINISHED
from ui.controls import widget_key
from ui.session import cached, get_current, get_job

KIND = "plane"
POINTS, DATASET = widget_key(KIND, "points"), widget_key(KIND, "dataset")
CLASS, CHART_COUNT = "plane.draw.class", "plane.draw.n"


def _points() -> str:
    return st.session_state.get(POINTS, "") or ""


def _set_points(text: str) -> None:
    st.session_state[POINTS] = text
    st.session_state[DATASET] = "drawn"
    st.session_state[CHART_COUNT] = st.session_state.get(CHART_COUNT, 0) + 1  # a fresh chart: no selection left


def _on_click(chart_key: str) -> None:
    event = st.session_state.get(chart_key) or {}
    where = clicked_point((event.get("selection") or {}).get("points", []))
    if where is not None:
        label = 1 if st.session_state.get(CLASS, "blue") == "blue" else 0
        _set_points(data.add_point(_points(), *where, label))


def _safe_split(params: dict):
    try:
        return data.load(params)
    except ValueError:
        return None


def _boundary(current) -> np.ndarray | None:
    """p(blue) of the current model over the plane (with its own run's features), cached per model."""
    if current is None:
        return None
    names = data.chosen_features(current.params)
    _, points = data.grid(60)
    return cached(KIND, "boundary", current.key, lambda: predict_blue(current.model, data.features(points, names))
                  .reshape(60, 60))


def draw_section(params: dict) -> None:
    """The plane with the points of these settings and the current model's boundary; clicking adds a point."""
    st.header("The plane: pick a data set, or draw your own")
    a, b, c, _ = st.columns([2.2, 1, 1, 2])
    a.radio("Class of the next point", ("orange", "blue"), index=1, horizontal=True, key=CLASS)
    drawn_xy, drawn_y = _drawn()
    b.button("Undo", key="plane.draw.undo", disabled=not len(drawn_y), width="stretch",
             on_click=lambda: _set_points(data.undo_point(_points())), help="Remove the last drawn point.")
    c.button("Clear", key="plane.draw.clear", disabled=not len(drawn_y), width="stretch",
             on_click=lambda: _set_points(""), help="Remove every drawn point.")
    current = get_current(KIND)
    split = None if params["dataset"] == "drawn" else _safe_split(params)
    train = (split.xy_train, split.y_train) if split else None
    test = (split.xy_test, split.y_test) if split else None
    drawn = (drawn_xy, drawn_y) if params["dataset"] == "drawn" else None
    key = f"plane.draw.chart{st.session_state.get(CHART_COUNT, 0)}"
    st.plotly_chart(plane_figure(_boundary(current), train, test, drawn), key=key, on_select=lambda: _on_click(key),
                    selection_mode="points", config={"displayModeBar": False})
    counts = [int((drawn_y == k).sum()) for k in (0, 1)]
    st.caption(f"Click on the plane to add a point of the chosen class: the data set becomes **drawn** (now "
               f"{counts[0]} orange and {counts[1]} blue drawn points; at least {data.MIN_PER_CLASS} of each to "
               "train). Background: the current model's p(blue), orange below ½, blue above. Dots: training points "
               "(white rim) and test points (black rim); diamonds: drawn points.")


def _drawn() -> tuple[np.ndarray, np.ndarray]:
    try:
        return data.parse_points(_points())
    except ValueError as err:
        st.warning(f"The drawn points cannot be read: {err}.")
        return np.zeros((0, 2), "float32"), np.zeros(0, "int32")


def live_boundary(snap: dict) -> None:
    """Under the curves: the newest published boundary of this visitor's job with its points, epoch and losses."""
    started = time.perf_counter()
    job = get_job(KIND)
    if job is None:
        return
    extras = snap.get("extras") or []
    if not extras:
        return
    split = cached(KIND, "job-split", job.id, lambda: _safe_split(job.params))
    if split is None:
        return
    last = extras[-1]
    history = snap.get("history") or {}
    losses = ""
    if history.get("loss"):
        losses = f" · train loss {history['loss'][-1]:.3f}"
        if history.get("val_loss"):
            losses += f" · test loss {history['val_loss'][-1]:.3f}"
    step = f", batch {last['step']}" if last.get("step") else ""
    title = f"epoch {last['epoch']} of {snap['epochs']}{step}{losses}"
    points = [(split.xy_train, split.y_train, "white"), (split.xy_test, split.y_test, "black")]
    left, right = st.columns([1, 1])
    left.image(boundary_svg(last["boundary"], points, size=380, title=title), width="stretch")
    right.markdown("**The boundary, live**: the network's p(blue) over the plane, sent by the training several "
                   "times a second and redrawn while it trains (orange below ½, blue above). Dots: training points (white rim) and test points (black "
                   "rim)." + (" Finished: the result is below." if snap["status"] in FINISHED else "")
                   + f" Drawn in {1000 * (time.perf_counter() - started):.0f} ms.")
