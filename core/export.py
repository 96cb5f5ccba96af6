"""Take a run elsewhere: a ``.keras`` copy, a TensorFlow SavedModel, a TFLite file, TensorBoard curves."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from core.registry import get_task
from core.store import RunNotFound

# Lazy imports: TensorFlow (5.6 s to import) inside the TFLite and TensorBoard exports, so that `python -m core runs`
# and the Runs page import this module at once.

FORMATS = ("keras", "savedmodel", "tflite", "tensorboard")


def export_run(store, run_id: str, fmt: str, out: Path | str) -> Path:
    """Write run ``run_id`` of ``store`` as ``fmt`` to ``out``; returns the path written."""
    out = Path(out)
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not store.path(run_id).is_dir():
        raise RunNotFound(run_id)
    if fmt == "tensorboard":
        return write_tensorboard(store.get(run_id), out)
    if fmt == "keras":
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store.model_path(run_id), out)
        return out
    model = store.load_model(run_id, get_task(store.get(run_id)["kind"]).custom_objects())
    if fmt == "savedmodel":
        return export_savedmodel(model, out)
    return export_tflite(model, out)


def export_savedmodel(model, out: Path) -> Path:
    """A TensorFlow SavedModel with a ``serve`` endpoint (``keras.Model.export``)."""
    model.export(str(out), format="tf_saved_model", verbose=False)
    return out


def export_tflite(model, out: Path) -> Path:
    """A TensorFlow Lite flatbuffer, converted from the model's SavedModel."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        saved = export_savedmodel(model, Path(tmp) / "saved")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        data = converter.convert()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


def write_tensorboard(record: dict, logdir: Path | str) -> Path:
    """Write a run's curves as TensorBoard event files (``tensorboard --logdir LOGDIR``).

    Per-epoch metrics go under ``train/`` and ``validation/`` (Keras' ``val_`` prefix), the
    per-batch loss under ``batch/loss`` with the fractional epoch times 1000 as step.
    """
    import tensorflow as tf

    logdir = Path(logdir) / record.get("id", "run")
    history = record.get("history", {})
    for split in ("train", "validation"):
        writer = tf.summary.create_file_writer(str(logdir / split))
        with writer.as_default():
            for name, values in history.items():
                is_val = name.startswith("val_")
                if is_val != (split == "validation"):
                    continue
                for epoch, value in enumerate(values, start=1):
                    tf.summary.scalar(f"epoch/{name.removeprefix('val_')}", value, step=epoch)
            if split == "train":
                for position, loss in record.get("batch_loss", []):
                    tf.summary.scalar("batch/loss", loss, step=int(round(position * 1000)))
                params = ", ".join(f"{k}={v}" for k, v in record.get("params", {}).items())
                tf.summary.text("hyper-parameters", params, step=0)
        writer.flush()
        writer.close()
    return logdir


def archive_name(run_id: str, fmt: str) -> str:
    """The file name of :func:`export_archive`'s download."""
    return f"{run_id}.keras" if fmt == "keras" else f"{run_id}-{fmt}.zip"


def export_archive(store, run_id: str, fmt: str) -> tuple[bytes, str]:
    """An export as bytes to download: the ``.keras`` file itself, or a zip of the exported directory/file."""
    if fmt == "keras":
        return store.model_path(run_id).read_bytes(), archive_name(run_id, fmt)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "export" / (f"{run_id}.tflite" if fmt == "tflite" else run_id)
        written = export_run(store, run_id, fmt, target)
        root = written if written.is_dir() else written.parent
        archive = shutil.make_archive(str(Path(tmp) / f"{run_id}-{fmt}"), "zip", root_dir=root)
        return Path(archive).read_bytes(), archive_name(run_id, fmt)
