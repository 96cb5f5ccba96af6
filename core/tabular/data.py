"""From a table to the network's arrays: the label checked, a stratified train / validation / test split with a
seed, the encoder fitted on the training rows only (:mod:`core.tabular.columns`).

Stratified: each part keeps the classes' shares of the whole table, so a rare class is in every part. The split is
a function of the seed alone, so the page, the worker and a re-run all split a table the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.tabular.columns import Encoder, check_label, fit_encoder, guess_label, plan_columns
from core.tabular.reading import Table, TableError, read_table

MAX_INPUTS = 1000  # network inputs: numbers and yes/no columns one each, a text column one per value

# Lazy import: scikit-learn's train_test_split (0.9-1.7 s to import) inside split_rows, so that checking a table
# before a training starts stays quick.


@dataclass
class TabularData:
    encoder: Encoder
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_rows: object  # the test rows as read (a DataFrame), for the page's tables
    notices: list = field(default_factory=list)

    def info(self, name: str, table: Table) -> dict:
        e = self.encoder
        return {"source": name, "n_train": len(self.y_train), "n_validation": len(self.y_val),
                "n_test": len(self.y_test), "n_inputs": int(self.x_train.shape[1]), "classes": list(e.classes),
                "label": e.label, "dialect": table.dialect, "notices": list(self.notices),
                "description": f"{name}: {len(self.y_train)} training, {len(self.y_val)} validation, "
                               f"{len(self.y_test)} test rows; {len(e.columns)} columns → {self.x_train.shape[1]} "
                               f"inputs; {len(e.classes)} classes of {e.label!r}"}


def load_table(path: str | Path) -> Table:
    """Read the CSV file at ``path`` (:func:`core.tabular.reading.read_table`)."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"no such file: {path}")
    return read_table(path.read_bytes(), path.name)


def parse_drop(text: str) -> list[str]:
    """The ``drop`` setting: column names separated by commas (a name holding a comma: not droppable this way)."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def resolve_label(table: Table, label: str) -> str:
    return label or guess_label(table.frame)


def split_rows(y: np.ndarray, test_fraction: float, validation_fraction: float, seed: int):
    """Row indices (train, validation, test), stratified by class; TableError when a part would miss a class."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    n_classes = len(np.unique(y))
    n_test = int(np.ceil(test_fraction * len(y)))
    n_val = int(np.ceil(validation_fraction * (len(y) - n_test)))
    if min(n_test, n_val) < n_classes:
        raise TableError(f"too few rows for the split: {len(y)} rows give {n_test} test and {n_val} validation rows, "
                         f"fewer than the {n_classes} classes (a larger test fraction or more rows)")
    rest, test = train_test_split(index, test_size=n_test, stratify=y, random_state=seed)
    train, val = train_test_split(rest, test_size=n_val, stratify=y[rest], random_state=seed)
    return np.sort(train), np.sort(val), np.sort(test)


def prepare_table(table: Table, params: dict) -> TabularData:
    """Check, split and encode ``table`` with the settings ``label``, ``drop``, ``test_fraction``,
    ``validation_fraction`` and ``seed``; TableError for anything that cannot be learnt."""
    frame = table.frame
    label = resolve_label(table, params.get("label", ""))
    classes = check_label(frame, label)
    missing = [name for name in parse_drop(params.get("drop", "")) if name not in frame.columns]
    if missing:
        raise TableError(f"cannot drop {', '.join(map(repr, missing))}: no such column")
    notices = list(table.notices)
    empty_label = int(frame[label].isna().sum())
    if empty_label:
        frame = frame[frame[label].notna()].reset_index(drop=True)
        notices.append(f"{empty_label} rows without a {label!r} were left out")
    plan = plan_columns(frame, label, parse_drop(params.get("drop", "")), table.decimal)
    if not any(role.used for role in plan):
        raise TableError(f"no column is left to learn {label!r} from: every other column is dropped")
    y_all = np.array([classes.index(str(v)) for v in frame[label]], dtype="int32")
    train, val, test = split_rows(y_all, params.get("test_fraction", 0.2), params.get("validation_fraction", 0.2),
                                  params.get("seed", 42))
    encoder = fit_encoder(frame.iloc[train], plan, label, classes, table.decimal)
    if len(encoder.feature_names) > MAX_INPUTS:
        widest = max(encoder.columns, key=lambda c: len(c["values"]))
        raise TableError(f"the columns make {len(encoder.feature_names)} inputs (one per value of a text column); at "
                         f"most {MAX_INPUTS}: leave out a text column with many values ({widest['name']!r} has "
                         f"{len(widest['values'])})")
    parts = {}
    filled = 0
    for name, rows in (("train", train), ("val", val), ("test", test)):
        x, n = encoder.transform(frame.iloc[rows])
        parts[name] = (x, y_all[rows])
        filled += n
    if filled:
        notices.append(f"{filled} empty cells filled (numbers: the training median; text: the most frequent value)")
    return TabularData(encoder, *parts["train"], *parts["val"], *parts["test"],
                       frame.iloc[test].reset_index(drop=True), notices)
