"""Plotly figures as pure functions of NumPy arrays and training records (no Streamlit, no TensorFlow)."""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

# Lazy import: matplotlib's colour maps (0.1 s to import) inside colorize, the one function that needs them.

PALETTE = ("#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880", "#FF97FF",
           "#FECB52")

# The activation functions of the home page: formula (LaTeX) and NumPy implementation.
ACTIVATIONS = {
    "sigmoid": (r"\sigma(x) = \frac{1}{1 + e^{-x}}", lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}", np.tanh),
    "ReLU": (r"\mathrm{ReLU}(x) = \max(0, x)", lambda x: np.maximum(0, x)),
    "softmax": (r"\mathrm{softmax}(z)_k = \frac{e^{z_k}}{\sum_j e^{z_j}}", None),
}


def apply_layout(fig: go.Figure, height: int = 320, **kw) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.28), **kw)
    return fig


def activation_figure(name: str, lo: float = -6.0, hi: float = 6.0, logits=(2.0, 1.0, 0.1)) -> go.Figure:
    """The activation function and its derivative; for softmax, probabilities over three logits."""
    if name == "softmax":
        z = np.asarray(logits, dtype=float)
        p = np.exp(z - z.max())
        p /= p.sum()
        fig = go.Figure(go.Bar(x=[f"z{i + 1} = {v:g}" for i, v in enumerate(z)], y=p, marker_color=PALETTE[:len(z)],
                               text=[f"{v:.2f}" for v in p], textposition="outside"))
        fig.update_yaxes(range=[0, 1.1], title="probability")
        return apply_layout(fig, title="softmax turns scores into probabilities that sum to 1")
    x = np.linspace(lo, hi, 400)
    f = ACTIVATIONS[name][1]
    y = f(x)
    dy = np.gradient(y, x)
    fig = go.Figure()
    fig.add_scatter(x=x, y=y, name=name, line=dict(width=3))
    fig.add_scatter(x=x, y=dy, name="derivative", line=dict(dash="dot"))
    fig.update_xaxes(title="x", zeroline=True)
    return apply_layout(fig, title=f"{name} and its derivative")


def curves_figure(progress: dict, metrics: tuple[str, ...] = ("loss", "accuracy"), title: str = "",
                  log_loss: bool = False) -> go.Figure:
    """Live training curves from a :class:`core.jobs.Progress` snapshot or a stored run record.

    One panel per metric; x is the (fractional) epoch. The loss panel also shows every batch's loss, on a log
    axis with ``log_loss`` (where a diverging loss, 1e2 … 1e11, stays readable).
    """
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[m.replace("_", " ") for m in metrics])
    history = progress.get("history", {})
    for col, metric in enumerate(metrics, start=1):
        if metric == "loss" and progress.get("batch_loss"):
            pts = np.asarray(progress["batch_loss"], dtype=float)
            fig.add_scatter(x=pts[:, 0], y=pts[:, 1], mode="lines", name="batch loss", line=dict(width=1, color="#B0B7C3"),
                            row=1, col=col)
        for prefix, label, color in (("", "train", PALETTE[0]), ("val_", "validation", PALETTE[1])):
            values = history.get(prefix + metric)
            if values:
                epochs = np.arange(1, len(values) + 1)
                fig.add_scatter(x=epochs, y=values, mode="lines+markers", name=f"{label} {metric}",
                                line=dict(color=color, width=2), row=1, col=col)
        fig.update_xaxes(title_text="epoch", row=1, col=col, rangemode="tozero")
        if log_loss and "loss" in metric:
            fig.update_yaxes(type="log", row=1, col=col)
    return apply_layout(fig, title=title, uirevision="curves")


def overlay_figure(runs: list[dict], metric: str, labels: list[str]) -> go.Figure:
    """The same metric of several stored runs on one plot (train solid, validation dashed)."""
    fig = go.Figure()
    for i, (record, label) in enumerate(zip(runs, labels)):
        history = record.get("history", {})
        color = PALETTE[i % len(PALETTE)]
        for prefix, dash, part in (("", "solid", "train"), ("val_", "dash", "validation")):
            values = history.get(prefix + metric)
            if values:
                fig.add_scatter(x=np.arange(1, len(values) + 1), y=values, mode="lines+markers",
                                name=f"{label} ({part})", line=dict(color=color, dash=dash))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title=metric.replace("_", " "))
    return apply_layout(fig, height=380)


