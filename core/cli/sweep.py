"""``python -m core sweep KIND --vary NAME=V1,V2 [--vary NAME=LO..HI] --seeds N ...``: a sweep from the shell.

One line per trial event while it runs, then a table of configurations (mean ± std and a 95% confidence interval
of the kind's headline metric) and the setting that mattered most. Bad input (an unknown or out-of-range value, an
empty space, too many trials, an unreachable Ray address): one ``error:`` line, status 2, nothing started.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

from core.executor import Executor
from core.params import ParamError
from core.registry import get_task, kinds
from core.scheduler import Limits
from core.store import RunNotFound
from core.sweep import connect
from core.sweep.runner import Sweep
from core.sweep.spec import MAX_TRIALS, SweepError, SweepSpec, parse_vary
from core.sweep.stats import final_summary, parameter_importance, sweep_runs


def add_parser(sub) -> None:
    """The ``sweep`` sub-command, one sub-parser per model kind with its hyper-parameter flags as the base."""
    sweep = sub.add_parser("sweep", help="train many runs on Ray Tune: a grid or random ranges, seed replicates")
    sweep_kinds = sweep.add_subparsers(dest="kind", required=True)
    for kind in kinds():
        p = sweep_kinds.add_parser(kind, help=f"sweep the {get_task(kind).title}; the other flags set the base")
        p.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2|NAME=LO..HI",
                       help="values to try (a grid) or a range to sample (log-uniform for log-scaled settings); "
                            "repeatable")
        p.add_argument("--seeds", type=int, default=1, help="runs per configuration, seeds SEED, SEED+1, ...")
        p.add_argument("--samples", type=int, default=None, help="random configurations drawn from the ranges")
        p.add_argument("--early-stop", action="store_true", help="stop hopeless trials early (ASHA on val_loss)")
        p.add_argument("--concurrency", type=int, default=None, help="at most this many trials at once")
        p.add_argument("--address", default=None,
                       help="a Ray cluster HOST:PORT (default $RAY_ADDRESS, else a local Ray with this machine's CPUs)")
        p.add_argument("--max-trials", type=int, default=MAX_TRIALS, help=f"refuse larger sweeps (default {MAX_TRIALS})")
        p.add_argument("--json", action="store_true", help="print the result as JSON (progress lines go to stderr)")
        get_task(kind).space.add_flags(p)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _spec(args, store):
    """The validated sweep, or a message for the user."""
    task = get_task(args.kind)
    base, problems = task.space.from_flags(args)
    if problems:
        return None, "; ".join(problems)
    try:
        spec = SweepSpec(args.kind, base=base, vary=parse_vary(task.space, args.vary, args.kind), samples=args.samples,
                         seeds=args.seeds, early_stop=args.early_stop, concurrency=args.concurrency,
                         address=args.address, max_trials=args.max_trials)
        for config in {json.dumps(t.config, sort_keys=True) for t in spec.trials()}:
            task.check_ready({**spec.base, **json.loads(config)}, store)
    except (ParamError, SweepError, RunNotFound, ValueError) as err:
        return None, str(err)
    return spec, None


def _fmt(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4f}"


def print_summary(records: list[dict], out=sys.stdout) -> dict:
    """The table of configurations and the most important setting; returns them for ``--json``."""
    rows = final_summary(records)
    importance = parameter_importance(records)
    if not rows:
        print("no runs stored", file=out)
        return {"summary": rows, "importance": importance}
    metric = rows[0]["metric"]
    width = max(len("configuration"), *(len(r["label"]) for r in rows))
    print(f"\n{'configuration':{width}s}  {'n':>2s}  {metric + ' mean ± std':>26s}  {'95% CI':>19s}  other", file=out)
    for r in rows:
        other = ", ".join(f"{r[k]} {k}" for k in ("failed", "stopped") if r[k])
        std = _fmt(r["std"]) if r["n"] > 1 else "-"
        print(f"{r['label']:{width}s}  {r['n']:2d}  {_fmt(r['mean']):>16s} ± {std:7s}  "
              f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]  {other}", file=out)
    ranking = importance["ranking"]
    if ranking and ranking[0]["importance"] > 0:
        shares = ", ".join(f"{e['name']} {e['importance']:.3f}" for e in ranking)
        print(f"mattered most: {ranking[0]['name']} (permutation importance: {shares})", file=out)
    elif importance["note"]:
        print(f"which setting mattered: {importance['note']}", file=out)
    return {"summary": rows, "importance": importance}


def main(args, store) -> int:
    spec, problem = _spec(args, store)
    if problem:
        return _fail(problem)
    try:
        address = connect.ensure_ray(spec.address)
    except SweepError as err:
        return _fail(str(err))
    out = sys.stderr if args.json else sys.stdout
    n = spec.count()
    where = f"the Ray cluster at {address}" if address else "a local Ray"
    print(f"sweep of the {spec.task.title}: {n} trials ({n // spec.seeds} configurations x {spec.seeds} seeds) on "
          f"{where} with {connect.cluster_cpus()} CPUs", file=out, flush=True)
    # The trials take turns in an executor's queue, as the server's do (one code path, local or on the cluster): all
    # of this machine's CPUs locally (no web server here), the cluster's on a cluster. No jobs file: not a server.
    executor = Executor(address=address or "local", limits=Limits(cpus=os.cpu_count() or 1), jobs_file=False)
    sweep = Sweep(spec, store, executor=executor, on_event=lambda line: print(line, file=out, flush=True))
    try:
        sweep.start()
        while not sweep.wait(0.5):
            pass
    except KeyboardInterrupt:
        print("interrupted: stopping the sweep, keeping the finished trials", file=sys.stderr, flush=True)
        sweep.stop()
        sweep.wait()
        return 130
    finally:
        connect.shutdown()
    snap = sweep.snapshot()
    result = print_summary(sweep_runs(store, sweep.id), out=out)
    if args.json:
        trials = [{k: v for k, v in t.items() if k != "history"} for t in snap["trials"]]
        print(json.dumps({"sweep": sweep.id, "status": snap["status"], "error": snap["error"],
                          "counts": snap["counts"], "elapsed": round(time.time() - snap["started"], 3),
                          "trials": trials, **result}, default=str))
    if snap["error"]:
        print(f"error: {snap['error']}", file=sys.stderr)
    return 0 if snap["status"] != "failed" and snap["counts"]["done"] else 1
