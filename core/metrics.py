"""Measures of a classifier's predictions shared by the model kinds (Iris, the MNIST CNN): NumPy in, NumPy out."""

from __future__ import annotations

import numpy as np


def confusion(y_true, y_pred, n_classes: int = 3) -> np.ndarray:
    """Counts ``m[i, j]`` of examples of true class i predicted as j."""
    from sklearn.metrics import confusion_matrix  # scikit-learn loads in about a second: only when used

    return confusion_matrix(y_true, y_pred, labels=list(range(n_classes)))
