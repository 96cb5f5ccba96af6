"""Sweeps: many trainings of one model kind (a grid or random ranges, seed replicates) on Ray Tune.

* :class:`SweepSpec` / :func:`parse_vary` (:mod:`core.sweep.spec`): what to run, validated before anything starts.
* :class:`Sweep` (:mod:`core.sweep.runner`): runs a spec in a background thread; ``snapshot()``, ``stop()``.
* :func:`ensure_ray` (:mod:`core.sweep.connect`): a local Ray on demand, or the cluster at an address.
* :mod:`core.sweep.stats`: mean ± std bands, confidence intervals, parameter importance from stored runs.

Importing this package imports neither Ray nor TensorFlow: they load when a sweep starts.
"""

from core.sweep.connect import ensure_ray, resolve_address
from core.sweep.runner import Sweep, config_label
from core.sweep.spec import MAX_TRIALS, SweepError, SweepSpec, Trial, parse_vary

__all__ = ["MAX_TRIALS", "Sweep", "SweepError", "SweepSpec", "Trial", "config_label", "ensure_ray", "parse_vary",
           "resolve_address"]