def confusion_figure(matrix, labels) -> go.Figure:
    """Rows: true class; columns: predicted class; numbers in the cells."""
    m = np.asarray(matrix)
    fig = go.Figure(go.Heatmap(z=m, x=list(labels), y=list(labels), colorscale="Blues", showscale=False,
                               text=m, texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    fig.update_xaxes(title="predicted", side="bottom", type="category")
    fig.update_yaxes(title="true", autorange="reversed", type="category")
    return apply_layout(fig, height=300 + 12 * len(labels), title="confusion matrix (test set)")


def probability_figure(probs, labels, highlight: int | None = None) -> go.Figure:
    """A bar per class with its probability."""
    probs = np.asarray(probs, dtype=float)
    top = int(probs.argmax()) if highlight is None else highlight
    colors = [PALETTE[0] if i == top else "#B0B7C3" for i in range(len(probs))]
    fig = go.Figure(go.Bar(x=[str(v) for v in labels], y=probs, marker_color=colors,
                           text=[f"{p:.1%}" for p in probs], textposition="outside"))
    fig.update_yaxes(range=[0, 1.15], title="probability", tickformat=".0%")
    fig.update_xaxes(type="category")
    return apply_layout(fig, height=280)


def svg_frame(width: int, height: int, plot: tuple, y_labels) -> list[str]:
    """The opening of a small SVG chart: white ground, the left and bottom axes of the ``plot`` box
    ``(left, top, width, height)``, and ``y_labels`` spread evenly up the y axis (the first at the bottom).
    The caller appends its marks and ``</svg>``."""
    left, top, plot_w, plot_h = plot
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<path d="M{left},{top} V{top + plot_h} H{left + plot_w}" fill="none" stroke="#888"/>']
    for i, label in enumerate(y_labels):
        y = top + plot_h * (1 - i / max(len(y_labels) - 1, 1))
        parts.append(f'<text x="{left - 6}" y="{y:.1f}" text-anchor="end" dominant-baseline="middle">{label}</text>')
    return parts


def probability_svg(probs, labels, width: int = 520, height: int = 200) -> str:
    """:func:`probability_figure` as a small SVG (a bar per class, its probability above it, the top one coloured).

    For the CNN's verdict, redrawn on every stroke: the browser shows an SVG at once, where a new Plotly chart
    takes tens of milliseconds to build on the server and to draw in the page."""
    probs = np.asarray(probs, dtype=float)
    top_class = int(probs.argmax())
    left, right, top, bottom = 44, 8, 22, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(probs), 1)
    parts = svg_frame(width, height, (left, top, plot_w, plot_h), [f"{frac:.0%}" for frac in (0.0, 0.5, 1.0)])
    for i, (label, p) in enumerate(zip(labels, probs)):
        p = min(max(float(p), 0.0), 1.0) if np.isfinite(p) else 0.0
        x, h = left + slot * i + slot * 0.15, plot_h * p
        colour = PALETTE[0] if i == top_class else "#B0B7C3"
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                     f'fill="{colour}"><title>{label}: {p:.2%}</title></rect>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{top + plot_h - h - 4:.1f}" text-anchor="middle" '
                     f'font-size="11">{p:.0%}</text>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def decision_regions_figure(regions, true_labels, predicted, class_names) -> go.Figure:
    """The predicted class over a plane (a :class:`core.iris.analysis.RegionMap`), paler where the model is less
    sure (opacity grows with the top probability), the flowers on top coloured by their true class, and the
    ones the model gets wrong circled in red with both classes on hover."""
    n = len(class_names)
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in PALETTE[:n]], dtype=float)
    sure = (regions.confidence - 1 / n) / (1 - 1 / n)  # 0 at chance, 1 when certain
    image = np.concatenate([rgb[regions.classes], (40 + 150 * np.clip(sure, 0, 1))[..., None]], axis=-1)
    xs, ys = regions.xs, regions.ys
    fig = go.Figure(go.Image(z=image.astype("uint8"), colormodel="rgba", x0=float(xs[0]), dx=float(xs[1] - xs[0]),
                             y0=float(ys[0]), dy=float(ys[1] - ys[0]), hoverinfo="skip"))
    points, true_labels, predicted = np.asarray(regions.points), np.asarray(true_labels), np.asarray(predicted)
    for k, name in enumerate(class_names):
        mask = true_labels == k
        fig.add_scatter(x=points[mask, 0], y=points[mask, 1], mode="markers", name=name,
                        marker=dict(color=PALETTE[k], size=8, line=dict(color="white", width=1)),
                        customdata=[class_names[p] for p in predicted[mask]],
                        hovertemplate=f"true {name}, predicted %{{customdata}}<extra></extra>")
    wrong = true_labels != predicted
    fig.add_scatter(x=points[wrong, 0], y=points[wrong, 1], mode="markers", name=f"misclassified ({wrong.sum()})",
                    marker=dict(symbol="circle-open", size=16, color="#E03131", line=dict(width=2.5)),
                    hoverinfo="skip")
    fig.update_xaxes(title=regions.axis_titles[0], range=[float(xs[0]), float(xs[-1])])
    fig.update_yaxes(title=regions.axis_titles[1], range=[float(ys[0]), float(ys[-1])], autorange=None)
    return apply_layout(fig, height=420, title=regions.title)


