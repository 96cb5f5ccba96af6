"""Pictures of the plane (pure functions, no Streamlit): the network's output as a heat map with the points on it.

Colours as in TensorFlow Playground: blue where the network says blue (p → 1), orange where it says orange (p → 0),
white on the boundary p = 0.5. Training points are dots with a white rim, test points dots with a black rim.

:func:`boundary_svg` is the live picture (a PNG heat map and the points as SVG circles: a browser swaps it in a few
milliseconds, several times a second while a job trains); :func:`plane_figure` is the interactive chart on which a
click adds a point (an invisible grid of markers catches the click anywhere on the plane).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from core.plane.data import LIMIT, grid

BLUE, ORANGE = "#2F6DB5", "#F08A24"  # Playground's blue and orange (as the Iris page's network view)
CLICK_RESOLUTION = 49  # a clickable marker every 0.25 across the plane
_WHITE = np.array([247.0, 247.0, 247.0])


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def probability_colours(p) -> np.ndarray:
    """RGB (uint8) of probabilities p(blue) in [0, 1]: orange at 0, white at 0.5, blue at 1 (paler where less sure)."""
    v = np.clip(2 * np.asarray(p, dtype=float) - 1, -1, 1)[..., None]
    rgb = _WHITE + np.clip(v, 0, 1) * (_rgb(BLUE) - _WHITE) + np.clip(-v, 0, 1) * (_rgb(ORANGE) - _WHITE)
    return (0.35 * _WHITE + 0.65 * rgb).round().astype("uint8")  # softened, so the points stand out


def as_probability(grid_values) -> np.ndarray:
    """A published boundary (bytes 0-255, :func:`core.plane.live.boundary_grid`) or probabilities, as floats."""
    a = np.asarray(grid_values)
    return a.astype(float) / 255.0 if a.dtype == np.uint8 else a.astype(float)


def heat_png(p_grid) -> str:
    """The heat map of a (n, n) grid of p(blue) (row 0 at x2 = -6) as a PNG data URL, x2 upwards."""
    buffer = io.BytesIO()
    Image.fromarray(probability_colours(as_probability(p_grid))[::-1], "RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def boundary_svg(p_grid, points=(), size: int = 360, title: str = "") -> str:
    """The plane as one SVG: the heat map of ``p_grid`` (None: blank) and ``points``, a list of
    ``(xy, labels, rim)`` (rim ``"white"`` for training points, ``"black"`` for test points)."""
    def px(v):
        return (np.asarray(v, dtype=float) + LIMIT) / (2 * LIMIT) * size

    top = 22 if title else 0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size + top}" '
             f'viewBox="0 {-top} {size} {size + top}" font-family="sans-serif" font-size="13">',
             f'<rect x="0" y="0" width="{size}" height="{size}" fill="#f7f7f7" stroke="#bbb"/>']
    if title:
        parts.append(f'<text x="2" y="-6">{title}</text>')
    if p_grid is not None:
        parts.append(f'<image x="0" y="0" width="{size}" height="{size}" preserveAspectRatio="none" '
                     f'href="{heat_png(p_grid)}"/>')
    for xy, labels, rim in points:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        for (x, y), c in zip(zip(px(xy[:, 0]), size - px(xy[:, 1])), labels):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.2" fill="{BLUE if c else ORANGE}" '
                         f'stroke="{rim}" stroke-width="1"/>')
    parts.append("</svg>")
    return "".join(parts)


def plane_figure(p_grid=None, train=None, test=None, drawn=None, height: int = 460) -> go.Figure:
    """The plane as an interactive chart: heat map of ``p_grid`` (or none), training / test points (``(xy, y)``),
    drawn points, and a clickable invisible grid (trace named ``click``) whose selected point is where to add one."""
    fig = go.Figure()
    if p_grid is not None:
        p = as_probability(p_grid)
        xs = np.linspace(-LIMIT, LIMIT, p.shape[0])
        fig.add_trace(go.Heatmap(x=xs, y=xs, z=p, zmin=0, zmax=1, showscale=False, hoverinfo="skip",
                                 colorscale=[[0, "#f3c79a"], [0.5, "#f7f7f7"], [1, "#a9c1df"]], name="p(blue)"))
    keep = dict(unselected=dict(marker=dict(opacity=1)), selected=dict(marker=dict(opacity=1)))
    for name, part, rim, size in (("training points", train, "white", 8), ("test points", test, "black", 8),
                                  ("drawn points", drawn, "black", 11)):
        if part is None or not len(part[1]):
            continue
        xy, y = np.asarray(part[0], dtype=float).reshape(-1, 2), np.asarray(part[1])
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", name=name, hoverinfo="skip",
                                 marker=dict(color=np.where(y == 1, BLUE, ORANGE).tolist(), size=size,
                                             line=dict(color=rim, width=1.5 if name != "drawn points" else 2.5),
                                             symbol="circle" if name != "drawn points" else "diamond"), **keep))
    xs, points = grid(CLICK_RESOLUTION)
    fig.add_trace(go.Scatter(x=points[:, 0], y=points[:, 1], mode="markers", name="click", showlegend=False,
                             marker=dict(size=9, color="rgba(0,0,0,0)"), hovertemplate="add a point at (%{x:.2f}, "
                             "%{y:.2f})<extra></extra>", **keep))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), clickmode="event+select", dragmode=False,
                      legend=dict(orientation="h", y=-0.08), plot_bgcolor="#f7f7f7", hovermode="closest")
    axis = dict(range=[-LIMIT, LIMIT], zeroline=False, showgrid=False, fixedrange=True)
    fig.update_xaxes(title="x₁", constrain="domain", **axis)
    fig.update_yaxes(title="x₂", scaleanchor="x", constrain="domain", **axis)
    return fig


def clicked_point(points: list[dict]) -> tuple[float, float] | None:
    """Where a click on :func:`plane_figure` landed: the selected marker of its ``click`` grid (Streamlit's
    selection ``points``), else of any trace; None when nothing was picked."""
    for point in points or ():
        if "x" in point and "y" in point:
            return float(point["x"]), float(point["y"])
    return None
