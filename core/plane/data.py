"""Points on a plane in two classes: TensorFlow Playground's four data sets, moons, and points drawn by hand.

Every set lives in the square [-6, 6]² (Playground's), with labels 0 (orange) and 1 (blue). ``noise`` (0 to 0.5)
moves every point as Playground does (its slider's 0-50 %):

* circle:   class 1 inside radius 2.5, class 0 on a ring of radius 3.5-5; noise shifts each point by up to 5 noise
  in x and y before its label is read from where it landed.
* xor:      x, y uniform in ±(0.3..5.3); label 1 where x y ≥ 0 (same quadrant signs), read after the noise shift.
* gaussian: two Gaussian clouds centred at (2, 2) (class 1) and (-2, -2) (class 0), variance 0.5 + 7 noise.
* spiral:   two arms, r = 5 i / n, θ = 3.5 π i / n (+ π for class 0), each point shifted by up to noise in x, y.
* moons:    two interleaved half circles (scikit-learn's make_moons, scaled by 3 and centred), Gaussian noise.
* drawn:    the points of the ``points`` setting, ``"x,y,c;x,y,c;..."`` (c: 0 or 1), as clicked on the page.

The network does not see (x1, x2) alone but the chosen **features** of each point (Playground's input column):
x1, x2, x1², x2², x1·x2, sin x1, sin x2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DATASETS = ("circle", "xor", "gaussian", "spiral", "moons", "drawn")
LIMIT = 6.0  # the plane is [-LIMIT, LIMIT]²
CLASSES = ("orange", "blue")  # label 0, label 1 (Playground's colours)
MIN_PER_CLASS = 2  # a drawn set needs at least this many points of each class (one to train on, one to test)
MAX_DRAWN = 1000

# name -> (label, function of x1 and x2), in Playground's order
FEATURES = {
    "x1": ("x₁", lambda a, b: a),
    "x2": ("x₂", lambda a, b: b),
    "x1_squared": ("x₁²", lambda a, b: a * a),
    "x2_squared": ("x₂²", lambda a, b: b * b),
    "x1_x2": ("x₁x₂", lambda a, b: a * b),
    "sin_x1": ("sin x₁", lambda a, b: np.sin(a)),
    "sin_x2": ("sin x₂", lambda a, b: np.sin(b)),
}


def chosen_features(params: dict) -> list[str]:
    """The feature names switched on in ``params`` (in Playground's order)."""
    return [name for name in FEATURES if params.get(name)]


def features(xy, names) -> np.ndarray:
    """The network's inputs, shape (n, len(names)), float32: each feature of each point (x1, x2)."""
    xy = np.asarray(xy, dtype="float64").reshape(-1, 2)
    return np.stack([FEATURES[n][1](xy[:, 0], xy[:, 1]) for n in names], axis=1).astype("float32")


def generate(dataset: str, n: int = 500, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points (float32, (n, 2)) and labels (int32, 0/1) of a generated data set; same seed, same points."""
    rng = np.random.default_rng([seed, DATASETS.index(dataset)])
    half = n // 2
    if dataset == "circle":
        radius = 5.0
        r = np.concatenate([rng.uniform(0, radius * 0.5, half), rng.uniform(radius * 0.7, radius, n - half)])
        angle = rng.uniform(0, 2 * math.pi, n)
        xy = np.stack([r * np.sin(angle), r * np.cos(angle)], 1)
        shifted = xy + rng.uniform(-radius, radius, (n, 2)) * noise
        y = (np.hypot(shifted[:, 0], shifted[:, 1]) < radius * 0.5).astype("int32")
    elif dataset == "xor":
        xy = rng.uniform(-5, 5, (n, 2))
        xy += np.where(xy > 0, 0.3, -0.3)
        shifted = xy + rng.uniform(-5, 5, (n, 2)) * noise
        y = (shifted[:, 0] * shifted[:, 1] >= 0).astype("int32")
    elif dataset == "gaussian":
        sd = math.sqrt(0.5 + 7.0 * noise)
        y = np.repeat(np.array([1, 0], dtype="int32"), [half, n - half])
        centres = np.where(y[:, None] == 1, 2.0, -2.0)
        xy = centres + rng.normal(0, sd, (n, 2))
    elif dataset == "spiral":
        xy, labels = [], []
        for label, delta, count in ((1, 0.0, half), (0, math.pi, n - half)):
            i = np.arange(count)
            r = i / count * 5
            t = 1.75 * i / count * 2 * math.pi + delta
            xy.append(np.stack([r * np.sin(t), r * np.cos(t)], 1) + rng.uniform(-1, 1, (count, 2)) * noise)
            labels.append(np.full(count, label, dtype="int32"))
        xy, y = np.concatenate(xy), np.concatenate(labels)
    elif dataset == "moons":
        t1, t0 = rng.uniform(0, math.pi, half), rng.uniform(0, math.pi, n - half)
        upper = np.stack([np.cos(t1), np.sin(t1)], 1)
        lower = np.stack([1 - np.cos(t0), 0.5 - np.sin(t0)], 1)
        xy = (np.concatenate([upper, lower]) - (0.5, 0.25)) * 3 + rng.normal(0, 1, (n, 2)) * noise * 3
        y = np.repeat(np.array([1, 0], dtype="int32"), [half, n - half])
    else:
        raise ValueError(f"unknown data set {dataset!r}; choose one of {', '.join(DATASETS)}")
    return np.clip(xy, -LIMIT, LIMIT).astype("float32"), y


# --- drawn points --------------------------------------------------------------------------------------------------

def parse_points(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``"x,y,c;x,y,c"`` -> points (n, 2) and labels; ValueError with a message for the user when malformed."""
    xy, labels = [], []
    for k, item in enumerate(t for t in text.replace(" ", "").split(";") if t):
        parts = item.split(",")
        try:
            if len(parts) != 3:
                raise ValueError
            x, y, c = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(f"drawn point {k + 1} is {item!r}; each point is x,y,class (class 0 or 1), "
                             "points separated by ';'") from None
        if c not in (0, 1) or not (abs(x) <= LIMIT and abs(y) <= LIMIT):
            raise ValueError(f"drawn point {k + 1} ({item}): x and y must lie in [-{LIMIT:g}, {LIMIT:g}] and the "
                             "class be 0 or 1")
        xy.append((x, y))
        labels.append(c)
    if len(xy) > MAX_DRAWN:
        raise ValueError(f"{len(xy)} drawn points; at most {MAX_DRAWN}")
    return np.asarray(xy, dtype="float32").reshape(-1, 2), np.asarray(labels, dtype="int32")


def format_points(xy, labels) -> str:
    """The inverse of :func:`parse_points`, two decimals a coordinate."""
    return ";".join(f"{x:.2f},{y:.2f},{int(c)}".replace(".00,", ",") for (x, y), c in zip(np.asarray(xy), labels))


def add_point(text: str, x: float, y: float, label: int) -> str:
    """``text`` with one more drawn point (clipped to the plane)."""
    x, y = (float(np.clip(v, -LIMIT, LIMIT)) for v in (x, y))
    return ";".join(t for t in (text, format_points([(x, y)], [label])) if t)


def undo_point(text: str) -> str:
    """``text`` without its last point."""
    return ";".join([t for t in text.split(";") if t.strip()][:-1])


def check_drawn(labels) -> None:
    """ValueError saying what to draw when a drawn set cannot be trained on."""
    counts = [int((np.asarray(labels) == c).sum()) for c in (0, 1)]
    missing = [f"{MIN_PER_CLASS - k} more {name}" for k, name in zip(counts, CLASSES) if k < MIN_PER_CLASS]
    if missing:
        raise ValueError(f"draw at least {MIN_PER_CLASS} points of each class (one to train on, one to test): you "
                         f"have {counts[0]} orange and {counts[1]} blue; add {' and '.join(missing)}")


# --- the split -----------------------------------------------------------------------------------------------------

@dataclass
class PlaneSplit:
    xy_train: np.ndarray
    y_train: np.ndarray
    xy_test: np.ndarray
    y_test: np.ndarray
    description: str = ""

    @property
    def info(self) -> dict:
        return {"source": "generated" if not self.description.startswith("drawn") else "drawn",
                "description": self.description, "n_train": len(self.y_train), "n_test": len(self.y_test)}


def split(xy, y, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): in each class a seeded shuffle, ``test_fraction`` of it (at least one point, and one
    left to train on when it has two) held out."""
    rng = np.random.default_rng([seed, 7])
    train, test = [], []
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(np.asarray(y) == c))
        k = min(len(idx) - 1, max(1, round(len(idx) * test_fraction))) if len(idx) > 1 else 0
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load(params: dict) -> PlaneSplit:
    """The points of these settings, split: a generated set, or the drawn points; ValueError for a bad drawn set."""
    if params["dataset"] == "drawn":
        xy, y = parse_points(params["points"])
        check_drawn(y)
        what = f"drawn by hand: {len(y)} points"
    else:
        xy, y = generate(params["dataset"], params["n_points"], params["noise"], params["seed"])
        what = f"{params['dataset']}, {len(y)} points, noise {params['noise']:g}"
    tr, te = split(xy, y, params["test_fraction"], params["seed"])
    return PlaneSplit(xy[tr], y[tr], xy[te], y[te], f"{what}; {len(tr)} to train on, {len(te)} to test")


def grid(resolution: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Axis values (resolution,) over [-6, 6] and the grid's points, (resolution², 2): row i·n + j is (xs[j], xs[i])."""
    xs = np.linspace(-LIMIT, LIMIT, resolution, dtype="float32")
    gx, gy = np.meshgrid(xs, xs)
    return xs, np.stack([gx.ravel(), gy.ravel()], 1)