def image_grid(images, ncols: int = 8, pad: int = 1, fill: float = 1.0) -> np.ndarray:
    """Tile (n, h, w) images into one (rows*h, ncols*w) array with ``pad`` pixels of ``fill`` between."""
    images = np.asarray(images, dtype=float)
    n, h, w = images.shape[:3]
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), fill)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return grid


def upscale(image, factor: int = 5) -> np.ndarray:
    """Nearest-neighbour enlargement (grey or RGB), so that a 28x28 digit shows crisp pixels instead of a blur."""
    return np.repeat(np.repeat(np.asarray(image, dtype=float), factor, axis=0), factor, axis=1)


def png_data_uri(image) -> str:
    """An image as a PNG ``data:`` URI: uint8 as it is (grey, RGB or RGBA), floats as grey in [0, 1] (clipped).

    ``st.image`` shows such a URI as it is: no media file to fetch, none to vanish (a quick succession of
    reruns orphans a served image before the browser asked for it, and it fails to load)."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def normalize01(image) -> np.ndarray:
    """Scale an array linearly to [0, 1] (a constant array becomes zeros)."""
    a = np.asarray(image, dtype=float)
    span = a.max() - a.min()
    return (a - a.min()) / span if span > 0 else np.zeros_like(a)


def colorize(image, cmap: str = "inferno") -> np.ndarray:
    """A [0, 1] array as an RGB picture through a matplotlib colour map (no pyplot needed)."""
    from matplotlib import colormaps

    return colormaps[cmap](np.clip(np.asarray(image, dtype=float), 0, 1))[..., :3]


def overlay(image, heat, alpha: float = 0.6, cmap: str = "inferno") -> np.ndarray:
    """``heat`` (e.g. a saliency map) coloured and blended over a grey ``image``."""
    grey = np.repeat(np.clip(np.asarray(image, dtype=float), 0, 1)[..., None], 3, axis=2)
    return (1 - alpha) * grey + alpha * colorize(heat, cmap)


def latent_scatter(means, labels, dims=(0, 1), extent=None, marks=None, height: int = 480) -> go.Figure:
    """Encoded test digits (means) in two latent dimensions, coloured by digit.

    extent: (lo, hi) of the decoded grid, drawn as a dotted square; marks: {name: (x, y)} shown as stars.
    """
    means, labels = np.asarray(means), np.asarray(labels)
    fig = go.Figure()
    for digit in range(10):  # SVG, not WebGL: a few thousand points draw fast, and need no GPU in the browser
        mask = labels == digit
        fig.add_scatter(x=means[mask, dims[0]], y=means[mask, dims[1]], mode="markers", name=str(digit),
                        marker=dict(size=4, color=PALETTE[digit]))
    if extent is not None:
        lo, hi = extent
        fig.add_shape(type="rect", x0=lo, x1=hi, y0=lo, y1=hi, line=dict(color="black", dash="dot"))
    for name, (x, y) in (marks or {}).items():
        fig.add_scatter(x=[x], y=[y], mode="markers+text", text=[name], textposition="top center", name=name,
                        marker=dict(symbol="star", size=18, color="black", line=dict(color="white", width=1)))
    fig.update_xaxes(title=f"z{dims[0]}")
    fig.update_yaxes(title=f"z{dims[1]}")
    return apply_layout(fig, height=height)


def score_histogram_figure(reference_scores, score: float, threshold: float, height: int = 200) -> go.Figure:
    """Where one input's out-of-distribution score falls among MNIST test digits' scores, with the cut-off."""
    reference = np.asarray(reference_scores, dtype=float)
    top = float(max(np.quantile(reference, 0.999), threshold, score) * 1.1)
    fig = go.Figure(go.Histogram(x=np.clip(reference, 0, top), nbinsx=40, marker_color="#B0B7C3",
                                 name="MNIST test digits"))
    fig.add_vline(x=threshold, line_dash="dash", line_color="#888", annotation_text="cut-off")
    fig.add_vline(x=min(score, top), line_color=PALETTE[0] if score <= threshold else "#D62728", line_width=3,
                  annotation_text="yours" + (" (off the scale)" if score > top else ""))
    fig.update_xaxes(title="score: distance from the digits it learned (higher = less like a digit)",
                     range=[0, top])
    fig.update_yaxes(title="digits", showticklabels=False)
    return apply_layout(fig, height=height, showlegend=False)
