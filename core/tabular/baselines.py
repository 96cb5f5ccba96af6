"""Did the network earn its keep? Two scikit-learn baselines trained on the very same split and inputs.

* logistic regression: one linear layer and softmax, ``p = softmax(W x + b)``, fitted to the training rows with a
  small L2 penalty (scikit-learn's default ``C = 1``): a network with no hidden layer;
* a small random forest (100 trees of depth at most 8): no gradient at all, and strong on tables.

A network that does no better than these learnt nothing a simpler model could not.
"""

from __future__ import annotations

import numpy as np

# Lazy import: scikit-learn (0.9-1.7 s to import) inside baseline_accuracies, so that the registry imports this kind
# at once.

BASELINES = {"logistic": "logistic regression", "forest": "random forest (100 trees)"}


def baseline_accuracies(x_train, y_train, x_test, y_test, seed: int = 42) -> dict[str, float]:
    """Test accuracy of each baseline (``{"logistic": 0.97, "forest": 0.95}``), fitted on the training rows."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    models = {"logistic": LogisticRegression(max_iter=2000),
              "forest": RandomForestClassifier(n_estimators=100, max_depth=8, random_state=seed, n_jobs=1)}
    out = {}
    for name, model in models.items():
        model.fit(x_train, y_train)
        out[name] = float(np.mean(model.predict(x_test) == y_test))
    return out
