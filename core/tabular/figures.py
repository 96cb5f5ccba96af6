"""The table page's own pictures, as pure functions returning plotly figures (the Iris page's are in core.plots)."""

from __future__ import annotations

import plotly.graph_objects as go

from core.plots import PALETTE, apply_layout
from core.tabular.baselines import BASELINES


def baseline_figure(network: float, baselines: dict[str, float]) -> go.Figure:
    """Test accuracy of the network beside each scikit-learn baseline (same split), one bar each."""
    names = ["neural network", *(BASELINES.get(k, k) for k in baselines)]
    values = [network, *baselines.values()]
    colors = [PALETTE[0]] + ["#B0B7C3"] * len(baselines)
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", marker_color=colors,
                           text=[f"{v:.1%}" for v in values], textposition="outside"))
    fig.update_xaxes(range=[0, 1.12], tickformat=".0%", title="test accuracy (same test rows)")
    fig.update_yaxes(autorange="reversed")
    return apply_layout(fig, height=200, title="the network beside two baselines")


def importance_figure(importance: dict[str, float], top: int = 15) -> go.Figure:
    """Permutation importance per column (the drop in test accuracy when it is shuffled), largest first."""
    items = sorted(importance.items(), key=lambda kv: -kv[1])[:top]
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h",
                           marker_color=[PALETTE[0] if v > 0 else "#B0B7C3" for _, v in items],
                           text=[f"{v:+.1%}" for _, v in items], textposition="outside"))
    values = [v for _, v in items] or [0.0]
    fig.update_xaxes(tickformat=".0%", title="drop in test accuracy when the column is shuffled",
                     range=[min(0.0, min(values)) * 1.3 - 0.01, max(0.0, max(values)) * 1.3 + 0.01])
    fig.update_yaxes(autorange="reversed", type="category")
    return apply_layout(fig, height=120 + 26 * len(items), title="which columns the network relies on")
