"""Which columns does the network rely on? Permutation importance, per column of the table.

Shuffle one column's values across the test rows (a one-hot column's inputs move together, as one column) and
measure how much the test accuracy drops:

    I_j = acc(X) - mean over r of acc(X with column j shuffled, r-th time)

A column the network ignores costs nothing when shuffled (I_j ~ 0); one it needs costs much. The shuffles break the
column's link to the label while keeping its values, so no input the network never saw is invented.
"""

from __future__ import annotations

import numpy as np


def permutation_importance(predict, x, y, groups, repeats: int = 5, seed: int = 0) -> dict[str, float]:
    """``{column: I_j}`` for ``groups`` ((column, its input indices)); ``predict(x)`` gives class probabilities."""
    rng = np.random.default_rng(seed)
    base = float(np.mean(np.asarray(predict(x)).argmax(1) == y))
    out = {}
    for name, cols in groups:
        drops = []
        for _ in range(repeats):
            shuffled = x.copy()
            shuffled[:, cols] = x[rng.permutation(len(x))][:, cols]
            drops.append(base - float(np.mean(np.asarray(predict(shuffled)).argmax(1) == y)))
        out[name] = float(np.mean(drops))
    return out
