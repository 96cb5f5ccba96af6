"""Pictures of the opened-up Iris network (pure functions of :mod:`core.iris.neurons` data, no Streamlit).

:func:`network_svg` draws the network as TensorFlow Playground does: a column per layer, every neuron a small
heat map of its activation over the two chosen features, and a line per weight between neighbouring layers, wider
for a larger |w|, blue for a positive and orange for a negative weight.
"""

from __future__ import annotations

import base64
import io
from html import escape

import numpy as np
from PIL import Image

from core.plots import svg_frame

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
    buffer = io.BytesIO()
    Image.fromarray(canvas, "RGBA").save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _paint_maps(maps):
    """Every neuron map painted (framed, highest feature value at the top) into one RGBA canvas; the cells' layout."""
    sizes = [len(layer) for layer in maps.layers]
    cell = len(maps.xs)
    corners, width, height = _layout_cells(sizes, cell)
    canvas = np.zeros((height, width, 4), dtype="uint8")
    for layer, values in enumerate(maps.layers):
        for j, z in enumerate(values):
            x, y = corners[layer][j]
            canvas[y - 1:y + cell + 1, x - 1:x + cell + 1] = (170, 170, 170, 255)  # a thin frame
            canvas[y:y + cell, x:x + cell, :3] = map_colours(z[::-1])
    return canvas, corners, cell


def _line_width(w: float, top: float) -> float:
    return round(0.5 + (MAX_LINE_WIDTH - 0.5) * abs(w) / top, 0) or 0.5  # 0.5, 1, 2, ... 6 px


def network_svg(maps, diagram, input_names=(), output_names=(), scale: int = 4) -> str:
    """The network diagram as one SVG picture: the neuron maps (a :class:`core.iris.neurons.NeuronMaps`, one PNG
    of all of them) joined by a line per weight of a :class:`core.iris.neurons.Diagram`, wider for a larger |w|,
    blue for a positive and orange for a negative weight; each line's ``<title>`` holds its value.

    A picture, not a chart: a browser swaps it in a few milliseconds, where re-rendering an interactive chart of
    170 lines took most of a "One step" click. ``scale`` enlarges the drawing (map pixels stay sharp).
    """
    canvas, corners, cell = _paint_maps(maps)
    height, width = canvas.shape[:2]
    pad = 4 * cell
    left, top_margin = 1.8 * pad, cell
    view_w, view_h = width + left + pad, height + top_margin + 2
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" '
             f'viewBox="{-left:g} {-top_margin:g} {view_w:g} {view_h:g}" width="{view_w * scale:g}" '
             f'height="{view_h * scale:g}" font-family="sans-serif" font-size="{cell / 2.6:.1f}">',
             '<rect x="-10000" y="-10000" width="20000" height="20000" fill="white"/>']
    top = max((float(np.abs(k).max()) for k in diagram.kernels if k.size), default=1.0) or 1.0
    for layer, kernel in enumerate(diagram.kernels):
        for (i, j), w in np.ndenumerate(kernel):
            (x0, y0), (x1, y1) = corners[layer][i], corners[layer + 1][j]
            parts.append(f'<line x1="{x0 + cell + 1}" y1="{y0 + cell / 2:g}" x2="{x1 - 1}" y2="{y1 + cell / 2:g}" '
                         f'stroke="{POSITIVE if w >= 0 else NEGATIVE}" stroke-opacity="0.6" '
                         f'stroke-width="{_line_width(w, top) / scale * 2:g}"><title>w = {w:+.3f}: '
                         f'{escape(diagram.names[layer])} {i + 1} → {escape(diagram.names[layer + 1])} {j + 1}'
                         '</title></line>')
    parts.append(f'<image x="0" y="0" width="{width}" height="{height}" image-rendering="pixelated" '
                 f'style="image-rendering:pixelated" href="{_png(canvas)}"/>')
    for layer, name in enumerate(maps.names):
        parts.append(f'<text x="{corners[layer][0][0] + cell / 2:g}" y="{-cell / 4:g}" text-anchor="middle" '
                     f'font-weight="bold">{escape(_layer_title(name))}</text>')
    for layer, names, anchor in ((0, input_names, "end"), (len(corners) - 1, output_names, "start")):
        for j, label in enumerate(names[:len(corners[layer])]):
            x, y = corners[layer][j]
            parts.append(f'<text x="{x - 3 if anchor == "end" else x + cell + 3}" y="{y + cell / 2:g}" '
                         f'text-anchor="{anchor}" dominant-baseline="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def step_loss_svg(losses, width: int = 900, height: int = 220) -> str:
    """The loss of every step's batch (with the weight penalties), step 1 first, as a small SVG line chart.

    A picture for the same reason as :func:`network_svg`: it is redrawn on every click of "One step". The y axis
    runs from 0 to the largest loss; each step is a dot (``<circle>``, its loss in its title) on one polyline.
    """
    losses = np.asarray(losses, dtype=float)
    left, right, top, bottom = 60, 15, 28, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    y_max = float(np.nanmax(losses)) if losses.size else 1.0
    y_max = y_max if np.isfinite(y_max) and y_max > 0 else 1.0
    x_max = max(len(losses), 10)

    def px(i, loss):
        return left + plot_w * i / x_max, top + plot_h * (1 - min(max(loss / y_max, 0.0), 1.0))

    parts = svg_frame(width, height, (left, top, plot_w, plot_h), [f"{frac * y_max:.3g}" for frac in (0.0, 0.5, 1.0)])
    parts.append(f'<text x="{left}" y="16" font-size="14">loss per step</text>')
    for step in sorted({0, x_max // 2, x_max}):
        parts.append(f'<text x="{left + plot_w * step / x_max:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                     f'{step}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 2}" text-anchor="middle">step</text>')
    steps = [(i + 1, loss, *px(i + 1, loss)) for i, loss in enumerate(losses) if np.isfinite(loss)]
    if len(steps) > 1:
        parts.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
            POSITIVE, " ".join(f"{x:.1f},{y:.1f}" for _, _, x, y in steps)))
    for step, loss, x, y in steps:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{POSITIVE}"><title>step {step}: '
                     f'{loss:.4f}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
