"""``python -m core bench ood | attack``: the CNN lessons' bars, measured on a Quick-preset CNN trained for the purpose."""

from __future__ import annotations

import contextlib
import tempfile

from core.mnist.attack import accuracy_vs_epsilon
from core.mnist.data import load_mnist
from core.mnist.ood import N_CALIB, score, stats_for_run
from core.mnist.photos import RENDERINGS, auroc, preprocessed_photos, rendered_once
from core.mnist.task import PRESETS
from core.registry import get_task
from core.store import RunStore

# Lazy import: core.training (TensorFlow and Keras, 5.6 s to import) inside _quick_cnn, so that `python -m core
# --help` does not load it.


@contextlib.contextmanager
def _quick_cnn(train_size: int | None = None):
    """A Quick-preset CNN (20,000 images x 3 epochs) trained now, in a temporary runs folder removed when the bench
    ends: yields (store, run id, model).

    ``train_size`` (``--images``) trains on fewer images: a quick check that the bench runs, not its figures."""
    from core.training import run_training

    with tempfile.TemporaryDirectory(prefix="bench-cnn-lessons-") as folder:
        store = RunStore(folder)
        params = dict(PRESETS["Quick: 20,000 images × 3 epochs"])
        if train_size:
            params["train_size"] = train_size
        result = run_training(get_task("cnn"), params, store=store)
        yield store, result.run_id, result.model


def bench_ood(n_images: int | None = None) -> dict:
    """Out-of-distribution score on a Quick-preset CNN: scikit-image photos flagged; MNIST test digits flagged in each
    way real digits reach the network (uploaded, drawn, stored; 2,000 test digits not calibrated on); AUROC."""
    with _quick_cnn(n_images) as (store, run_id, model):
        stats = stats_for_run(store, run_id, model)
    held_out = load_mnist().x_test[N_CALIB:N_CALIB + 2000]
    _, photos = preprocessed_photos()
    photo = score(model, stats, photos)
    digits = {how: score(model, stats, rendered_once(held_out, how)) for how in RENDERINGS}
    figures = {"photos": len(photos), "photos_flagged": float(photo["not_a_digit"].mean()),
               **{f"test_digits_flagged_{how}": float(d["not_a_digit"].mean()) for how, d in digits.items()},
               **{f"auroc_{how}": auroc(d["score"], photo["score"]) for how, d in digits.items()}}
    print(f"scikit-image photos flagged: {figures['photos_flagged']:.1%} of {len(photos)} (whole and cropped)")
    print("MNIST test digits flagged (2,000 not calibrated on): " +
          ", ".join(f"{figures[f'test_digits_flagged_{how}']:.2%} {how}" for how in RENDERINGS))
    print("AUROC photos vs digits: " + ", ".join(f"{figures[f'auroc_{how}']:.3f} {how}" for how in RENDERINGS))
    return figures


def bench_attack(n_images: int | None = None) -> dict:
    """FGSM on a Quick-preset CNN: test accuracy (500 digits) against epsilon; the bar is < 50% at 0.1."""
    data, n = load_mnist(), 500
    with _quick_cnn(n_images) as (_, _, model):
        rows = accuracy_vs_epsilon(model, data.x_test[:n] / 255.0, data.y_test[:n])
    for row in rows:
        print(f"  eps {row['epsilon']:.2f}: accuracy {row['accuracy']:.1%}")
    return {"test_digits": n, "curve": rows, "accuracy_at_0.1": next(r["accuracy"] for r in rows if r["epsilon"] == 0.1)}
