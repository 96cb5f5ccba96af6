"""The column plan: what the network makes of each column of a table, and the numbers it feeds the network.

Each column other than the label gets a role, with the reason shown to the learner:

* **number**: standardised on the training split only, ``z = (x - mean_train) / std_train``, so no statistic of the
  validation or test rows leaks into training; an empty cell is filled with the training median.
* **yes/no**: yes/no, true/false, y/n or 1/0 cells as 1 and 0; an empty cell gets the most frequent answer.
* **category**: text with a few values, one-hot encoded: one input per value seen in training,
  ``onehot(v)_k = 1 if v == value_k else 0`` (a value never seen in training: all zeros); an empty cell gets the
  most frequent value.
* **identifier** (dropped): a different value on every row (a name, a row number): it tells nothing about new
  rows, and a network would memorise it. **constant** or **empty** (dropped): nothing to learn from.

:func:`plan_columns` suggests the roles; :func:`fit_encoder` fits the :class:`Encoder` on the training rows, which
turns any rows (a test row, a row typed by the learner) into the network's inputs. The encoder is plain JSON, kept
with the run (``plan.json``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from core.tabular.reading import TableError, to_number

NUMBER, YESNO, CATEGORY = "number", "yes/no", "category"
IDENTIFIER, CONSTANT, EMPTY, DROPPED, LABEL = "identifier", "constant", "empty", "dropped by you", "label"
USED = (NUMBER, YESNO, CATEGORY)
MAX_CLASSES = 20
MIN_PER_CLASS = 5  # a stratified train / validation / test split puts a few of each class in each part
MAX_CATEGORIES = 50  # distinct texts a category column may have (one input each)
NUMERIC_SHARE = 0.95  # a column is numbers when this share of its non-empty cells reads as numbers
YES = {"yes", "y", "true", "t", "1", "ja", "oui", "si", "sí"}
NO = {"no", "n", "false", "f", "0", "nein", "non"}
LABEL_NAMES = re.compile(r"^(label|labels|class|classe|klasse|target|species|diagnosis|outcome|y|category|type)$",
                         re.IGNORECASE)
ID_NAMES = re.compile(r"(^|[\s_.-])(id|ids|index|idx|key|uuid|row|no|nr|number|name)$", re.IGNORECASE)


@dataclass
class ColumnRole:
    name: str
    role: str
    reason: str
    empty: int = 0  # empty cells

    @property
    def used(self) -> bool:
        return self.role in USED


def guess_label(frame) -> str:
    """A column named like a label (label, class, target, species, diagnosis...), else the last text column, else
    the last column."""
    for name in frame.columns:
        if LABEL_NAMES.match(name.strip()) or re.search(r"(label|class|target|diagnosis|species)$", name, re.I):
            return name
    texts = [name for name in frame.columns if to_number(frame[name]).notna().mean() < NUMERIC_SHARE]
    return texts[-1] if texts else frame.columns[-1]


def _is_yes_no(values) -> bool:
    seen = set(values.str.lower().unique())
    return len(seen) == 2 and seen <= YES | NO and bool(seen & YES) and bool(seen & NO)


def column_role(frame, name: str, decimal: str = ".") -> ColumnRole:
    """The suggested role of one feature column, with the reason."""
    col = frame[name]
    values, n = col.dropna(), len(col)
    empty = int(n - len(values))
    if values.empty:
        return ColumnRole(name, EMPTY, "every cell is empty", empty)
    distinct = values.nunique()
    if distinct == 1:
        return ColumnRole(name, CONSTANT, f"the same value ({values.iloc[0]}) on every row", empty)
    if _is_yes_no(values):
        return ColumnRole(name, YESNO, "two answers (yes/no): 1 and 0", empty)
    numbers = to_number(values, decimal)
    unique_rows = distinct == n and n >= 10
    if numbers.notna().mean() >= NUMERIC_SHARE:
        whole = bool((numbers.dropna() % 1 == 0).all())
        steps = np.diff(numbers.to_numpy())
        if whole and unique_rows and (ID_NAMES.search(name) or (len(steps) and np.all(steps == steps[0]))):
            return ColumnRole(name, IDENTIFIER, "a different whole number on every row (a row number or id)", empty)
        bad = int(numbers.isna().sum())
        extra = f"; {bad} cells that are not numbers count as empty" if bad else ""
        return ColumnRole(name, NUMBER, f"numbers, standardised{extra}", empty + bad)
    if unique_rows or (ID_NAMES.search(name) and distinct > 0.9 * len(values)):
        return ColumnRole(name, IDENTIFIER, "a different text on every row (a name or id)", empty)
    if distinct > MAX_CATEGORIES:
        return ColumnRole(name, IDENTIFIER, f"{distinct} different texts: too many to one-hot", empty)
    return ColumnRole(name, CATEGORY, f"text with {distinct} values: one-hot, one input per value", empty)


def plan_columns(frame, label: str, drop=(), decimal: str = ".") -> list[ColumnRole]:
    """Every column's role (the label's too), after the user's ``drop`` list."""
    plan = []
    for name in frame.columns:
        if name == label:
            plan.append(ColumnRole(name, LABEL, "what the network learns to predict", int(frame[name].isna().sum())))
        elif name in drop:
            plan.append(ColumnRole(name, DROPPED, "you dropped it"))
        else:
            plan.append(column_role(frame, name, decimal))
    return plan


