"""core.store and core.export: runs on disk (atomic, listable even when damaged, deletable) and their exports."""

import io
import json
import zipfile

import numpy as np
import pytest

from core.export import export_archive, export_run, write_tensorboard
from core.iris.data import EXAMPLES, load_split
from core.iris.model import predict_proba
from core.iris.task import IrisTask
from core.model_files import MODEL, ModelLoadError, load_model_bytes, load_model_file
from core.store import RECORD, RunNotFound, RunStore, write_json_atomic
from core.training import run_training


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short Iris run, saved in a store of its own (shared by the read-only tests of this module)."""
    store = RunStore(tmp_path_factory.mktemp("store-runs"))
    result = run_training(IrisTask(), {"epochs": 3}, store=store)
    assert result.status == "done", result.error
    return store, result


@pytest.fixture(scope="module")
def flowers():
    return np.concatenate([load_split().x_test[:12], np.array(list(EXAMPLES.values()), dtype="float32")])


def _leftovers(root):
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


# --- save / load ----------------------------------------------------------------------------------------------

def _tflite_predict(path, x):
    """Run a TFLite file on a batch ``x`` (float32) with the TFLite interpreter."""
    import numpy as np
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    x = np.asarray(x, dtype="float32")
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])


def test_round_trip_gives_the_same_predictions(trained, flowers):
    store, result = trained
    loaded = store.load_model(result.run_id)
    np.testing.assert_allclose(predict_proba(loaded, flowers), predict_proba(result.model, flowers), rtol=1e-6,
                               atol=1e-7)
    record = store.get(result.run_id)
    assert record["id"] == result.run_id and record["kind"] == "iris" and record["has_model"]
    assert record["params"] == IrisTask.space.validate({"epochs": 3}) and record["seed"] == 42
    assert record["status"] == "done" and record["epochs_completed"] == 3 and len(record["history"]["val_loss"]) == 3
    assert record["metrics"] == pytest.approx(result.metrics)
    assert record["versions"]["tensorflow"] and record["duration"] > 0
    assert _leftovers(store.root) == []


def test_a_model_resolves_from_a_run_id_a_run_dir_or_a_keras_path(trained, flowers):
    store, result = trained
    expected = predict_proba(result.model, flowers)
    for ref in (result.run_id, str(store.path(result.run_id)), str(store.model_path(result.run_id))):
        np.testing.assert_allclose(predict_proba(store.resolve_model(ref), flowers), expected, rtol=1e-6, atol=1e-7)


def test_list_is_newest_first_and_filters_by_kind(tmp_path):
    store = RunStore(tmp_path)
    assert RunStore(tmp_path / "not-yet").list() == []
    old = store.save({"kind": "iris", "started": "2026-01-01T10:00:00"})
    new = store.save({"kind": "iris", "started": "2026-03-01T10:00:00"})
    mid = store.save({"kind": "cnn", "started": "2026-02-01T10:00:00"})
    (tmp_path / "notes.txt").write_text("a stray file is not a run")
    reopened = RunStore(tmp_path)  # as after a restart of the app
    assert [r.run_id for r in reopened.list()] == [new, mid, old]
    assert [r.run_id for r in reopened.list("iris")] == [new, old]
    assert [r.run_id for r in reopened.list("cnn")] == [mid] and reopened.list("cvae") == []
    assert all(not r.damaged and r.error is None for r in reopened.list())
    assert reopened.list()[0].kind == "iris" and reopened.list()[0].record["id"] == new


@pytest.mark.parametrize("content", [None, "{not json", "", "[1, 2]", '{"status": "done"}', b"\xff\xfe\x00"])
def test_a_damaged_run_is_listed_as_damaged_not_raised(tmp_path, content):
    store = RunStore(tmp_path)
    good = store.save({"kind": "iris", "started": "2026-01-01T10:00:00"})
    broken = tmp_path / "iris-broken"
    broken.mkdir()
    if isinstance(content, str):
        (broken / RECORD).write_text(content)
    elif isinstance(content, bytes):
        (broken / RECORD).write_bytes(content)
    runs = {r.run_id: r for r in store.list()}  # must not raise
    assert set(runs) == {good, "iris-broken"}
    assert not runs[good].damaged
    assert runs["iris-broken"].damaged and runs["iris-broken"].error and runs["iris-broken"].kind == "?"
    assert [r.run_id for r in store.list("iris")] == [good]


def test_hidden_temporary_dirs_are_not_runs(tmp_path):
    store = RunStore(tmp_path)
    (tmp_path / ".tmp-iris-x-123").mkdir()
    (tmp_path / ".deleting-iris-y").mkdir()
    assert store.list() == []
    with pytest.raises(RunNotFound):
        store.get(".tmp-iris-x-123")


def test_delete_removes_every_file(trained, tmp_path):
    source, result = trained
    store = RunStore(tmp_path)
    run_id = store.save(source.get(result.run_id), result.model)
    assert (tmp_path / run_id / MODEL).is_file()
    store.delete(run_id)
    assert list(tmp_path.iterdir()) == [] and store.list() == []
    with pytest.raises(RunNotFound, match="no run named"):
        store.delete(run_id)
    with pytest.raises(RunNotFound):
        store.get(run_id)


@pytest.mark.parametrize("bad_id", ["", "../etc", "a/b", ".hidden"])
def test_run_ids_cannot_escape_the_runs_dir(tmp_path, bad_id):
    with pytest.raises(RunNotFound):
        RunStore(tmp_path).path(bad_id)


def test_update_rewrites_the_record(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.save({"kind": "iris", "status": "done"})
    store.update(run_id, name="best so far")
    assert store.get(run_id)["name"] == "best so far" and store.get(run_id)["status"] == "done"
    assert [p.name for p in (tmp_path / run_id).iterdir()] == [RECORD]


class ExplodingModel:
    """A model whose save writes half a file and then fails, like a full disk."""

    def save(self, path):
        with open(path, "wb") as fh:
            fh.write(b"PK half a model")
        raise OSError("No space left on device")


def test_a_failed_save_leaves_no_run_and_no_temporary_dir(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(OSError, match="No space left"):
        store.save({"kind": "iris"}, ExplodingModel(), run_id="iris-crash")
    assert list(tmp_path.iterdir()) == [] and store.list() == []


def test_a_failed_save_never_replaces_a_good_run(tmp_path):
    store = RunStore(tmp_path)
    store.save({"kind": "iris", "status": "done"}, run_id="iris-keep")
    with pytest.raises(OSError):
        store.save({"kind": "iris", "status": "failed"}, ExplodingModel(), run_id="iris-keep")
    with pytest.raises(OSError):  # the id is taken: renaming onto it fails rather than overwriting it
        store.save({"kind": "iris", "status": "other"}, run_id="iris-keep")
    assert store.get("iris-keep")["status"] == "done" and _leftovers(tmp_path) == []


def test_write_json_atomic_handles_numpy_values(tmp_path):
    write_json_atomic(tmp_path / "r.json", {"a": np.float32(0.5), "b": np.arange(3), "c": np.int64(7)})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": 7}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


# --- loading bad model files ------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [b"this is not a model", b"PK\x03\x04garbage", b"\x00" * 2048])
def test_garbage_bytes_raise_model_load_error_with_a_clear_message(data):
    with pytest.raises(ModelLoadError) as err:
        load_model_bytes(data, "holiday.keras")
    message = str(err.value)
    assert message.startswith("holiday.keras is not a Keras model this app can load"), message
    assert "upload.keras" not in message


def test_a_zip_that_is_not_a_keras_model_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ModelLoadError, match=r"photos\.keras is not a Keras model"):
        load_model_bytes(buffer.getvalue(), "photos.keras")


def test_empty_and_missing_model_files(tmp_path):
    with pytest.raises(ModelLoadError, match=r"empty\.keras is empty"):
        load_model_bytes(b"", "empty.keras")
    with pytest.raises(ModelLoadError, match="No model file at"):
        load_model_file(tmp_path / "nothing.keras")
    store = RunStore(tmp_path)
    run_id = store.save({"kind": "iris"})  # a run without a model
    with pytest.raises(ModelLoadError, match="No model file"):
        store.load_model(run_id)
    with pytest.raises(RunNotFound):
        store.load_model("iris-nope")


def test_good_bytes_load(trained, flowers):
    store, result = trained
    model = load_model_bytes(store.model_path(result.run_id).read_bytes(), "mine.keras")
    np.testing.assert_allclose(predict_proba(model, flowers), predict_proba(result.model, flowers), rtol=1e-6,
                               atol=1e-7)


# --- exports ------------------------------------------------------------------------------------------------------

def test_keras_export_loads_with_keras(trained, tmp_path, flowers):
    import keras

    store, result = trained
    out = export_run(store, result.run_id, "keras", tmp_path / "out" / "iris.keras")
    model = keras.models.load_model(out)
    np.testing.assert_allclose(np.asarray(model(flowers)), predict_proba(result.model, flowers), rtol=1e-6, atol=1e-7)


def test_savedmodel_export_loads_with_tensorflow(trained, tmp_path, flowers):
    import tensorflow as tf

    store, result = trained
    out = export_run(store, result.run_id, "savedmodel", tmp_path / "saved")
    assert out.is_dir() and (out / "saved_model.pb").is_file()
    restored = tf.saved_model.load(str(out))
    served = np.asarray(restored.serve(tf.constant(flowers)))
    np.testing.assert_allclose(served, predict_proba(result.model, flowers), rtol=1e-5, atol=1e-6)


def test_tflite_export_predicts_the_same_classes_as_keras(trained, tmp_path, flowers):
    store, result = trained
    out = export_run(store, result.run_id, "tflite", tmp_path / "lite" / "iris.tflite")
    assert out.is_file() and out.stat().st_size > 0
    lite = _tflite_predict(out, flowers)
    keras_probs = predict_proba(result.model, flowers)
    assert lite.shape == keras_probs.shape
    assert (lite.argmax(1) == keras_probs.argmax(1)).all()
    np.testing.assert_allclose(lite, keras_probs, atol=1e-4)


def _scalars(event_dir):
    import tensorflow as tf
    from tensorflow.python.framework import tensor_util

    values = {}
    for path in sorted(event_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for v in event.summary.value:
                if v.metadata.plugin_data.plugin_name == "scalars":
                    values.setdefault(v.tag, []).append((event.step, float(tensor_util.MakeNdarray(v.tensor))))
    return values


def test_tensorboard_event_files_are_written(trained, tmp_path):
    store, result = trained
    record = store.get(result.run_id)
    logdir = write_tensorboard(record, tmp_path / "tb")
    assert logdir == tmp_path / "tb" / result.run_id
    assert list((logdir / "train").glob("events.out.tfevents.*")) and list((logdir / "validation").glob("events.*"))
    train, validation = _scalars(logdir / "train"), _scalars(logdir / "validation")
    assert [s for s, _ in train["epoch/loss"]] == [1, 2, 3]
    assert [v for _, v in train["epoch/loss"]] == pytest.approx(record["history"]["loss"], rel=1e-6)
    assert [v for _, v in validation["epoch/accuracy"]] == pytest.approx(record["history"]["val_accuracy"], rel=1e-6)
    assert len(train["batch/loss"]) == len(record["batch_loss"]) == 3 * 75


def test_unknown_export_format_is_refused(trained, tmp_path):
    store, result = trained
    with pytest.raises(ValueError, match="unknown export format 'onnx'"):
        export_run(store, result.run_id, "onnx", tmp_path / "x")


def test_export_archives_for_download(trained):
    store, result = trained
    data, name = export_archive(store, result.run_id, "keras")
    assert name == f"{result.run_id}.keras" and data == store.model_path(result.run_id).read_bytes()
    data, name = export_archive(store, result.run_id, "tensorboard")
    assert name == f"{result.run_id}-tensorboard.zip"
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert any("train/events.out.tfevents" in n for n in names)
    assert any("validation/events.out.tfevents" in n for n in names)
