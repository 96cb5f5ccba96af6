"""Plotly figures of the opened-up Iris network (pure functions of :mod:`core.iris.neurons` data, no Streamlit).

:func:`network_figure` draws the network as TensorFlow Playground does: a column per layer, every neuron a small
heat map of its activation over the two chosen features, and a line per weight between neighbouring layers, wider
for a larger |w|, blue for a positive and orange for a negative weight.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

POSITIVE, NEGATIVE = "#2F6DB5", "#F08A24"  # TensorFlow Playground's blue and orange
MAX_LINE_WIDTH = 6.0


def _layer_title(name: str) -> str:
    return {"input": "inputs", "species": "output (softmax)"}.get(name, name.replace("_", " "))


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def map_colours(z) -> np.ndarray:
    """RGB (uint8) of one neuron map: white at 0, blue up to its largest positive, orange to its largest negative
    value (each map on its own scale, so that every neuron's pattern shows)."""
    z = np.asarray(z, dtype=float)
    v = z / (np.abs(z).max() or 1.0)
    white = np.full(3, 247.0)
    pos, neg = _rgb(POSITIVE), _rgb(NEGATIVE)
    rgb = white + np.clip(v, 0, 1)[..., None] * (pos - white) + np.clip(-v, 0, 1)[..., None] * (neg - white)
    return rgb.round().astype("uint8")


def _layout_cells(sizes, cell: int):
    """Top-left corner (x, y) in canvas pixels (y down) of every neuron's box, per layer, and the canvas size."""
    gap_x, gap_y = 5 * cell, cell // 3
    height = max(sizes) * (cell + gap_y) - gap_y + 2
    corners = []
    for layer, n in enumerate(sizes):
        top = (height - (n * (cell + gap_y) - gap_y)) // 2
        corners.append([(1 + layer * (cell + gap_x), top + j * (cell + gap_y)) for j in range(n)])
    width = 2 + (len(sizes) - 1) * (cell + gap_x) + cell
    return corners, width, height


def _png(canvas: np.ndarray) -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(canvas, "RGBA").save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def network_figure(maps, diagram, input_names=(), output_names=(), height: int | None = None) -> dict:
    """The network diagram: neuron maps (a :class:`core.iris.neurons.NeuronMaps`) joined by the weights of a
    :class:`core.iris.neurons.Diagram` (their layers must match).

    All maps are painted into one transparent PNG (one image trace, not one heat map per neuron: a figure of few
    traces is built, validated and drawn in milliseconds); the weights are line traces grouped by sign and width.
    """
    sizes = [len(layer) for layer in maps.layers]
    cell = len(maps.xs)
    corners, width, canvas_h = _layout_cells(sizes, cell)
    canvas = np.zeros((canvas_h, width, 4), dtype="uint8")
    hover_x, hover_y, hover_text = [], [], []
    for layer, values in enumerate(maps.layers):
        for j, z in enumerate(values):
            x, y = corners[layer][j]
            canvas[y - 1:y + cell + 1, x - 1:x + cell + 1] = (170, 170, 170, 255)  # a thin frame
            canvas[y:y + cell, x:x + cell, :3] = map_colours(z[::-1])  # highest feature value at the top
            hover_x.append(x + cell / 2)
            hover_y.append(y + cell / 2)
            hover_text.append(f"{maps.names[layer]} {j + 1}: {float(z.min()):.3f} … {float(z.max()):.3f}")
    traces = [dict(type="image", source=_png(canvas), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip", name="neurons")]

    top = max((float(np.abs(k).max()) for k in diagram.kernels if k.size), default=1.0) or 1.0
    groups: dict = {}
    for layer, kernel in enumerate(diagram.kernels):
        for (i, j), w in np.ndenumerate(kernel):
            (x0, y0), (x1, y1) = corners[layer][i], corners[layer + 1][j]
            x0, y0, x1, y1 = float(x0 + cell + 1), y0 + cell / 2, float(x1 - 1), y1 + cell / 2
            line_width = round(0.5 + (MAX_LINE_WIDTH - 0.5) * abs(w) / top, 0) or 0.5  # 0.5, 1, 2, ... 6 px
            xs, ys = groups.setdefault((bool(w >= 0), line_width), ([], []))
            xs += [x0, x1, np.nan]  # NaN: a gap between two lines
            ys += [y0, y1, np.nan]
            hover_x.append((x0 + x1) / 2)
            hover_y.append((y0 + y1) / 2)
            hover_text.append(f"w = {w:+.3f}: {diagram.names[layer]} {i + 1} → {diagram.names[layer + 1]} {j + 1}")
    for (positive, line_width), (xs, ys) in sorted(groups.items(), key=lambda kv: kv[0][1]):
        traces.append(dict(type="scatter", x=np.asarray(xs), y=np.asarray(ys), mode="lines", hoverinfo="skip", showlegend=False, opacity=0.6,
                           line=dict(color=POSITIVE if positive else NEGATIVE, width=line_width)))
    traces.append(dict(type="scatter", x=np.asarray(hover_x), y=np.asarray(hover_y), mode="markers", marker=dict(size=8, opacity=0),
                       hovertext=hover_text, hoverinfo="text", showlegend=False, name="hover"))

    annotations = [dict(x=corners[layer][0][0] + cell / 2, y=-4, text=f"<b>{_layer_title(name)}</b>", showarrow=False,
                        yanchor="bottom") for layer, name in enumerate(maps.names)]
    for layer, names, side in ((0, input_names, "right"), (len(sizes) - 1, output_names, "left")):
        for j, label in enumerate(names[:sizes[layer]]):
            x, y = corners[layer][j]
            annotations.append(dict(x=x - 3 if side == "right" else x + cell + 3, y=y + cell / 2, text=label,
                                    showarrow=False, xanchor=side, font=dict(size=11)))
    pad = 4 * cell
    layout = dict(
        height=height or int(min(900, max(420, 46 * max(sizes)))), margin=dict(l=0, r=0, t=10, b=0),
        plot_bgcolor="white", hovermode="closest", annotations=annotations, uirevision="iris-network",
        xaxis=dict(range=[-1.8 * pad, width + pad], visible=False, fixedrange=True),  # room for the input labels
        yaxis=dict(range=[canvas_h + 2, -cell], visible=False, fixedrange=True),
    )
    return {"data": traces, "layout": layout}


def step_loss_figure(losses) -> go.Figure:
    """The loss of every step's batch (with the weight penalties), step 1 first."""
    losses = np.asarray(losses, dtype=float)
    fig = go.Figure(go.Scatter(x=np.arange(1, len(losses) + 1), y=losses, mode="lines+markers", name="loss per step",
                               line=dict(color=POSITIVE, width=2), marker=dict(size=5)))
    fig.update_xaxes(title="step", rangemode="tozero")
    fig.update_yaxes(title="batch loss", rangemode="tozero")
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), title="loss per step", showlegend=False,
                      uirevision="iris-step-loss")
    return fig
