"""``python -m core bench cnn``: the CNN's training throughput as the app trains it (every batch's loss recorded)
against the portfolio's pipeline, in this process and as the portfolio ran; the roofline per repeat; and the
latency of one canvas prediction."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from core import PROJECT_ROOT
from core.mnist.cnn import build_cnn, predict_digits, resolve_precision
from core.mnist.data import load_mnist, make_datasets, portfolio_pipeline
from core.mnist.preprocess import preprocess_digit
from core.progress import Progress
from core.registry import get_task
from core.roofline import matmul_peaks, onednn_enabled, print_roofline, roofline

BATCH_SIZE = get_task("cnn").space["batch_size"].default  # the CNN page's batch size (128)
BENCH_IMAGES = 19200  # images per measurement by default: 150 batches

# Lazy imports: TensorFlow (5.6 s to import) inside bench_cnn, core.callbacks and core.step_losses (Keras and
# TensorFlow) inside AppTraining, so that `python -m core --help` does not load them.


def _timed_fit(model, dataset, steps: int, callbacks=()) -> float:
    """Seconds for ``steps`` training steps, after one warm-up call (tracing) is excluded."""
    model.fit(dataset.take(1), epochs=1, verbose=0, shuffle=False)
    start = time.perf_counter()
    model.fit(dataset.take(steps), epochs=1, verbose=0, shuffle=False, callbacks=list(callbacks))
    return time.perf_counter() - start


def _images_per_s(model, dataset, steps: int, batch_size: int) -> float:
    return steps * batch_size / _timed_fit(model, dataset, steps)


class AppTraining:
    """A project model measured as the app trains it: the CNN task's steps per call (core.step_losses) and the
    progress callback recording every batch's loss. ``images_per_s`` checks that the curve has one point per batch."""

    def __init__(self, model):
        from core.callbacks import ProgressCallback
        from core.step_losses import StepLosses

        self.model, self.k = model, get_task("cnn").steps_per_execution
        self.step_losses = StepLosses.for_model(model, self.k)
        self.progress = Progress(epochs=1)
        self.callback = ProgressCallback(self.progress, threading.Event(), None, step_losses=self.step_losses)

    def images_per_s(self, dataset, steps: int, batch_size: int) -> float:
        before = self.progress.counts()[0]
        seconds = _timed_fit(self.model, dataset, steps, callbacks=(self.callback,))
        recorded = self.progress.counts()[0] - before
        if recorded != steps:
            raise RuntimeError(f"the per-batch curve has {recorded} points for {steps} batches")
        return steps * batch_size / seconds


def cnn_bench_data(rows: int):
    data = load_mnist()
    return data, data.x_train[:rows], data.y_train[:rows]


def portfolio_child() -> None:
    """The child of :class:`_PortfolioAsItRan`: ``python -c ... rows batch_size steps``; one line in, one figure out."""
    rows, batch_size, steps = (int(a) for a in sys.argv[1:4])
    _, x, y = cnn_bench_data(rows)
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
            [sys.executable, "-c", "from core.cli.bench_cnn import portfolio_child; portfolio_child()",
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


def bench_cnn(n_images: int | None = None, batch_size: int = BATCH_SIZE, repeats: int = 3) -> dict:
    """Images/s of the portfolio's input pipeline + fp32 model vs the project's pipeline + model.

    The portfolio is measured twice: as it ran (a child process with TensorFlow's default kernels for this CPU)
    and in this process (the project's kernel choice), so the ratio splits into the kernels' part and the
    pipeline's part.
    """
    import tensorflow as tf

    n_images = n_images or BENCH_IMAGES
    steps = max(1, n_images // batch_size)
    rows = steps * batch_size * 2
    data, x, y = cnn_bench_data(rows)

    baseline_ds = portfolio_pipeline(x, y, batch_size=batch_size).repeat()
    project_ds, _, _ = make_datasets(data, train_size=len(x), batch_size=batch_size)
    project_ds = project_ds.repeat()
    fast = resolve_precision("auto")
    models = {"portfolio": (build_cnn(precision="float32"), baseline_ds),
              "float32": (AppTraining(build_cnn(precision="float32")), project_ds),
              fast: (AppTraining(build_cnn(precision=fast)), project_ds)}
    as_it_ran = _PortfolioAsItRan(rows, batch_size, steps)  # after the models: an error there leaves no child
    speeds = {name: [] for name in ["as_it_ran", *models]}
    peaks = None
    try:
        for _ in range(repeats):  # interleaved, so that drift in machine load hits all alike
            peaks = matmul_peaks(before=peaks)  # the roofline too: the best rate seen over the whole run
            speeds["as_it_ran"].append(as_it_ran.images_per_s())
            for name, (model, ds) in models.items():
                speeds[name].append(model.images_per_s(ds, steps, batch_size) if name != "portfolio"
                                    else _images_per_s(model, ds, steps, batch_size))
    finally:
        as_it_ran.close()
    best = {name: max(v) for name, v in speeds.items()}
    project_model = models[fast][0].model

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
        "steps_per_execution": models[fast][0].k,
    }
    # each repeat's share of the roofline (the same FLOPs per image, the same best matmul rate), and their spread
    figures["roofline_fraction_per_repeat"] = [figures["roofline_fraction"] * v / best[fast] for v in speeds[fast]]
    figures["spread_fast"] = max(speeds[fast]) / min(speeds[fast])
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
    print_roofline(figures, f"the project pipeline in {fast}, {figures['steps_per_execution']} steps per call, every "
                            "batch's loss recorded")
    print("  each repeat: " + ", ".join(f"{f:.0%}" for f in figures["roofline_fraction_per_repeat"]) +
          f" of the roofline (spread {figures['spread_fast']:.2f}x: fastest / slowest repeat)")
    print(f"canvas prediction (preprocess + forward pass), median: {figures['canvas_prediction_ms_median']:.1f} ms")
    return figures
