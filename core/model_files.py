"""Model files: a ``.keras`` archive checked before Keras reads it, loaded with a clear message, or sent as bytes.

A visitor's upload or a file another process sent is read here; the run store (:mod:`core.store`) keeps them.
Keras is imported only inside the functions that need it.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

# Lazy import: Keras (5.9 s to import, with TensorFlow) inside load_model_file, so that the run store imports at once.

MODEL = "model.keras"  # a run folder's model file


class ModelLoadError(RuntimeError):
    """A model file that cannot be loaded; the message is meant for the user."""


MAX_JSON_MEMBER = 16 * 2**20  # config.json / metadata.json of this app's models are a few kB
MAX_INFLATION = 2  # Keras stores members uncompressed: all of them together are about the archive's size
MAX_MEMBERS = 64


def check_keras_archive(path: Path) -> None:
    """Refuse a ``.keras`` archive that would inflate far beyond its size, before Keras reads any of it.

    Keras itself only refuses archives above 4 GiB, so a 1 MB file holding a 1 GiB ``config.json`` would be
    read into the server's memory. This reads the zip's directory only.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ModelLoadError(f"{path.name} is not a Keras model this app can load (not a .keras zip archive)") from None
    total = sum(m.file_size for m in members)
    limit = MAX_INFLATION * path.stat().st_size + MAX_JSON_MEMBER
    if len(members) > MAX_MEMBERS:
        raise ModelLoadError(f"{path.name} holds {len(members)} files; a Keras model has 3")
    for m in members:
        if not m.filename.endswith(".h5") and m.file_size > MAX_JSON_MEMBER:
            raise ModelLoadError(f"{path.name} is refused: its {m.filename} would unpack to "
                                 f"{m.file_size / 2**20:.0f} MB (at most {MAX_JSON_MEMBER // 2**20} MB)")
    if total > limit:
        raise ModelLoadError(f"{path.name} is refused: it would unpack to {total / 2**20:.0f} MB, far more than "
                             f"its {path.stat().st_size / 2**20:.1f} MB")


def load_model_file(path: Path | str, custom_objects: dict | None = None):
    """Load a ``.keras`` file, raising :class:`ModelLoadError` with a clear message if it cannot be.

    ``custom_objects``: the custom Keras classes the file needs (:meth:`core.tasks.Task.custom_objects`).
    """
    import keras

    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"No model file at {path}")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"{path.name} is empty")
    check_keras_archive(path)
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


def model_bytes(model) -> bytes | None:
    """The model as the bytes of a ``.keras`` file, to send to another process (None without a model)."""
    if model is None:
        return None
    with tempfile.TemporaryDirectory(prefix="nn-model-") as tmp:
        path = Path(tmp) / MODEL
        model.save(path)
        return path.read_bytes()


class ModelFile:
    """A model that arrived as the bytes of a ``.keras`` file: :meth:`RunStore.save` writes it as it is."""

    def __init__(self, data: bytes):
        self.data = data

    def save(self, path) -> None:
        Path(path).write_bytes(self.data)
