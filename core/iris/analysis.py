"""After training: decision regions of an Iris model (NumPy out, no plotting).

A flower has four measurements, a picture two axes. Two honest ways to draw the regions on a plane:

* :func:`pca_plane`: the plane of the flowers' first two principal components (about 98% of their variance),
  so each flower sits close to the plane and the region under a dot is, almost always, the model's verdict
  on that very flower;
* :func:`feature_plane`: two chosen measurements, the model's probabilities *averaged over the other two
  as the flowers have them* (partial dependence), instead of pinning them at one value that few flowers have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.iris.model import predict_proba

# Lazy import: scikit-learn's PCA (0.9 s to import) inside pca_plane, so that the Iris page imports this module at once.


@dataclass
class RegionMap:
    """Class probabilities over a 2-D grid, and where given flowers lie on that plane."""

    xs: np.ndarray  # (nx,) grid coordinates
    ys: np.ndarray  # (ny,)
    probs: np.ndarray  # (ny, nx, n_classes): probs[i, j] at (xs[j], ys[i])
    points: np.ndarray  # (n, 2) the flowers' coordinates on the plane
    axis_titles: tuple[str, str]
    title: str

    @property
    def classes(self) -> np.ndarray:
        return self.probs.argmax(axis=-1)

    @property
    def confidence(self) -> np.ndarray:
        return self.probs.max(axis=-1)

    def class_at(self, points) -> np.ndarray:
        """The region's class under each point (nearest grid cell)."""
        points = np.asarray(points)
        j = np.abs(points[:, :1] - self.xs[None]).argmin(axis=1)
        i = np.abs(points[:, 1:2] - self.ys[None]).argmin(axis=1)
        return self.classes[i, j]


def _axis(lo: float, hi: float, margin: float, resolution: int) -> np.ndarray:
    return np.linspace(lo - margin, hi + margin, resolution, dtype="float32")


def feature_plane(model, x_reference, features=(2, 3), x_points=None, feature_names=None, resolution: int = 60,
                  margin: float = 0.5) -> RegionMap:
    """Probabilities over two features, averaged over the reference flowers' values of the other two.

    p(k | a, b) = mean over flowers f of model(a, b, other features of f)[k]
    """
    ref = np.asarray(x_reference, dtype="float32")
    fx, fy = features
    xs = _axis(ref[:, fx].min(), ref[:, fx].max(), margin, resolution)
    ys = _axis(ref[:, fy].min(), ref[:, fy].max(), margin, resolution)
    gx, gy = np.meshgrid(xs, ys)
    rows = np.repeat(ref[None], gx.size, axis=0)  # (grid points, flowers, 4)
    rows[:, :, fx], rows[:, :, fy] = gx.reshape(-1, 1), gy.reshape(-1, 1)
    probs = predict_proba(model, rows.reshape(-1, ref.shape[1])).reshape(gx.size, len(ref), -1).mean(axis=1)
    x_points = ref if x_points is None else np.asarray(x_points, dtype="float32")
    names = feature_names or [f"feature {i}" for i in range(ref.shape[1])]
    return RegionMap(xs, ys, probs.reshape(*gx.shape, -1), x_points[:, [fx, fy]], (names[fx], names[fy]),
                     "decision regions, averaged over the other two measurements")


def pca_plane(model, x_reference, x_points=None, resolution: int = 100, margin: float = 0.5) -> RegionMap:
    """Probabilities over the plane of the reference flowers' first two principal components (scikit-learn PCA).

    A grid point (u, v) is the flower mean + u * pc1 + v * pc2; a flower's place is its projection.
    """
    from sklearn.decomposition import PCA

    ref = np.asarray(x_reference, dtype="float32")
    pca = PCA(n_components=2).fit(ref)
    coords = pca.transform(ref)
    xs = _axis(coords[:, 0].min(), coords[:, 0].max(), margin, resolution)
    ys = _axis(coords[:, 1].min(), coords[:, 1].max(), margin, resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = pca.inverse_transform(np.stack([gx.ravel(), gy.ravel()], axis=1)).astype("float32")
    probs = predict_proba(model, grid).reshape(*gx.shape, -1)
    x_points = ref if x_points is None else np.asarray(x_points, dtype="float32")
    share = pca.explained_variance_ratio_
    return RegionMap(xs, ys, probs, pca.transform(x_points), (f"PC 1 ({share[0]:.0%} of the variance)",
                     f"PC 2 ({share[1]:.0%})"), "decision regions on the flowers' two main directions (all four "
                     "measurements)")
