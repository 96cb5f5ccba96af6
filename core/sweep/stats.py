"""What a sweep found, from its stored runs: mean ± std per epoch, confidence intervals, which setting mattered.

Everything works from run records (``RunStore.list()``), so any stored sweep can be analysed, also one that ran on
another machine or was stopped half way. Trials are grouped by configuration (``sweep_config``); seeds are the
replicates. NumPy, SciPy and scikit-learn only.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from core.registry import get_task
from core.sweep.runner import config_label

# Lazy imports: SciPy's stats (0.6 s to import) and scikit-learn (0.9-1.1 s) inside the functions that use them,
# so that the Runs and sweep pages import this module at once.


def higher_is_better(metric: str) -> bool:
    """Accuracies and ELBOs grow, losses shrink."""
    return "loss" not in metric


def headline_metric(records: list[dict]) -> str:
    """The task's one summary figure (``test_accuracy``, ``test_elbo``) for the runs' model kind."""
    kinds = {r.get("kind") for r in records}
    try:
        return get_task(next(iter(kinds))).headline_metric if len(kinds) == 1 else "test_accuracy"
    except KeyError:
        return "test_accuracy"


def sweep_runs(store, sweep_id: str | None = None, viewer: str | None = None) -> list[dict]:
    """The records of a sweep's runs (every sweep's without an id; ``viewer``'s and shared ones), in trial order."""
    runs = [dict(r.record, id=r.run_id) for r in store.list(viewer=viewer) if not r.damaged and r.record.get("sweep")
            and (sweep_id is None or r.record["sweep"] == sweep_id)]
    return sorted(runs, key=lambda r: (r["sweep"], r.get("sweep_index", 0), r.get("seed", 0)))


def snapshot_records(snapshot: dict) -> list[dict]:
    """A running sweep's trials (``Sweep.snapshot()``) as records, so the same bands and tables show it live."""
    return [{"kind": snapshot["kind"], "sweep": snapshot["id"], "sweep_config": t["config"], "seed": t["seed"],
             "sweep_index": t["index"], "status": t["status"], "history": t["history"], "metrics": t["metrics"],
             "params": t.get("params", {}),
             "epochs_completed": t["epoch"], "id": t["run_id"]} for t in snapshot["trials"]]


def list_sweeps(store, viewer: str | None = None) -> list[dict]:
    """One entry per stored sweep (that ``viewer`` may see), newest first: id, kind, started, runs, configurations,
    runs per status."""
    sweeps: dict[str, dict] = {}
    for rec in sweep_runs(store, viewer=viewer):
        entry = sweeps.setdefault(rec["sweep"], {"sweep": rec["sweep"], "kind": rec.get("kind"), "started": None,
                                                 "runs": 0, "configs": set(), "status": {}})
        entry["runs"] += 1
        entry["configs"].add(config_label(rec.get("sweep_config", {})))
        entry["status"][rec.get("status")] = entry["status"].get(rec.get("status"), 0) + 1
        started = rec.get("started") or ""
        entry["started"] = min(entry["started"] or started, started)
    out = [{**e, "configs": len(e["configs"])} for e in sweeps.values()]
    return sorted(out, key=lambda e: (e["started"] or "", e["sweep"]), reverse=True)


def group_by_config(records: list[dict]) -> list[dict]:
    """``[{"config", "label", "runs"}]``: the runs of each configuration, configurations in trial order."""
    groups: dict[str, dict] = {}
    for rec in records:
        config = rec.get("sweep_config", {})
        label = config_label(config)
        groups.setdefault(label, {"config": config, "label": label, "runs": []})["runs"].append(rec)
    return list(groups.values())


def _mean_std(values):
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def epoch_bands(records: list[dict], metric: str) -> list[dict]:
    """Per configuration and epoch, the mean and sample std (ddof 1; 0 for one run) of ``metric`` across seeds.

    A run that stopped early counts for the epochs it trained: ``n`` says how many runs each epoch averages.
    """
    bands = []
    for group in group_by_config(records):
        curves = [list(r.get("history", {}).get(metric) or []) for r in group["runs"]]
        curves = [c for c in curves if c]
        if not curves:
            continue
        epochs = max(len(c) for c in curves)
        stats = [_mean_std([c[e] for c in curves if len(c) > e]) for e in range(epochs)]
        bands.append({"config": group["config"], "label": group["label"], "epochs": list(range(1, epochs + 1)),
                      "mean": [m for m, _ in stats], "std": [s for _, s in stats],
                      "n": [sum(len(c) > e for c in curves) for e in range(epochs)]})
    return bands


