"""What the out-of-distribution score (:mod:`core.mnist.ood`) measures distances with: class-conditional Gaussians
with a shared covariance (the Mahalanobis distance), and the pixels' statistics that one of its three parts uses."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from core.mnist.photos import RENDERINGS, rendered_once

# Lazy import: SciPy's ndimage filters (0.2 s to import) inside pixel_statistics, so that the pages import this module
# at once.

N_PIXEL_FIT = 2000  # training digits, in each rendering, that the pixels' Gaussians are fitted on
MID_GREY = (0.2, 0.8)  # a pixel between these (ink 1, background 0) is grey: neither ink nor background
FLAT = 0.25  # ... and flat when its 3x3 neighbourhood varies by less than this: inside a tone, not on a stroke's rim
INK = 0.1


@dataclass
class Gaussians:
    """Class-conditional Gaussians with a shared covariance: means (10, d), precision = Sigma^-1 (d, d)."""

    means: np.ndarray
    precision: np.ndarray

    def distance(self, f) -> np.ndarray:
        """``min_c (f - mu_c)^T Sigma^-1 (f - mu_c)`` for each row of ``f``."""
        f = np.asarray(f, dtype="float64")
        best = np.full(len(f), np.inf)
        for mu in self.means:
            d = f - mu
            best = np.minimum(best, ((d @ self.precision) * d).sum(1))
        return best


def pixel_statistics(images) -> np.ndarray:
    """(n, 6) statistics of 28x28 images in [0, 1]: the share of the frame that is flat mid-grey (:data:`MID_GREY`,
    :data:`FLAT`), the share with ink (> :data:`INK`), the share with more than half ink, the flat grey's share
    of the inked pixels, and the height and width of the inked rows and columns (a share of 28: MNIST's digits
    stand 20 pixels tall, a dash does not). Dark-on-light images are inverted first, so the statistics do not depend
    on which way round the ink is."""
    from scipy.ndimage import maximum_filter, minimum_filter

    x = np.asarray(images, dtype="float32").reshape(-1, 28, 28)
    x = np.where(x.mean((1, 2), keepdims=True) > 0.5, 1.0 - x, x)
    spread = maximum_filter(x, size=(1, 3, 3)) - minimum_filter(x, size=(1, 3, 3))
    flat_grey = (x > MID_GREY[0]) & (x < MID_GREY[1]) & (spread < FLAT)
    ink = x > INK
    rows, cols = ink.any(2), ink.any(1)
    return np.stack([flat_grey.mean((1, 2)), ink.mean((1, 2)), (x > 0.5).mean((1, 2)),
                     flat_grey.sum((1, 2)) / np.maximum(ink.sum((1, 2)), 1), _extent(rows), _extent(cols)], 1)


def _extent(mask) -> np.ndarray:
    """(n,) from (n, 28) booleans: from the first to the last True, as a share of 28 (0 when none)."""
    first = mask.argmax(1)
    last = mask.shape[1] - 1 - mask[:, ::-1].argmax(1)
    return np.where(mask.any(1), (last - first + 1) / mask.shape[1], 0.0)


_PIXEL_GAUSSIANS: dict[str, Gaussians] = {}


def pixel_gaussians(x_train, y_train, n: int = N_PIXEL_FIT) -> Gaussians:
    """Class-conditional Gaussians of :func:`pixel_statistics` on the first ``n`` training digits in each of the
    three renderings; they depend on the data only, so they are fitted once per process and data."""
    x = np.ascontiguousarray(x_train[:n])
    key = hashlib.sha1(x.tobytes()).hexdigest()
    if key not in _PIXEL_GAUSSIANS:
        f = np.concatenate([pixel_statistics(rendered_once(x, how)) for how in RENDERINGS])
        y = np.tile(np.asarray(y_train[:n]).astype(int), len(RENDERINGS))
        _PIXEL_GAUSSIANS[key] = fit_gaussians(f, y)
    return _PIXEL_GAUSSIANS[key]


def fit_gaussians(f: np.ndarray, y: np.ndarray, n_classes: int = 10) -> Gaussians:
    """Class means and the shared precision (inverse covariance, with a little shrinkage for dead units)."""
    f = np.asarray(f, dtype="float64")
    means = np.stack([f[y == c].mean(0) if (y == c).any() else f.mean(0) for c in range(n_classes)])
    centred = f - means[y]
    cov = centred.T @ centred / max(len(f) - n_classes, 1)
    ridge = 1e-3 * np.trace(cov) / len(cov) + 1e-8
    return Gaussians(means, np.linalg.inv(cov + ridge * np.eye(len(cov))))
