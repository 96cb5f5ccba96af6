"""Decision regions of a table's network on a plane (NumPy out; :func:`core.plots.decision_regions_figure` draws them).

A table has many columns, a picture two axes; the two ways of the Iris page:

* :func:`column_plane`: two number columns of your choice, in their own units; the network's probabilities
  *averaged over the other columns as the training rows have them* (partial dependence),
  ``p(k | a, b) = mean over rows r of net(a, b, other inputs of r)[k]``;
* :func:`pca_plane`: the plane of the training rows' first two principal components (of the standardised,
  one-hot inputs): the two directions along which the rows differ most.
"""

from __future__ import annotations

import numpy as np

from core.iris.analysis import RegionMap
from core.tabular.columns import Encoder
from core.tabular.model import predict_proba

# Lazy import: scikit-learn's PCA (0.9 s to import) inside pca_plane, so that the page imports this module at once.

REFERENCE_ROWS = 150  # training rows the partial dependence averages over (every grid point costs one pass each)


def _axis(lo: float, hi: float, resolution: int) -> np.ndarray:
    margin = 0.1 * (hi - lo) or 0.5
    return np.linspace(lo - margin, hi + margin, resolution)


def column_plane(model, encoder: Encoder, x_reference, x_points, columns: tuple[str, str],
                 resolution: int = 50) -> RegionMap:
    """Probabilities over two number columns (their own units), averaged over the reference rows' other inputs."""
    index = {name: cols[0] for name, cols in encoder.groups}
    (ia, ib), specs = (index[c] for c in columns), [encoder.column(c) for c in columns]
    ref = np.asarray(x_reference, dtype="float32")[:REFERENCE_ROWS]
    points = np.asarray(x_points, dtype="float64")
    raw = [points[:, i] * s["std"] + s["mean"] for i, s in zip((ia, ib), specs)]
    ref_raw = [ref[:, i] * s["std"] + s["mean"] for i, s in zip((ia, ib), specs)]
    xs = _axis(min(raw[0].min(), ref_raw[0].min()), max(raw[0].max(), ref_raw[0].max()), resolution)
    ys = _axis(min(raw[1].min(), ref_raw[1].min()), max(raw[1].max(), ref_raw[1].max()), resolution)
    gx, gy = np.meshgrid(xs, ys)
    probs = 0.0
    for row in ref:  # one reference row at a time: the grid's inputs, never grid x rows x inputs at once
        grid = np.repeat(row[None], gx.size, axis=0)
        grid[:, ia] = (gx.ravel() - specs[0]["mean"]) / specs[0]["std"]
        grid[:, ib] = (gy.ravel() - specs[1]["mean"]) / specs[1]["std"]
        probs = probs + predict_proba(model, grid)
    probs = probs / len(ref)
    return RegionMap(xs, ys, probs.reshape(*gx.shape, -1), np.stack(raw, axis=1), tuple(columns),
                     "decision regions, averaged over the other columns")


def pca_plane(model, x_reference, x_points, resolution: int = 60) -> RegionMap:
    """Probabilities over the plane of the reference rows' first two principal components."""
    from sklearn.decomposition import PCA

    ref = np.asarray(x_reference, dtype="float32")
    pca = PCA(n_components=2).fit(ref)
    coords, points = pca.transform(ref), pca.transform(np.asarray(x_points, dtype="float32"))
    xs = _axis(min(coords[:, 0].min(), points[:, 0].min()), max(coords[:, 0].max(), points[:, 0].max()), resolution)
    ys = _axis(min(coords[:, 1].min(), points[:, 1].min()), max(coords[:, 1].max(), points[:, 1].max()), resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = pca.inverse_transform(np.stack([gx.ravel(), gy.ravel()], axis=1)).astype("float32")
    probs = predict_proba(model, grid).reshape(*gx.shape, -1)
    share = pca.explained_variance_ratio_
    return RegionMap(xs, ys, probs, points, (f"direction 1 ({share[0]:.0%} of the variance)",
                     f"direction 2 ({share[1]:.0%})"), "decision regions on the rows' two main directions")