def check_label(frame, label: str) -> list[str]:
    """The classes of the label column (sorted text), or :class:`TableError` saying why it cannot be learnt."""
    if label not in frame.columns:
        shown = ", ".join(repr(c) for c in list(frame.columns)[:12])
        raise TableError(f"there is no column named {label!r}; the columns are {shown}")
    values = frame[label].dropna()
    counts = values.value_counts()
    if len(counts) < 2:
        only = f" ({counts.index[0]!r})" if len(counts) else ""
        raise TableError(f"the label column {label!r} holds a single class{only}: a classifier needs at least two")
    if len(counts) > MAX_CLASSES:
        raise TableError(f"the label column {label!r} has {len(counts)} different values; a table may have at most "
                         f"{MAX_CLASSES} classes (is it a measurement or an id rather than a class?)")
    if counts.min() < MIN_PER_CLASS:
        few = counts[counts < MIN_PER_CLASS]
        listed = ", ".join(f"{k!r} ({v})" for k, v in few.head(5).items())
        raise TableError(f"too few rows per class for the train / validation / test split: each class of {label!r} "
                         f"needs at least {MIN_PER_CLASS} rows; {listed} has fewer")
    return sorted(str(c) for c in counts.index)


@dataclass
class Encoder:
    """The fitted plan: turns rows (text cells) into standardised, one-hot network inputs (JSON: ``to_dict``)."""

    label: str
    classes: list
    columns: list  # [{"name", "role", "fill", "mean", "std", "values"}] of the used columns, in order
    decimal: str = "."
    dropped: list = field(default_factory=list)  # [{"name", "role", "reason"}]

    @property
    def feature_names(self) -> list[str]:
        """One name per network input (``colour=red`` for a one-hot input)."""
        return [n for c in self.columns for n in ([f"{c['name']}={v}" for v in c["values"]]
                                                   if c["role"] == CATEGORY else [c["name"]])]

    @property
    def groups(self) -> list[tuple[str, list[int]]]:
        """Each used column and the network inputs it feeds (one, or one per category value)."""
        out, start = [], 0
        for c in self.columns:
            width = len(c["values"]) if c["role"] == CATEGORY else 1
            out.append((c["name"], list(range(start, start + width))))
            start += width
        return out

    @property
    def numbers(self) -> list[str]:
        return [c["name"] for c in self.columns if c["role"] == NUMBER]

    def column(self, name: str) -> dict:
        return next(c for c in self.columns if c["name"] == name)

    def transform(self, frame) -> tuple[np.ndarray, int]:
        """The network inputs (float32, one row per row) and how many empty cells were filled."""
        blocks, filled = [], 0
        for c in self.columns:
            raw = frame[c["name"]] if c["name"] in frame.columns else None
            if c["role"] == NUMBER:
                x = to_number(raw, self.decimal).to_numpy() if raw is not None else np.full(len(frame), np.nan)
                filled += int(np.isnan(x).sum())
                x = np.where(np.isnan(x), c["fill"], x)
                blocks.append(((x - c["mean"]) / c["std"])[:, None])
                continue
            text = raw.astype("string").fillna(c["fill"]).to_numpy(dtype=object) if raw is not None else \
                np.full(len(frame), c["fill"], dtype=object)
            filled += int(raw.isna().sum()) if raw is not None else len(frame)
            if c["role"] == YESNO:
                blocks.append(np.array([[1.0 if str(v).lower() in YES else 0.0] for v in text]).reshape(-1, 1))
            else:
                blocks.append((text[:, None] == np.asarray(c["values"], dtype=object)[None]).astype("float64"))
        return np.hstack(blocks).astype("float32"), filled

    def labels(self, frame) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index[str(v)] for v in frame[self.label]], dtype="int32")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Encoder:
        return cls(**data)


def fit_encoder(frame, plan: list[ColumnRole], label: str, classes: list, decimal: str = ".") -> Encoder:
    """Fit the statistics of the used columns on ``frame`` (the training rows only)."""
    columns = []
    for role in plan:
        if not role.used:
            continue
        col = frame[role.name]
        if role.role == NUMBER:
            x = to_number(col, decimal)
            fill = float(x.median()) if x.notna().any() else 0.0
            x = x.fillna(fill)
            std = float(x.std(ddof=0))
            columns.append({"name": role.name, "role": NUMBER, "fill": fill, "mean": float(x.mean()),
                            "std": std if std > 1e-12 else 1.0, "values": []})
        else:
            counts = col.dropna().astype(str).value_counts()
            fill = str(counts.index[0]) if len(counts) else ""
            values = sorted(str(v) for v in counts.index) if role.role == CATEGORY else []
            columns.append({"name": role.name, "role": role.role, "fill": fill, "mean": 0.0, "std": 1.0,
                            "values": values})
    dropped = [{"name": r.name, "role": r.role, "reason": r.reason} for r in plan if not r.used and r.role != LABEL]
    return Encoder(label, list(classes), columns, decimal, dropped)
