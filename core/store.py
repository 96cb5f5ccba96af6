"""Saved runs: a model in Keras' ``.keras`` format plus a JSON record, written atomically.

A run is a directory ``<runs dir>/<run id>/`` holding ``run.json`` (kind, hyper-parameters, data
source, seed, timings, final metrics, curves) and ``model.keras``. It is written into a hidden
temporary directory first and renamed into place, so a crash mid-save never leaves a half-written
run where a good one was. The runs directory is ``$NN_PLAYGROUND_RUNS`` or ``runs/`` in the project.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import PROJECT_ROOT
from core.files import write_atomic
from core.model_files import MODEL, ModelLoadError, load_model_file
from core.records import check_record, owner_of, visible_to

RECORD = "run.json"


class RunNotFound(KeyError):
    def __str__(self):
        return f"no run named {self.args[0]!r}"


class DamagedRun(ValueError):
    """A run whose record or model file cannot be used; the message says why."""


class NotYours(PermissionError):
    """A change to a run by someone who does not own it (or on a server where runs are read-only)."""


STALE_SECONDS = 3600  # hidden .tmp-* / .deleting-* folders older than this are leftovers of a killed process


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

    def visible_to(self, viewer: str | None) -> bool:
        """See :func:`core.records.visible_to`; a damaged run (no readable owner) is listed for everyone."""
        return self.damaged or visible_to(self.record, viewer)


def default_runs_dir() -> Path:
    return Path(os.environ.get("NN_PLAYGROUND_RUNS") or PROJECT_ROOT / "runs")


def write_json_atomic(path: Path, data: dict) -> None:
    """``data`` as JSON (NumPy values as plain numbers), written atomically (:func:`core.files.write_atomic`)."""
    write_atomic(path, json.dumps(data, indent=1, default=jsonable).encode())




def jsonable(value):
    """JSON for NumPy scalars and arrays (metrics, confusion matrices); anything else as text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


