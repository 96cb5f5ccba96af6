"""Runs on disk: atomic save, listing (damaged runs included), load, delete, exports."""

import json

import keras
import numpy as np
import pytest

from core.export import export_run, tflite_predict, write_tensorboard
from core.iris.data import load_split
from core.iris.model import predict_proba
from core.iris.task import IrisTask
from core.store import ModelLoadError, RunNotFound, RunStore, load_model_bytes
from core.training import run_training


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    result = run_training(IrisTask(), {"epochs": 4}, store=store)
    assert result.status == "done"
    return store, result


def test_round_trip_gives_the_same_predictions(trained):
    store, result = trained
    x = load_split().x_test
    loaded = store.load_model(result.run_id)
    np.testing.assert_allclose(predict_proba(loaded, x), predict_proba(result.model, x), rtol=1e-6)
    record = store.get(result.run_id)
    assert record["params"]["epochs"] == 4 and record["kind"] == "iris" and record["has_model"]
    assert record["data"]["source"].startswith("scikit-learn") and len(record["history"]["loss"]) == 4
    assert record["metrics"]["test_accuracy"] == result.metrics["test_accuracy"]


def test_runs_survive_a_new_store_object_and_list_newest_first(trained, tmp_path):
    store = RunStore(tmp_path)
    first = store.save({"kind": "iris", "started": "2026-01-01T00:00:00"})
    second = store.save({"kind": "cnn", "started": "2026-02-01T00:00:00"})
    reopened = RunStore(tmp_path)  # as after an app restart
    assert [r.run_id for r in reopened.list()] == [second, first]
    assert [r.run_id for r in reopened.list("iris")] == [first]


def test_damaged_runs_are_listed_not_fatal(tmp_path):
    store = RunStore(tmp_path)
    good = store.save({"kind": "iris", "started": "2026-01-01T00:00:00"})
    (tmp_path / "broken-json").mkdir()
    (tmp_path / "broken-json" / "run.json").write_text("{not json")
    (tmp_path / "no-record").mkdir()
    runs = {r.run_id: r for r in store.list()}
    assert not runs[good].damaged
    assert runs["broken-json"].damaged and "JSON" in runs["broken-json"].error
    assert runs["no-record"].damaged and runs["no-record"].error


def test_delete_removes_the_files(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save({"kind": "iris"})
    store.delete(run_id)
    assert not (tmp_path / run_id).exists() and store.list() == [] and list(tmp_path.iterdir()) == []
    with pytest.raises(RunNotFound):
        store.delete(run_id)


def test_a_crash_mid_save_leaves_nothing_behind(tmp_path):
    class Exploding:
        def save(self, path):
            with open(path, "wb") as fh:
                fh.write(b"half a model")
            raise OSError("disk full")

    store = RunStore(tmp_path)
    with pytest.raises(OSError):
        store.save({"kind": "iris"}, Exploding(), run_id="iris-crash")
    assert list(tmp_path.iterdir()) == []


def test_garbage_model_files_give_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="is empty"):
        load_model_bytes(b"", "empty.keras")
    with pytest.raises(ModelLoadError, match="not a Keras model"):
        load_model_bytes(b"this is not a zip", "notes.keras")
    with pytest.raises(RunNotFound):
        RunStore(tmp_path).load_model("nope")


def test_exports_load_back(trained, tmp_path):
    store, result = trained
    x = load_split().x_test[:8]
    expected = predict_proba(result.model, x).argmax(1)

    keras_file = export_run(store, result.run_id, "keras", tmp_path / "m.keras")
    assert (predict_proba(keras.models.load_model(keras_file), x).argmax(1) == expected).all()

    import tensorflow as tf

    saved = export_run(store, result.run_id, "savedmodel", tmp_path / "saved")
    restored = tf.saved_model.load(str(saved))
    served = restored.serve(tf.constant(x))
    assert (np.asarray(served).argmax(1) == expected).all()

    tflite = export_run(store, result.run_id, "tflite", tmp_path / "m.tflite")
    assert (tflite_predict(tflite, x).argmax(1) == expected).all()


def test_tensorboard_event_files_hold_the_curves(trained, tmp_path):
    store, result = trained
    logdir = write_tensorboard(store.get(result.run_id), tmp_path / "tb")
    events = list(logdir.rglob("events.out.tfevents.*"))
    assert {p.parent.name for p in events} == {"train", "validation"}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir / "validation"), size_guidance={"tensors": 0}).Reload()
    values = [float(tf_tensor_value(e)) for e in acc.Tensors("epoch/loss")]
    assert values == pytest.approx(store.get(result.run_id)["history"]["val_loss"], rel=1e-5)


def tf_tensor_value(event):
    from tensorflow.python.framework import tensor_util

    return tensor_util.MakeNdarray(event.tensor_proto)


def test_run_json_is_plain_json(trained):
    store, result = trained
    json.loads((store.path(result.run_id) / "run.json").read_text())
