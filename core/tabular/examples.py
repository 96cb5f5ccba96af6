"""Example tables to try the page with: scikit-learn's bundled data sets, written as CSV as a spreadsheet would."""

from __future__ import annotations

import io

# Lazy import: scikit-learn's data sets (0.9-1.7 s to import) inside example_csv, used when a learner asks for one.

EXAMPLES = {"wine": "wine (178 wines, 13 measurements, 3 cultivars)",
            "breast_cancer": "breast cancer (569 tumours, 30 measurements, benign or malignant)"}


def example_csv(name: str) -> bytes:
    """The table ``name`` (one of :data:`EXAMPLES`) as CSV bytes, its class names in a ``target`` column."""
    from sklearn import datasets

    if name not in EXAMPLES:
        raise ValueError(f"no example table {name!r}; choose one of {', '.join(EXAMPLES)}")
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = [str(bunch.target_names[i]) for i in bunch.target]
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()
