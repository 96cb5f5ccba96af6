"""Measures of a classifier's predictions shared by the model kinds (Iris, the MNIST CNN, tables): NumPy in, NumPy
out."""

from __future__ import annotations

import numpy as np

# Lazy import: scikit-learn (1.7 s to import sklearn.metrics) inside confusion, so that the Iris and CNN kinds'
# parameters (the registry) import without it.


def confusion(y_true, y_pred, n_classes: int = 3) -> np.ndarray:
    """Counts ``m[i, j]`` of examples of true class i predicted as j."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=list(range(n_classes)))


def cross_entropy(probs, y) -> float:
    """Mean of -log p_y over the examples: the sparse categorical cross-entropy of probabilities (n, k)."""
    probs = np.asarray(probs)
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0)).mean())