def final_value(rec: dict, metric: str) -> float | None:
    """A finished run's final ``metric`` as a float; None for a run not done or a missing or non-finite value."""
    value = rec.get("metrics", {}).get(metric)
    if rec.get("status") != "done" or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def confidence_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean; (nan, nan) for fewer than two values."""
    from scipy import stats

    a = np.asarray(values, dtype=float)
    if len(a) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf((1 + confidence) / 2, len(a) - 1) * a.std(ddof=1) / math.sqrt(len(a))
    return float(a.mean() - half), float(a.mean() + half)


def final_summary(records: list[dict], metric: str | None = None, confidence: float = 0.95) -> list[dict]:
    """Per configuration: the final ``metric`` (default: the task's headline) of its finished runs, with n, mean,
    std, a ``confidence`` Student-t interval, and how many runs failed or stopped. Best configuration first."""
    metric = metric or headline_metric(records)
    rows = []
    for group in group_by_config(records):
        values = [v for v in (final_value(r, metric) for r in group["runs"]) if v is not None]
        mean, std = _mean_std(values) if values else (float("nan"), float("nan"))
        low, high = confidence_interval(values, confidence)
        rows.append({"config": group["config"], "label": group["label"], "metric": metric, "values": values,
                     "n": len(values), "mean": mean, "std": std, "ci_low": low, "ci_high": high,
                     "runs": [r.get("id") for r in group["runs"]],
                     "failed": sum(r.get("status") == "failed" for r in group["runs"]),
                     "stopped": sum(r.get("status") == "stopped" for r in group["runs"])})
    sign = -1 if higher_is_better(metric) else 1
    return sorted(rows, key=lambda r: (r["n"] == 0, sign * r["mean"] if r["n"] else 0))


def best_config(records: list[dict], metric: str | None = None) -> dict | None:
    """The varied values of the configuration with the best mean final metric (None without a finished run)."""
    rows = [r for r in final_summary(records, metric) if r["n"]]
    return dict(rows[0]["config"]) if rows else None


def setting_columns(records: list[dict], names: list[str]) -> list[dict]:
    """The swept settings ``names`` of ``records`` as numbers, one column each: ``{"name", "values", "log",
    "categories"}``. Numbers as they are, log10 where the kind's Param is log-scaled (``log``: the values' actual
    numbers are ``10 ** v``); other values (choices, booleans) as the index of ``str(value)`` in the sorted
    ``categories``. The one encoding behind parameter importance and the parallel-coordinates figure."""
    try:
        space = get_task(records[0].get("kind")).space if records else None
    except KeyError:
        space = None
    columns = []
    for name in names:
        values = [r.get("sweep_config", {}).get(name) for r in records]
        param = space[name] if space is not None and name in space.names() else None
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            log = param is not None and param.log and all(v > 0 for v in values)
            columns.append({"name": name, "values": [math.log10(v) if log else float(v) for v in values], "log": log,
                            "categories": None})
        else:
            categories = sorted({str(v) for v in values})
            columns.append({"name": name, "values": [float(categories.index(str(v))) for v in values], "log": False,
                            "categories": categories})
    return columns


def _features(records: list[dict], names: list[str]):
    """Feature matrix (records x settings) of :func:`setting_columns`."""
    return np.asarray([c["values"] for c in setting_columns(records, names)], dtype=float).T


def parameter_importance(records: list[dict], metric: str | None = None, n_repeats: int = 20,
                         seed: int = 0) -> dict:
    """Which varied setting mattered most for the final ``metric``: a random forest (configuration -> metric)
    and its permutation importance over the finished trials. ``{"ranking": [{"name", "importance", "std"}],
    "note": text or None}``, most important first; an empty ranking (with the reason) when it cannot be told."""
    metric = metric or headline_metric(records)
    usable = [r for r in records if final_value(r, metric) is not None]
    names = sorted({k for r in records for k in r.get("sweep_config", {})})
    if not names:
        return {"ranking": [], "note": "no hyper-parameter was varied (only seeds)"}
    if len(usable) < 4:
        return {"ranking": [], "note": f"too few finished trials ({len(usable)}) to tell which setting mattered"}
    y = np.asarray([final_value(r, metric) for r in usable])
    if np.ptp(y) == 0:
        return {"ranking": [{"name": n, "importance": 0.0, "std": 0.0} for n in names],
                "note": f"every finished trial scored the same {metric}"}
    x = _features(usable, names)
    scores = _forest_importance(tuple(map(tuple, x)), tuple(y), n_repeats, seed)
    ranking = sorted(({"name": n, "importance": m, "std": s} for n, (m, s) in zip(names, scores)),
                     key=lambda e: -e["importance"])
    note = f"only {names[0]} was varied" if len(names) == 1 else None
    return {"ranking": ranking, "note": note}


@functools.lru_cache(maxsize=64)
def _forest_importance(x: tuple, y: tuple, n_repeats: int, seed: int) -> tuple[tuple[float, float], ...]:
    """(mean, std) of each column's permutation importance. Memoized: a live sweep's view asks every second with
    the same finished trials, and the fit takes 0.3-0.5 s (200 trees, 20 permutations per setting)."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    x, y = np.asarray(x, dtype=float), np.asarray(y)
    forest = RandomForestRegressor(n_estimators=200, random_state=seed).fit(x, y)
    result = permutation_importance(forest, x, y, n_repeats=n_repeats, random_state=seed)
    return tuple((float(m), float(s)) for m, s in zip(result.importances_mean, result.importances_std))


def most_important(records: list[dict], metric: str | None = None) -> str | None:
    ranking = parameter_importance(records, metric)["ranking"]
    return ranking[0]["name"] if ranking and ranking[0]["importance"] > 0 else None
