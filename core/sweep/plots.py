"""Plotly figures of a sweep: mean ± std bands per configuration, and parallel coordinates (settings -> result).

Pure functions of :mod:`core.sweep.stats` results and stored run records (no Streamlit, no TensorFlow); the
same palette and layout as :mod:`core.plots`.
"""

from __future__ import annotations

import plotly.graph_objects as go

from core.plots import PALETTE, apply_layout
from core.sweep.stats import final_value, headline_metric, higher_is_better, setting_columns


def _rgba(color: str, alpha: float) -> str:
    color = color.lstrip("#")
    r, g, b = (int(color[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def bands_figure(bands: list[dict], metric: str, title: str = "") -> go.Figure:
    """One mean line and a shaded ± std band across seeds per configuration (``stats.epoch_bands`` output)."""
    fig = go.Figure()
    for i, band in enumerate(bands):
        color = PALETTE[i % len(PALETTE)]
        epochs, mean, std = band["epochs"], band["mean"], band["std"]
        upper = [m + s for m, s in zip(mean, std)]
        lower = [m - s for m, s in zip(mean, std)]
        fig.add_scatter(x=[*epochs, *epochs[::-1]], y=[*upper, *lower[::-1]], fill="toself", mode="lines",
                        fillcolor=_rgba(color, 0.18), line=dict(width=0), hoverinfo="skip", showlegend=False,
                        legendgroup=band["label"], name=f"{band['label']} ± std")
        fig.add_scatter(x=epochs, y=mean, mode="lines+markers", name=f"{band['label']} (n={max(band['n'])})",
                        line=dict(color=color, width=2), legendgroup=band["label"],
                        customdata=[[s, n] for s, n in zip(std, band["n"])],
                        hovertemplate="epoch %{x}: %{y:.4f} ± %{customdata[0]:.4f} (n=%{customdata[1]})")
    fig.update_xaxes(title="epoch", dtick=1)
    fig.update_yaxes(title=metric.replace("_", " "))
    return apply_layout(fig, title=title or f"{metric.replace('_', ' ')}: mean ± std across seeds", uirevision="bands")


def parallel_coordinates_figure(records: list[dict], metric: str | None = None, title: str = "") -> go.Figure:
    """One line per finished trial through its varied settings to its final ``metric`` (coloured by it).

    Log-scaled settings (learning rates) are drawn as log10 with the actual values as tick labels; choices get
    one tick per value.
    """
    metric = metric or headline_metric(records)
    rows = [r for r in records if final_value(r, metric) is not None]
    names = sorted({k for r in records for k in r.get("sweep_config", {})})
    dims = []
    for column in setting_columns(rows, names):
        name, values = column["name"], column["values"]
        if column["log"]:
            distinct = sorted(set(values))
            ticks = distinct if len(distinct) <= 8 else None
            dims.append(dict(label=f"{name} (log10)", values=values, tickvals=ticks,
                             ticktext=[f"{10 ** v:g}" for v in ticks] if ticks else None))
        elif column["categories"] is None:
            dims.append(dict(label=name, values=values))
        else:
            dims.append(dict(label=name, values=values, tickvals=list(range(len(column["categories"]))),
                             ticktext=column["categories"]))
    scores = [final_value(r, metric) for r in rows]
    dims.append(dict(label=metric.replace("_", " "), values=scores))
    scale = "Viridis" if higher_is_better(metric) else "Viridis_r"
    fig = go.Figure(go.Parcoords(dimensions=dims, line=dict(color=scores, colorscale=scale, showscale=True,
                                                            colorbar=dict(title=metric.replace("_", " ")))))
    return apply_layout(fig, height=360, title=title or f"settings -> final {metric.replace('_', ' ')} ({len(rows)} runs)")
