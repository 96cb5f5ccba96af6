"""Saved runs: a model in Keras' ``.keras`` format plus a JSON record, written atomically.

A run is a directory ``<runs dir>/<run id>/`` holding ``run.json`` (kind, hyper-parameters, data
source, seed, timings, final metrics, curves) and ``model.keras``. It is written into a hidden
temporary directory first and renamed into place, so a crash mid-save never leaves a half-written
run where a good one was. The runs directory is ``$NN_PLAYGROUND_RUNS`` or ``runs/`` in the project.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from core import PROJECT_ROOT

RECORD, MODEL = "run.json", "model.keras"


class ModelLoadError(RuntimeError):
    """A model file that cannot be loaded; the message is meant for the user."""


class RunNotFound(KeyError):
    def __str__(self):
        return f"no run named {self.args[0]!r}"


@dataclass
class RunInfo:
    """One entry of :meth:`RunStore.list`; ``damaged`` runs carry the reason in ``error``."""

    run_id: str
    path: Path
    record: dict
    damaged: bool = False
    error: str | None = None

    @property
    def kind(self) -> str:
        return self.record.get("kind", "?")


def default_runs_dir() -> Path:
    return Path(os.environ.get("NN_PLAYGROUND_RUNS") or PROJECT_ROOT / "runs")


def write_json_atomic(path: Path, data: dict) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, default=_jsonable)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_model_file(path: Path | str, custom_objects: dict | None = None):
    """Load a ``.keras`` file, raising :class:`ModelLoadError` with a clear message if it cannot be.

    ``custom_objects``: the custom Keras classes the file needs (:meth:`core.tasks.Task.custom_objects`).
    """
    import keras

    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"No model file at {path}")
    try:
        return keras.models.load_model(path, custom_objects=custom_objects, compile=True)
    except Exception as err:
        raise ModelLoadError(f"{path.name} is not a Keras model this app can load ({type(err).__name__}: {err})") from err


def load_model_bytes(data: bytes, name: str = "upload.keras", custom_objects: dict | None = None):
    """Load an uploaded ``.keras`` file from memory (see :func:`load_model_file`)."""
    if not data:
        raise ModelLoadError(f"{name} is empty")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.keras"
        path.write_bytes(data)
        try:
            return load_model_file(path, custom_objects)
        except ModelLoadError as err:
            raise ModelLoadError(str(err).replace("upload.keras", name)) from err


def _jsonable(value):
    """JSON for NumPy scalars and arrays (metrics, confusion matrices); anything else as text."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


class RunStore:
    """The runs directory: save, list, read, load and delete runs."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root else default_runs_dir()

    def new_id(self, kind: str) -> str:
        return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"

    def path(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise RunNotFound(run_id)
        return self.root / run_id

    def save(self, record: dict, model=None, run_id: str | None = None) -> str:
        """Write a new run atomically; returns its id."""
        self.root.mkdir(parents=True, exist_ok=True)
        run_id = run_id or self.new_id(record.get("kind", "run"))
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{run_id}-", dir=self.root))
        try:
            record = {**record, "id": run_id, "has_model": model is not None}
            if model is not None:
                model.save(tmp / MODEL)
            write_json_atomic(tmp / RECORD, record)
            os.rename(tmp, self.root / run_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return run_id

    def update(self, run_id: str, **fields) -> dict:
        """Change fields of a stored record (e.g. a name), atomically."""
        record = self.get(run_id)
        record.update(fields)
        write_json_atomic(self.path(run_id) / RECORD, record)
        return record

    def get(self, run_id: str) -> dict:
        path = self.path(run_id) / RECORD
        if not path.parent.is_dir():
            raise RunNotFound(run_id)
        return json.loads(path.read_text())

    def list(self, kind: str | None = None) -> list[RunInfo]:
        """All runs, newest first; a run whose record cannot be read is listed as damaged."""
        if not self.root.is_dir():
            return []
        runs = []
        for path in self.root.iterdir():
            if not path.is_dir() or path.name.startswith("."):
                continue
            try:
                record = json.loads((path / RECORD).read_text())
                if not isinstance(record, dict) or "kind" not in record:
                    raise ValueError("no model kind in run.json")
                info = RunInfo(path.name, path, record)
            except (OSError, ValueError) as err:
                info = RunInfo(path.name, path, {}, damaged=True, error=f"{type(err).__name__}: {err}")
            if kind is None or info.kind == kind:
                runs.append(info)
        return sorted(runs, key=lambda r: (r.record.get("started", ""), r.run_id), reverse=True)

    def model_path(self, run_id: str) -> Path:
        return self.path(run_id) / MODEL

    def load_model(self, run_id: str, custom_objects: dict | None = None):
        if not self.path(run_id).is_dir():
            raise RunNotFound(run_id)
        return load_model_file(self.model_path(run_id), custom_objects)

    def delete(self, run_id: str) -> None:
        path = self.path(run_id)
        if not path.is_dir():
            raise RunNotFound(run_id)
        # Rename first so that a half-deleted run never shows up as a damaged one.
        doomed = self.root / f".deleting-{run_id}-{uuid.uuid4().hex[:4]}"
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def resolve_model(self, ref: str, custom_objects: dict | None = None):
        """Load a model from a run id, a run directory or a ``.keras`` path."""
        path = Path(ref)
        if path.is_dir():
            return load_model_file(path / MODEL, custom_objects)
        if path.suffix == ".keras" or path.exists():
            return load_model_file(path, custom_objects)
        return self.load_model(ref, custom_objects)
