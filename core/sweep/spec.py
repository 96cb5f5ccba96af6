"""What a sweep runs: base settings, the values to vary, seeds per configuration, checked before anything starts.

A :class:`SweepSpec` takes its search space from the task's :class:`core.params.ParamSpace`, so a sweep can vary
anything a page can set, with the same bounds and messages. Lists are a grid; a ``(low, high)`` tuple is a range
sampled ``samples`` times (log-uniform where the ``Param`` is log-scaled, integers rounded). Every configuration
runs once per seed: ``seed``, ``seed + 1``, ... of the base settings. No Ray and no TensorFlow here.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from core.params import Param, ParamError, ParamSpace
from core.registry import get_task

MAX_TRIALS = 200  # more trials than this is almost surely a typo (and hours of training)
DEFAULT_SAMPLES = 5  # random configurations per grid point when a range is given without --samples


class SweepError(ValueError):
    """A sweep that cannot start (bad space, too many trials, no Ray cluster); the message is for the user."""


class Trial(NamedTuple):
    """One training of a sweep: the varied values (``config``) and the seed."""

    config: dict
    seed: int


def _param(space: ParamSpace, name: str, kind: str) -> Param:
    name = name.strip().replace("-", "_")
    if name not in space.names():
        raise SweepError(f"unknown hyper-parameter {name!r} for {kind}; choose from {', '.join(space.names())}")
    if name == "seed":
        raise SweepError("the seed cannot be varied: give the number of seeds per configuration instead "
                         "(replicates get seed, seed + 1, ...)")
    return space[name]


def _is_range(values: Any) -> bool:
    return isinstance(values, tuple)


def parse_values(param: Param, text: str) -> list | tuple:
    """``V1,V2,...`` (a grid, as a list) or ``LO..HI`` (a range, as a tuple), each value checked by ``param``."""
    text = text.strip()
    if ".." in text:
        lo, _, hi = text.partition("..")
        return (param.parse(lo), param.parse(hi)) if lo.strip() and hi.strip() else ("", "")
    return [param.parse(v) for v in text.split(",") if v.strip()]


def parse_vary(space: ParamSpace, items, kind: str = "") -> dict:
    """``["learning_rate=1e-4,1e-3", "units=5..20"]`` (or one text with items on lines or split by ``;``) as a
    ``vary`` dict; raises :class:`SweepError` or :class:`ParamError` with one message."""
    if isinstance(items, str):
        items = [part for line in items.splitlines() for part in line.split(";")]
    vary: dict = {}
    for item in items:
        if not item.strip():
            continue
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise SweepError(f"vary takes NAME=V1,V2,... or NAME=LO..HI, got {item.strip()!r}")
        param = _param(space, name, kind)
        if param.name in vary:
            raise SweepError(f"{param.name} is varied twice; give all its values in one NAME=V1,V2,...")
        vary[param.name] = parse_values(param, text)
    return vary


def _check_values(param: Param, values) -> list | tuple:
    """Validated values: a de-duplicated list for a grid, a (low, high) tuple for a range."""
    check = param.parse
    if _is_range(values):
        if len(values) != 2 or any(v == "" for v in values):
            raise SweepError(f"{param.title}: a range needs a low and a high value, LO..HI")
        if param.kind not in ("int", "float"):
            raise SweepError(f"{param.title}: only numbers take a range; list the values instead (V1,V2,...)")
        lo, hi = (check(v) for v in values)
        if not lo < hi:
            raise SweepError(f"{param.title}: the range {lo:g}..{hi:g} is empty; the low value comes first")
        if param.log and lo <= 0:
            raise SweepError(f"{param.title}: a log-scaled range needs a low value above 0")
        return (lo, hi)
    if isinstance(values, (str, int, float, bool)):
        values = [values]
    out = []
    for v in values:
        v = check(v)
        if v not in out:
            out.append(v)
    if not out:
        raise SweepError(f"{param.title}: no values to try; give NAME=V1,V2,... or NAME=LO..HI")
    return out


def _draw(param: Param, lo: float, hi: float, rng) -> Any:
    value = math.exp(rng.uniform(math.log(lo), math.log(hi))) if param.log else rng.uniform(lo, hi)
    value = round(value) if param.kind == "int" else float(f"{value:.4g}")
    return param.validate(min(max(value, lo), hi))


@dataclass
class SweepSpec:
    """A sweep of one model kind, validated on creation (:class:`SweepError` / :class:`ParamError`).

    base: the settings every trial starts from (completed with defaults). vary: name -> list of values (a grid)
    or (low, high) (a range, sampled). seeds: replicates per configuration. early_stop: ASHA on ``val_loss``.
    concurrency: at most this many trials at once (None: as many as the CPUs allow). address: a Ray cluster
    (None: ``$RAY_ADDRESS``, else a local Ray started on demand).
    """

    kind: str
    base: dict = field(default_factory=dict)
    vary: dict = field(default_factory=dict)
    samples: int | None = None
    seeds: int = 1
    early_stop: bool = False
    concurrency: int | None = None
    address: str | None = None
    max_trials: int = MAX_TRIALS

    def __post_init__(self):
        try:
            self.task = get_task(self.kind)
        except KeyError as err:
            raise SweepError(err.args[0]) from None
        space = self.task.space
        self.base = space.validate(self.base)
        self.vary = {_param(space, name, self.kind).name: _check_values(_param(space, name, self.kind), values)
                     for name, values in self.vary.items()}
        for label, value, low in (("seeds", self.seeds, 1), ("samples", self.samples, 1),
                                  ("concurrency", self.concurrency, 1)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise SweepError(f"{label} must be a whole number of at least {low}, got {value!r}")
        if self.samples is not None and not self.ranges:
            raise SweepError("samples only applies to ranges (NAME=LO..HI); a list of values is tried in full")
        if not self.vary and self.seeds < 2:
            raise SweepError("nothing to sweep: vary a hyper-parameter (NAME=V1,V2,... or NAME=LO..HI) "
                             "or run more than one seed")
        last_seed = self.base["seed"] + self.seeds - 1
        space["seed"].validate(last_seed)
        count = self.count()
        if count > self.max_trials:
            raise SweepError(f"this sweep has {count} trials ({count // self.seeds} configurations x {self.seeds} "
                             f"seeds), more than the limit of {self.max_trials}: vary fewer values or use fewer "
                             "seeds or samples")
        self.address = (self.address or "").strip() or None

    @property
    def grids(self) -> dict:
        return {k: v for k, v in self.vary.items() if not _is_range(v)}

    @property
    def ranges(self) -> dict:
        return {k: v for k, v in self.vary.items() if _is_range(v)}

    @property
    def n_samples(self) -> int:
        return (self.samples or DEFAULT_SAMPLES) if self.ranges else 1

    def count(self) -> int:
        """The number of trials (configurations x seeds), without drawing them."""
        return math.prod(len(v) for v in self.grids.values()) * self.n_samples * self.seeds

    def configs(self) -> list[dict]:
        """Every configuration (varied values only): the grid's product, each with ``samples`` random draws of the
        ranges (reproducible: drawn from the base seed). Duplicate draws of integer ranges are dropped."""
        rng = np.random.default_rng(self.base["seed"])
        space = self.task.space
        names = list(self.vary)
        out = []
        for point in itertools.product(*self.grids.values()):
            for _ in range(self.n_samples):
                drawn = {**dict(zip(self.grids, point)),
                         **{n: _draw(space[n], lo, hi, rng) for n, (lo, hi) in self.ranges.items()}}
                config = {n: drawn[n] for n in names}
                if config not in out:
                    out.append(config)
        return out

    def trials(self) -> list[Trial]:
        """Every trial in run order: each configuration with seeds ``seed``, ``seed + 1``, ..."""
        seed = self.base["seed"]
        return [Trial(config, seed + i) for config in self.configs() for i in range(self.seeds)]

    def params(self, trial: Trial) -> dict:
        """The full, validated settings of one trial."""
        return self.task.space.validate({**self.base, **trial.config, "seed": trial.seed})

    @property
    def max_epochs(self) -> int:
        epochs = self.vary.get("epochs")
        if epochs is None:
            return int(self.base.get("epochs", 1))
        return int(max(epochs))

    def to_dict(self) -> dict:
        """A JSON-able description (stored with the sweep's runs and shown by the pages)."""
        return {"kind": self.kind, "base": self.base,
                "vary": {k: {"range": list(v)} if _is_range(v) else {"values": list(v)} for k, v in self.vary.items()},
                "samples": self.samples, "seeds": self.seeds, "early_stop": self.early_stop,
                "concurrency": self.concurrency, "address": self.address, "trials": self.count()}


__all__ = ["MAX_TRIALS", "ParamError", "SweepError", "SweepSpec", "Trial", "parse_values", "parse_vary"]
