"""``python -m core bench cnn|cvae|iris``: throughput against the portfolio's baseline, measured in the same run.

Figures are ratios against a baseline measured a moment earlier on the same machine, so they hold
whatever else the machine is doing; absolute numbers are printed alongside.
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def _timed_fit(model, dataset, steps: int) -> float:
    """Seconds for ``steps`` training steps, after one warm-up step (tracing) is excluded."""
    model.fit(dataset.take(1), epochs=1, verbose=0, shuffle=False)
    start = time.perf_counter()
    model.fit(dataset.take(steps), epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


def bench_cnn(n_images: int | None = None, batch_size: int = 128, repeats: int = 3) -> dict:
    """Images/s of the portfolio's input pipeline + fp32 model vs the project's pipeline + model."""
    import tensorflow as tf

    from core.mnist.cnn import build_cnn, predict_digits, resolve_precision
    from core.mnist.data import load_mnist, make_datasets, portfolio_pipeline

    n_images = n_images or 19200
    steps = max(1, n_images // batch_size)
    data = load_mnist()
    x, y = data.x_train[: steps * batch_size * 2], data.y_train[: steps * batch_size * 2]

    baseline_ds = portfolio_pipeline(x, y, batch_size=batch_size).repeat()
    project_ds, _, _ = make_datasets(data, train_size=len(x), batch_size=batch_size)
    project_ds = project_ds.repeat()
    fast = resolve_precision("auto")
    models = {"portfolio": (build_cnn(precision="float32"), baseline_ds),
              "float32": (build_cnn(precision="float32"), project_ds),
              fast: (build_cnn(precision=fast), project_ds)}
    speeds = {name: [] for name in models}
    for _ in range(repeats):  # interleaved, so that drift in machine load hits all alike
        for name, (model, ds) in models.items():
            speeds[name].append(steps * batch_size / _timed_fit(model, ds, steps))
    best = {name: max(v) for name, v in speeds.items()}
    project_model = models[fast][0]

    # One canvas prediction: preprocessing of a 280x280 drawing plus a forward pass.
    from core.mnist.preprocess import preprocess_digit

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
        "portfolio_images_per_s": best["portfolio"],
        "project_float32_images_per_s": best["float32"],
        "project_fast_images_per_s": best[fast],
        "fast_precision": fast,
        "ratio_float32": best["float32"] / best["portfolio"],
        "ratio_fast": best[fast] / best["portfolio"],
        "canvas_prediction_ms_median": statistics.median(latencies[10:]),
        "tensorflow": tf.__version__,
    }
    print(f"CNN training throughput over {figures['images_per_measurement']} images (best of {repeats}):")
    print(f"  portfolio pipeline (per-example map, shuffle(1000), no prefetch), float32: "
          f"{best['portfolio']:7.0f} img/s")
    print(f"  project pipeline (normalised once, cached, prefetched), float32:            "
          f"{best['float32']:7.0f} img/s  ratio {figures['ratio_float32']:.2f}x")
    if fast != "float32":
        print(f"  project pipeline, {fast} (the Quick preset):                  "
              f"{best[fast]:7.0f} img/s  ratio {figures['ratio_fast']:.2f}x")
    print(f"canvas prediction (preprocess + forward pass), median: {figures['canvas_prediction_ms_median']:.1f} ms")
    return figures


def bench_iris(n_images: int | None = None) -> dict:
    from core.registry import get_task
    from core.training import run_training

    start = time.perf_counter()
    result = run_training(get_task("iris"), {})
    seconds = time.perf_counter() - start
    figures = {"seconds": seconds, "test_accuracy": result.metrics.get("test_accuracy")}
    print(f"Iris, portfolio settings: {seconds:.2f} s, test accuracy {figures['test_accuracy']:.3f}")
    return figures


def bench_cvae(n_images: int | None = None) -> dict:
    from core.cvae.model import bench_cvae as run
    from core.mnist.data import load_mnist

    data = load_mnist()
    figures = run(data.x_train, n_images=n_images or 3200)
    for name, value in figures.items():
        print(f"  {name}: {value:.4g}" if isinstance(value, float) else f"  {name}: {value}")
    return figures


def bench_rerun(n_images: int | None = None, repeats: int = 10) -> dict:
    """What Streamlit does after every script run once Keras is loaded, with and without the app's fixes.

    Streamlit calls ``gc.collect(2)`` (``runner.postScriptGC``) and ``keras.backend.clear_session()``
    (default ``free_memory=True``, another ``gc.collect()``). The app disables the first in
    ``.streamlit/config.toml`` and calls the second with ``free_memory=False``.
    """
    import gc

    import keras

    from core.iris.model import build_model
    from core.mnist.cnn import build_cnn

    models = [build_model(), build_cnn()]  # a realistic heap: TensorFlow, Keras and two models loaded

    def timed(fn) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    before = timed(lambda: (gc.collect(2), keras.backend.clear_session()))
    after = timed(lambda: keras.backend.clear_session(free_memory=False))
    figures = {"streamlit_default_ms": before, "with_fixes_ms": after, "ratio": before / max(after, 1e-6),
               "models": len(models)}
    print(f"after-run cleanup, Streamlit defaults (gc.collect + clear_session()): {before:7.1f} ms")
    print(f"after-run cleanup, with the app's fixes (clear_session(free_memory=False)): {after:7.1f} ms")
    print(f"  saves {before - after:.0f} ms per rerun")
    return figures


def run_bench(kind: str, n_images: int | None = None) -> dict:
    return {"cnn": bench_cnn, "iris": bench_iris, "cvae": bench_cvae, "rerun": bench_rerun}[kind](n_images)
