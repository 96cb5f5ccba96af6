"""Correct it and retrain: a personal set of digits and the cnn_finetune kind (core/mnist/finetune.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.cnn_lessons_support import need_mnist, small_run


def test_personal_digits_round_trip_and_refuse_bad_files(tmp_path):
    from core.mnist.finetune import PersonalDigits, load_personal

    digits = PersonalDigits()
    digits.add(np.full((28, 28), 0.5), 3)
    digits.add(np.zeros(784), 7)
    back = load_personal(digits.save(tmp_path))
    assert back.labels == [3, 7] and back.arrays()[0].shape == (2, 28, 28)
    assert digits.save(tmp_path) == digits.save(tmp_path), "the same set, the same file"
    with pytest.raises(ValueError):
        digits.add(np.zeros((28, 28)), 10)
    with pytest.raises(ValueError):
        PersonalDigits.from_bytes(b"not an npz")
    digits.clear()
    assert len(digits) == 0


@pytest.mark.slow
def test_finetuning_reads_the_misread_digits_and_keeps_mnist(tmp_path):
    need_mnist()
    from core.mnist.cnn import predict_digits
    from core.mnist.finetune import PersonalDigits
    from core.mnist.ood import STATS_FILE
    from core.registry import get_task
    from core.training import run_training

    store, parent_id, model, data = small_run()
    # Ten training digits it misreads, from the part of the training set it never saw.
    x = data.x_train[30000:40000] / 255.0
    y = data.y_train[30000:40000].astype(int)
    wrong = np.flatnonzero(predict_digits(model, x).argmax(1) != y)[:10]
    assert len(wrong) == 10
    personal = PersonalDigits()
    for i in wrong:
        personal.add(x[i], int(y[i]))
    path = personal.save(tmp_path)
    result = run_training(get_task("cnn_finetune"), {"parent_run": parent_id, "digits_file": str(path)}, store=store)
    assert result.status == "done", result.error
    m = result.metrics
    assert m["parent_personal_accuracy"] == 0.0
    assert m["personal_accuracy"] >= 0.9, m["personal_after"]
    assert m["test_accuracy"] > m["parent_test_accuracy"] - 0.01
    record = store.get(result.run_id)
    assert record["parent"] == parent_id and record["kind"] == "cnn_finetune"
    assert (store.path(result.run_id) / STATS_FILE).is_file()
    assert set(record["history"]) >= {
        "loss", "accuracy", "val_accuracy"}


def test_finetuning_needs_a_cnn_parent_and_digits(tmp_path):
    from core.mnist.finetune import TASK
    from core.store import RunStore

    store = RunStore(tmp_path / "runs")  # the checks read the parent's record only: no training needed
    parent_id, iris_id = (store.save({"kind": kind, "status": "done", "started": "2026-01-01T00:00:00", "params": {}})
                          for kind in ("cnn", "iris"))
    with pytest.raises(ValueError, match="choose"):
        TASK.check_ready(TASK.space.validate({}), store)
    with pytest.raises(ValueError, match="is a iris run, not a CNN"):
        TASK.check_ready(TASK.space.validate({"parent_run": iris_id}), store)
    with pytest.raises(ValueError, match="personal digits"):
        TASK.check_ready(TASK.space.validate({"parent_run": parent_id}), store)
