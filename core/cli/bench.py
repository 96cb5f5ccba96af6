"""``python -m core bench cnn|cvae|iris``: throughput against the portfolio's baseline, measured in the same run.

Figures are ratios against a baseline measured a moment earlier on the same machine, so they hold
whatever else the machine is doing; absolute numbers are printed alongside.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.cli.bench_class import bench_class
from core.cli.bench_cnn import bench_cnn
from core.cli.bench_cvae import bench_cvae
from core.cli.bench_lessons import bench_attack, bench_ood
from core.cli.bench_workers import bench_workers
from core.iris.model import build_model
from core.mnist.cnn import build_cnn
from core.registry import get_task
from core.store import RunStore
from core.sweep import Sweep, SweepSpec, connect

# Lazy imports: TensorFlow and Keras (5.6 s to import) and core.training (imports both) inside the benches, so that
# `python -m core --help` (0.3 s) does not load them.


def bench_iris(n_images: int | None = None) -> dict:
    """Seconds and test accuracy of one Iris training at the portfolio's settings."""
    from core.training import run_training

    start = time.perf_counter()
    result = run_training(get_task("iris"), {})
    seconds = time.perf_counter() - start
    figures = {"seconds": seconds, "test_accuracy": result.metrics.get("test_accuracy")}
    print(f"Iris, portfolio settings: {seconds:.2f} s, test accuracy {figures['test_accuracy']:.3f}")
    return figures


def bench_rerun(n_images: int | None = None, repeats: int = 10) -> dict:
    """What Streamlit does after every script run once Keras is loaded, with and without the app's fixes.

    Streamlit calls ``gc.collect(2)`` (``runner.postScriptGC``) and ``keras.backend.clear_session()``
    (default ``free_memory=True``, another ``gc.collect()``). The app disables the first in
    ``.streamlit/config.toml`` and turns the second off in its server (see ``ui.session.ensure_tf``).
    """
    import keras

    models = [build_model(), build_cnn()]  # a realistic heap: TensorFlow, Keras and two models loaded

    def timed(fn) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    before = timed(lambda: (gc.collect(2), keras.backend.clear_session()))
    after = timed(lambda: None)  # what is left of the cleanup in the app
    figures = {"streamlit_default_ms": before, "with_fixes_ms": after, "ratio": before / max(after, 1e-6),
               "models": len(models)}
    print(f"after-run cleanup, Streamlit defaults (gc.collect + clear_session()): {before:7.1f} ms")
    print(f"after-run cleanup, with the app's fixes (no gc, no clear_session): {after:7.1f} ms")
    print(f"  saves {before - after:.0f} ms per rerun")
    return figures


def bench_sweep(n_images: int | None = None, trials: int = 8, epochs: int | None = None) -> dict:
    """Wall seconds of 8 Iris trials on a local Ray with concurrency 1 vs 2 (ratio; bar >= 1.5x).

    4 learning rates x 2 seeds, 40 epochs each (the portfolio's other settings), one CPU per trial, measured one
    after the other in one process once Ray has started. Each sweep starts its own workers (TensorFlow's import,
    several seconds, counts in both); trials long enough that the training, which runs in parallel, dominates.
    ``n_images`` (``--images``): training examples per trial instead, 2,400 per epoch; ``trials`` (``--trials``):
    fewer learning rates (a quick check).
    """
    epochs = epochs or (max(1, round(n_images / 2400)) if n_images else 40)
    connect.ensure_ray("local")  # this machine, whatever $RAY_ADDRESS says
    spec_args = dict(base={"epochs": epochs}, vary={"learning_rate": [1e-3, 3e-3, 1e-2, 3e-2][: max(1, trials // 2)]},
                     seeds=2, address="local")
    seconds, done = {}, {}
    try:
        for concurrency in (1, 2):
            with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
                sweep = Sweep(SweepSpec("iris", concurrency=concurrency, **spec_args), RunStore(tmp))
                start = time.perf_counter()
                sweep.start().wait()
                seconds[concurrency] = time.perf_counter() - start
                snap = sweep.snapshot()
                done[concurrency] = snap["counts"]["done"]
            print(f"  concurrency {concurrency}: {len(snap['trials'])} trials, {snap['counts']['done']} done, "
                  f"{seconds[concurrency]:.1f} s", flush=True)
            for trial in (t for t in snap["trials"] if t["status"] != "done"):  # what went wrong, said
                print(f"    trial {trial['status']}: {trial['error'] or snap.get('error')}", flush=True)
    finally:
        connect.shutdown()
    figures = {"trials": len(snap["trials"]), "epochs": epochs, "concurrency_1_s": seconds[1],
               "concurrency_2_s": seconds[2], "ratio": seconds[1] / seconds[2], "done": [done[1], done[2]]}
    print(f"Iris sweep of {figures['trials']} trials: concurrency 1 {seconds[1]:.1f} s, concurrency 2 "
          f"{seconds[2]:.1f} s, ratio {figures['ratio']:.2f}x")
    return figures


def bench_memory(n_images: int | None = None) -> dict:
    """Resident-memory growth over 50 small Iris trainings (``--images``: how many) with the traced graphs freed, and
    the baseline (``free_graphs=False``, the old leak) over 10; each side in a fresh process, 3 warm-up trainings
    (:func:`core.training.memory_growth`). Bar: < 50 MB over 50."""
    n, figures = n_images or 50, {}
    for side, free, count in (("baseline", False, min(n, 10)), ("fixed", True, n)):
        code = f"import json, core.training as t; print(json.dumps(t.memory_growth({count}, free_graphs={free})))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[1]).stdout
        f = figures[side] = json.loads(out.strip().splitlines()[-1])
        print(f"{side} ({'graphs freed' if free else 'graphs kept'}): {f['growth_mb']:+.1f} MB over {count} trainings, "
              f"{f['per_training_mb']:+.2f} MB each (extrapolated to {n}: {f['per_training_mb'] * n:.0f} MB), "
              f"{f['seconds_per_training']:.2f} s each", flush=True)
    return figures


BENCHES = {
    "attack": bench_attack, "ood": bench_ood,  # core/cli/bench_lessons.py
    "cvae": bench_cvae,  # core/cli/bench_cvae.py
    "class": bench_class,  # core/cli/bench_class.py
    "cnn": bench_cnn, "iris": bench_iris,
    "memory": bench_memory, "rerun": bench_rerun, "sweep": bench_sweep,
    "workers": bench_workers,  # core/cli/bench_workers.py
}
"""What ``python -m core bench NAME`` measures: the CLI offers exactly these names."""


REPEATED = ("cnn", "cvae", "workers")
"""The benches that measure each side several times, interleaved, and keep the best (``--repeats``, default 3)."""


def run_bench(kind: str, n_images: int | None = None, repeats: int | None = None, trials: int | None = None) -> dict:
    options = {k: v for k, v in (("repeats", repeats), ("trials", trials)) if v is not None}
    return BENCHES[kind](n_images, **options)