class RunStore:
    """The runs directory: save, list, read, load and delete runs."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root else default_runs_dir()
        self.remove_stale()

    def remove_stale(self, older_than: float = STALE_SECONDS) -> list[str]:
        """Remove hidden half-written (``.tmp-*``) and half-deleted (``.deleting-*``) folders left by a killed process."""
        removed = []
        if not self.root.is_dir():
            return removed
        cutoff = time.time() - older_than
        for path in self.root.iterdir():
            if path.name.startswith((".tmp-", ".deleting-")) and path.is_dir():
                try:
                    if path.stat().st_mtime < cutoff:
                        shutil.rmtree(path)
                        removed.append(path.name)
                except OSError:
                    pass  # another process is removing it, or it is not ours to remove
        return removed

    def new_id(self, kind: str) -> str:
        return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"

    def path(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise RunNotFound(run_id)
        return self.root / run_id

    def save(self, record: dict, model=None, run_id: str | None = None, files: dict[str, bytes] | None = None) -> str:
        """Write a new run atomically; returns its id. ``files``: more files for its folder (name -> content)."""
        self.root.mkdir(parents=True, exist_ok=True)
        run_id = run_id or self.new_id(record.get("kind", "run"))
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{run_id}-", dir=self.root))
        try:
            record = {**record, "id": run_id, "has_model": model is not None}
            if model is not None:
                model.save(tmp / MODEL)
            for name, data in (files or {}).items():
                if "/" in name or name.startswith(".") or name in (MODEL, RECORD):
                    raise ValueError(f"a run's extra file cannot be called {name!r}")
                (tmp / name).write_bytes(data)
            write_json_atomic(tmp / RECORD, record)
            os.rename(tmp, self.root / run_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return run_id

    def update(self, run_id: str, who: str | None = None, **fields) -> dict:
        """Change fields of a stored record (a name, ``shared``), atomically; only its owner may (see check_owner)."""
        record = self.check_owner(run_id, who)
        record.update(fields)
        problem = check_record(record)
        if problem:
            raise ValueError(problem)
        write_json_atomic(self.path(run_id) / RECORD, record)
        return record

    def get(self, run_id: str, viewer: str | None = None) -> dict:
        """The run's record, checked (:func:`core.records.check_record`); :class:`DamagedRun` says what is wrong.

        With a ``viewer``, a run that is not theirs and not shared is not found.
        """
        path = self.path(run_id)
        if not path.is_dir():
            raise RunNotFound(run_id)
        record = self._read(path)
        if not visible_to(record, viewer):
            raise RunNotFound(run_id)
        return record

    def _read(self, path: Path) -> dict:
        try:
            record = json.loads((path / RECORD).read_text())
        except (OSError, ValueError) as err:
            raise DamagedRun(f"run.json cannot be read ({type(err).__name__}: {err})") from None
        problem = check_record(record)
        if problem:
            raise DamagedRun(problem)
        record["id"] = path.name  # the folder names the run, whatever the file says
        if record.get("has_model") and not (path / MODEL).is_file():
            raise DamagedRun(f"its model file {MODEL} is missing")
        return record

    def list(self, kind: str | None = None, viewer: str | None = None) -> list[RunInfo]:
        """All runs (those ``viewer`` may see), newest first; an unreadable or unsound one is listed as damaged."""
        if not self.root.is_dir():
            return []
        runs = []
        for path in self.root.iterdir():
            if not path.is_dir() or path.name.startswith("."):
                continue
            try:
                info = RunInfo(path.name, path, self._read(path))
            except DamagedRun as err:
                info = RunInfo(path.name, path, {}, damaged=True, error=str(err))
            if (kind is None or info.kind == kind) and info.visible_to(viewer):
                runs.append(info)
        return sorted(runs, key=lambda r: (r.record.get("started", ""), r.run_id), reverse=True)

    def model_path(self, run_id: str) -> Path:
        return self.path(run_id) / MODEL

    def load_model(self, run_id: str, custom_objects: dict | None = None, viewer: str | None = None):
        """The run's model; with a ``viewer``, a run that is not theirs and not shared is not found."""
        if not self.get(run_id, viewer).get("has_model"):
            raise ModelLoadError(f"No model file: run {run_id} was saved without one")
        return load_model_file(self.model_path(run_id), custom_objects)

    def check_owner(self, run_id: str, who: str | None) -> dict:
        """The record, if ``who`` may change or delete the run: its owner, or anyone when ``who`` is None (the CLI).

        Runs recorded before owners existed belong to ``local``, as the command line's do.
        """
        record = self.get(run_id)
        if who is not None and owner_of(record) != who:
            raise NotYours(f"run {run_id} belongs to someone else: only its owner can change or delete it")
        return record

    def delete(self, run_id: str, who: str | None = None) -> None:
        path = self.path(run_id)
        if not path.is_dir():
            raise RunNotFound(run_id)
        if who is not None:
            self.check_owner(run_id, who)
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

    def pack(self, run_id: str) -> bytes:
        """The run's folder as the bytes of a tar archive, to send to another machine (:meth:`unpack` reads it)."""
        path = self.path(run_id)
        self._read(path)  # only a sound run travels
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for item in sorted(path.iterdir()):
                tar.add(item, arcname=item.name, recursive=False)
        return buffer.getvalue()

    def unpack(self, data: bytes, run_id: str | None = None, **fields) -> str:
        """Store a run :meth:`pack` made (in a worker process, say), atomically; ``fields`` override its record's.

        The archive holds plain files only; its record is checked against the schema before the run appears, so a
        damaged archive raises :class:`DamagedRun` and leaves nothing behind. Returns the run's id here.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
                members = tar.getmembers()
                record = json.loads(tar.extractfile(RECORD).read()) if RECORD in tar.getnames() else None
                if record is None or any(not m.isfile() or "/" in m.name or m.name.startswith(".") for m in members):
                    raise DamagedRun("a packed run holds run.json and plain files only")
                run_id = run_id or record.get("id") or self.new_id(record.get("kind", "run"))
                self.path(run_id)  # a usable id
                if (self.root / run_id).exists():
                    run_id = self.new_id(record.get("kind", "run"))
                tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{run_id}-", dir=self.root))
                try:
                    tar.extractall(tmp, filter="data")
                    record = {**record, **fields, "id": run_id}
                    problem = check_record(record)
                    if problem:
                        raise DamagedRun(problem)
                    write_json_atomic(tmp / RECORD, record)
                    os.rename(tmp, self.root / run_id)
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
        except (tarfile.TarError, ValueError, KeyError) as err:
            if isinstance(err, DamagedRun):
                raise
            raise DamagedRun(f"the packed run cannot be read ({type(err).__name__}: {err})") from None
        return run_id
