"""``python -m core bench ood | attack``: the CNN lessons' bars, measured on a Quick-preset CNN trained for the purpose."""

from __future__ import annotations


def _quick_cnn(train_size: int | None = None):
    """A Quick-preset CNN (20,000 images x 3 epochs) trained now, in a temporary runs folder: (store, run id, model).

    ``train_size`` (``--images``) trains on fewer images: a quick check that the bench runs, not its figures."""
    import tempfile

    from core.mnist.task import PRESETS
    from core.registry import get_task
    from core.store import RunStore
    from core.training import run_training

    store = RunStore(tempfile.mkdtemp(prefix="bench-cnn-lessons-"))
    params = dict(PRESETS["Quick: 20,000 images × 3 epochs"])
    if train_size:
        params["train_size"] = train_size
    result = run_training(get_task("cnn"), params, store=store)
    return store, result.run_id, result.model


def bench_ood(n_images: int | None = None) -> dict:
    """Out-of-distribution score on a Quick-preset CNN: scikit-image photos and MNIST test digits flagged, AUROC."""
    from core.mnist.data import load_mnist
    from core.mnist.ood import score, stats_for_run
    from core.mnist.photos import as_uploaded, auroc, preprocessed_photos

    store, run_id, model = _quick_cnn(n_images)
    stats = stats_for_run(store, run_id, model)
    data = load_mnist()
    _, photos = preprocessed_photos()
    photo = score(model, stats, photos)
    uploaded = score(model, stats, as_uploaded(data.x_test[1:4000:2]))  # not calibrated on
    raw = score(model, stats, data.x_test / 255.0)
    figures = {"photos": len(photos), "photos_flagged": float(photo["not_a_digit"].mean()),
               "test_digits_flagged_as_uploaded": float(uploaded["not_a_digit"].mean()),
               "test_digits_flagged_raw": float(raw["not_a_digit"].mean()),
               "auroc": auroc(uploaded["score"], photo["score"]), "auroc_raw": auroc(raw["score"], photo["score"])}
    print(f"scikit-image photos flagged: {figures['photos_flagged']:.1%} of {len(photos)}")
    print(f"MNIST test digits flagged: {figures['test_digits_flagged_as_uploaded']:.2%} as uploaded, "
          f"{figures['test_digits_flagged_raw']:.2%} as stored")
    print(f"AUROC photos vs digits: {figures['auroc']:.3f} (as uploaded), {figures['auroc_raw']:.3f} (as stored)")
    return figures


def bench_attack(n_images: int | None = None) -> dict:
    """FGSM on a Quick-preset CNN: test accuracy (500 digits) against epsilon; the bar is < 50% at 0.1."""
    from core.mnist.attack import accuracy_vs_epsilon
    from core.mnist.data import load_mnist

    _, _, model = _quick_cnn(n_images)
    data = load_mnist()
    n = 500
    rows = accuracy_vs_epsilon(model, data.x_test[:n] / 255.0, data.y_test[:n])
    for row in rows:
        print(f"  eps {row['epsilon']:.2f}: accuracy {row['accuracy']:.1%}")
    return {"test_digits": n, "curve": rows, "accuracy_at_0.1": next(r["accuracy"] for r in rows if r["epsilon"] == 0.1)}
