"""After training: confusion matrix and decision regions of an Iris model (NumPy out, no plotting)."""

from __future__ import annotations

import numpy as np

from core.iris.model import predict_proba


def confusion(y_true, y_pred, n_classes: int = 3) -> np.ndarray:
    """Counts ``m[i, j]`` of flowers of true class i predicted as j."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=list(range(n_classes)))


def decision_grid(model, x_reference, features=(2, 3), resolution: int = 120, margin: float = 0.5):
    """Predicted class over a grid in two features, the other two held at the reference means.

    Returns ``(xs, ys, classes, confidence)`` with ``classes[i, j]`` the predicted species at
    ``(xs[j], ys[i])`` and ``confidence`` its probability.
    """
    x_reference = np.asarray(x_reference, dtype="float32")
    fx, fy = features
    lo, hi = x_reference.min(axis=0) - margin, x_reference.max(axis=0) + margin
    xs = np.linspace(lo[fx], hi[fx], resolution, dtype="float32")
    ys = np.linspace(lo[fy], hi[fy], resolution, dtype="float32")
    gx, gy = np.meshgrid(xs, ys)
    points = np.tile(x_reference.mean(axis=0), (gx.size, 1))
    points[:, fx], points[:, fy] = gx.ravel(), gy.ravel()
    probs = predict_proba(model, points)
    return xs, ys, probs.argmax(axis=1).reshape(gx.shape), probs.max(axis=1).reshape(gx.shape)
