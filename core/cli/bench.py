"""``python -m core bench cnn|cvae|iris``: throughput against the portfolio's baseline, measured in the same run.

Figures are ratios against a baseline measured a moment earlier on the same machine, so they hold
whatever else the machine is doing; absolute numbers are printed alongside.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from core import PROJECT_ROOT
from core.cli.bench_class import bench_class
from core.cli.bench_cvae import bench_cvae
from core.cli.bench_lessons import bench_attack, bench_ood
from core.iris.model import build_model
from core.mnist.cnn import build_cnn, predict_digits, resolve_precision
from core.mnist.data import load_mnist, make_datasets, portfolio_pipeline
from core.mnist.preprocess import preprocess_digit
from core.registry import get_task
from core.roofline import matmul_peaks, onednn_enabled, print_roofline, roofline
from core.store import RunStore
from core.sweep import Sweep, SweepSpec, connect

# Lazy imports: TensorFlow and Keras (5.6 s to import) and core.training (imports both) inside the benches, so that
# `python -m core --help` (0.3 s) does not load them.


def _timed_fit(model, dataset, steps: int) -> float:
    """Seconds for ``steps`` training steps, after one warm-up step (tracing) is excluded."""
    model.fit(dataset.take(1), epochs=1, verbose=0, shuffle=False)
    start = time.perf_counter()
    model.fit(dataset.take(steps), epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


def _images_per_s(model, dataset, steps: int, batch_size: int) -> float:
    return steps * batch_size / _timed_fit(model, dataset, steps)


def _cnn_bench_data(rows: int):
    data = load_mnist()
    return data, data.x_train[:rows], data.y_train[:rows]


def portfolio_child() -> None:
    """The child of :class:`_PortfolioAsItRan`: ``python -c ... rows batch_size steps``; one line in, one figure out."""
    rows, batch_size, steps = (int(a) for a in sys.argv[1:4])
    _, x, y = _cnn_bench_data(rows)
    model, ds = build_cnn(precision="float32"), portfolio_pipeline(x, y, batch_size=batch_size).repeat()
    print(json.dumps({"onednn": onednn_enabled()}), flush=True)
    for _ in sys.stdin:
        print(_images_per_s(model, ds, steps, batch_size), flush=True)


class _PortfolioAsItRan:
    """The portfolio's pipeline and fp32 model in a child process whose TensorFlow keeps its own defaults for this
    CPU (its oneDNN kernels only where TensorFlow picks them itself), as the portfolio's notebook ran: the project
    process has them on (``core/__init__.py``), and the setting holds for a whole process."""

    def __init__(self, rows: int, batch_size: int, steps: int):
        env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
        env["NN_PLAYGROUND_TF_DEFAULTS"] = "1"
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in close())
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from core.cli.bench import portfolio_child; portfolio_child()",
             str(rows), str(batch_size), str(steps)],
            cwd=PROJECT_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)
        self.onednn = json.loads(self._line())["onednn"]

    def _line(self) -> str:
        line = self._proc.stdout.readline()
        if not line:
            self._log.seek(0)
            raise RuntimeError("the baseline process ended early:\n" + self._log.read()[-2000:])
        return line

    def images_per_s(self) -> float:
        self._proc.stdin.write("go\n")
        self._proc.stdin.flush()
        return float(self._line())

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait(timeout=60)
        self._log.close()


def bench_cnn(n_images: int | None = None, batch_size: int = 128, repeats: int = 3) -> dict:
    """Images/s of the portfolio's input pipeline + fp32 model vs the project's pipeline + model.

    The portfolio is measured twice: as it ran (a child process with TensorFlow's default kernels for this CPU)
    and in this process (the project's kernel choice), so the ratio splits into the kernels' part and the
    pipeline's part.
    """
    import tensorflow as tf

    n_images = n_images or 19200
    steps = max(1, n_images // batch_size)
    rows = steps * batch_size * 2
    data, x, y = _cnn_bench_data(rows)

    baseline_ds = portfolio_pipeline(x, y, batch_size=batch_size).repeat()
    project_ds, _, _ = make_datasets(data, train_size=len(x), batch_size=batch_size)
    project_ds = project_ds.repeat()
    fast = resolve_precision("auto")
    models = {"portfolio": (build_cnn(precision="float32"), baseline_ds),
              "float32": (build_cnn(precision="float32"), project_ds),
              fast: (build_cnn(precision=fast), project_ds)}
    as_it_ran = _PortfolioAsItRan(rows, batch_size, steps)  # after the models: an error there leaves no child
    speeds = {name: [] for name in ["as_it_ran", *models]}
    peaks = None
    try:
        for _ in range(repeats):  # interleaved, so that drift in machine load hits all alike
            peaks = matmul_peaks(before=peaks)  # the roofline too: the best rate seen over the whole run
            speeds["as_it_ran"].append(as_it_ran.images_per_s())
            for name, (model, ds) in models.items():
                speeds[name].append(_images_per_s(model, ds, steps, batch_size))
    finally:
        as_it_ran.close()
    best = {name: max(v) for name, v in speeds.items()}
    project_model = models[fast][0]

    # One canvas prediction: preprocessing of a 280x280 drawing plus a forward pass.
    canvas = np.zeros((280, 280, 4), dtype="uint8")
    canvas[60:220, 130:150, :] = 255
    latencies = []
    for _ in range(60):
        start = time.perf_counter()
        prep = preprocess_digit(canvas)
        predict_digits(project_model, prep.image)
        latencies.append((time.perf_counter() - start) * 1000)
    figures = {
        "images_per_measurement": steps * batch_size,
        "portfolio_as_it_ran_images_per_s": best["as_it_ran"],
        "portfolio_as_it_ran_onednn": as_it_ran.onednn,
        "portfolio_images_per_s": best["portfolio"],
        "project_float32_images_per_s": best["float32"],
        "project_fast_images_per_s": best[fast],
        "project_onednn": onednn_enabled(),
        "fast_precision": fast,
        "ratio_float32": best["float32"] / best["as_it_ran"],
        "ratio_fast": best[fast] / best["as_it_ran"],
        "ratio_kernels": best["portfolio"] / best["as_it_ran"],
        "ratio_pipeline": best["float32"] / best["portfolio"],
        "all_measurements": speeds,
        "canvas_prediction_ms_median": statistics.median(latencies[10:]),
        "tensorflow": tf.__version__,
        **roofline(project_model, best[fast], peaks=peaks),
    }
    on_off = {True: "oneDNN kernels", False: "Eigen kernels"}
    print(f"CNN training throughput over {figures['images_per_measurement']} images (best of {repeats}):")
    print(f"  portfolio as it ran (per-example map, shuffle(1000), no prefetch; TensorFlow's default kernels here: "
          f"{on_off[as_it_ran.onednn]}), float32: {best['as_it_ran']:7.0f} img/s")
    print(f"  portfolio pipeline with the project's kernels ({on_off[figures['project_onednn']]}), float32: "
          f"{best['portfolio']:7.0f} img/s  ratio {figures['ratio_kernels']:.2f}x")
    print(f"  project pipeline (normalised once, cached, prefetched), float32: "
          f"{best['float32']:7.0f} img/s  ratio {figures['ratio_float32']:.2f}x "
          f"({figures['ratio_pipeline']:.2f}x of that from the pipeline)")
    if fast != "float32":
        print(f"  project pipeline, {fast} (the Quick preset): "
              f"{best[fast]:7.0f} img/s  ratio {figures['ratio_fast']:.2f}x")
    print_roofline(figures, f"the project pipeline in {fast}")
    print(f"canvas prediction (preprocess + forward pass), median: {figures['canvas_prediction_ms_median']:.1f} ms")
    return figures


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
}
"""What ``python -m core bench NAME`` measures: the CLI offers exactly these names."""


REPEATED = ("cnn", "cvae")
"""The benches that measure each side several times, interleaved, and keep the best (``--repeats``, default 3)."""


def run_bench(kind: str, n_images: int | None = None, repeats: int | None = None, trials: int | None = None) -> dict:
    options = {k: v for k, v in (("repeats", repeats), ("trials", trials)) if v is not None}
    return BENCHES[kind](n_images, **options)
