"""Correct it and retrain: a personal set of digits and the fine-tuning of a trained CNN on them.

When the network misreads a drawing, the learner gives the right label and the drawing (28x28, as
preprocessed) joins a small personal set. Fine-tuning trains the model a little further, from its
weights, on those digits *mixed with MNIST training digits*: on the personal digits alone the gradient
steps would pull the whole network towards a dozen images and it would forget the rest
(catastrophic forgetting). Each epoch sees ``mnist_size`` MNIST digits and ``personal_repeat`` copies of each
personal digit, so both pull on the weights; a small learning rate keeps the steps short. The result is a
new run (kind ``cnn_finetune``) that records its ``parent`` run, keeps the parent's architecture and can be
used wherever a CNN is.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.files import write_atomic
from core.mnist.cnn import predict_digits
from core.mnist.data import EVAL_BATCH, add_inverted, load_for, subset, unit_pixels
from core.mnist.task import evaluate_digits, ood_files
from core.params import Param, ParamSpace
from core.store import RunStore
from core.tasks import Prepared, Task

# Lazy imports: TensorFlow and Keras (5.6 s to import) inside the methods that train, so that the registry imports
# this kind at once.

MAX_PERSONAL = 500  # digits in a personal set
MAX_FILE_BYTES = 8 * 2**20

SPACE = ParamSpace((
    Param("parent_run", "", "str", label="CNN run to fine-tune",
          help="The stored CNN run whose weights are the starting point (recorded as the new run's parent)."),
    Param("digits_file", "", "str", label="Personal digits file", browser=False,
          help="An .npz with images (n, 28, 28) in [0, 1] and labels (n,): the page writes yours; the command "
               "line names one (as downloaded from the page)."),
    Param("mnist_size", 3000, "int", 0, 60000, step=100,
          help="MNIST training digits mixed in per epoch, so that it does not forget the rest."),
    Param("personal_repeat", 30, "int", 1, 1000, help="Copies of each personal digit per epoch."),
    Param("learning_rate", 3e-4, "float", 1e-6, 1e-1, log=True, help="Adam's step size (smaller than training's)."),
    Param("batch_size", 64, "int", 8, 1024, help="Images per gradient step."),
    Param("epochs", 2, "int", 1, 50, help="Passes over the mixed set."),
    Param("seed", 42, "int", 0, 2**31 - 1, help="Seed for shuffling, the MNIST sample and dropout."),
))


@dataclass
class PersonalDigits:
    """The learner's corrected digits: images float32 (n, 28, 28) in [0, 1] (as the network saw them), labels (n,)."""

    images: list = field(default_factory=list)
    labels: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def add(self, image, label: int) -> None:
        if len(self) >= MAX_PERSONAL:
            raise ValueError(f"the personal set holds at most {MAX_PERSONAL} digits; clear it first")
        image = np.asarray(image, dtype="float32").reshape(28, 28)
        if not 0 <= int(label) <= 9:
            raise ValueError(f"a digit's label is 0..9, not {label}")
        self.images.append(np.clip(image, 0.0, 1.0))
        self.labels.append(int(label))

    def clear(self) -> None:
        self.images.clear()
        self.labels.clear()

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not len(self):
            return np.zeros((0, 28, 28), "float32"), np.zeros(0, "int32")
        return np.stack(self.images).astype("float32"), np.asarray(self.labels, dtype="int32")

    def to_bytes(self) -> bytes:
        x, y = self.arrays()
        buf = io.BytesIO()
        np.savez_compressed(buf, images=x, labels=y)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> PersonalDigits:
        """Read a set written by :meth:`to_bytes`; ValueError with a clear message for anything else."""
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"a personal digits file is at most {MAX_FILE_BYTES // 2**20} MB")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as f:
                x, y = np.asarray(f["images"], dtype="float32"), np.asarray(f["labels"])
        except Exception as err:
            raise ValueError(f"not a personal digits file (an .npz with images and labels): {type(err).__name__}") from None
        if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y) or len(x) > MAX_PERSONAL:
            raise ValueError(f"a personal digits file holds images (n, 28, 28) and n labels, n <= {MAX_PERSONAL}")
        if not np.isfinite(x).all() or (len(y) and (y.min() < 0 or y.max() > 9)):
            raise ValueError("a personal digits file holds pixels in [0, 1] and labels 0..9")
        out = cls()
        for image, label in zip(x, y):
            out.add(image, int(label))
        return out

    def save(self, folder: Path) -> Path:
        """Write the set into ``folder`` under a name made from its content (the same set, the same file)."""
        data = self.to_bytes()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"personal-{hashlib.sha256(data).hexdigest()[:16]}.npz"
        if not path.is_file():
            write_atomic(path, data)
        return path


def load_personal(path: str | Path) -> PersonalDigits:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no personal digits file at {path}")
    return PersonalDigits.from_bytes(path.read_bytes())


def mixed_training_set(personal_x, personal_y, mnist_x, mnist_y, repeat: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits (uint8 or [0, 1]) and ``repeat`` copies of each personal digit, as float32 (n, 28, 28, 1) and labels."""
    x = np.concatenate([unit_pixels(mnist_x).reshape(-1, 28, 28), np.repeat(unit_pixels(personal_x).reshape(-1, 28, 28), repeat, 0)])
    y = np.concatenate([np.asarray(mnist_y, dtype="int32"), np.repeat(np.asarray(personal_y, dtype="int32"), repeat)])
    return x[..., None], y


def base_params(store, run_id: str) -> dict:
    """The CNN settings (data, augmentation) behind a run: its own for a ``cnn`` run, its first ``cnn`` ancestor's
    for a fine-tuned one (whose own params are the fine-tuning's), so a fine-tuned model can be fine-tuned again."""
    seen = set()
    record = store.get(run_id)
    while record.get("kind") != "cnn" and record.get("parent") and record["parent"] not in seen:
        seen.add(record["parent"])
        record = store.get(record["parent"])
    return record.get("params", {}) if record.get("kind") == "cnn" else {}


def clone_for_training(parent, learning_rate: float):
    """A copy of ``parent`` (same layers and dtypes, same weights), compiled with Adam at ``learning_rate``."""
    import keras

    model = keras.models.clone_model(parent)
    model.set_weights(parent.get_weights())
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


class FinetuneTask(Task):
    kind = "cnn_finetune"
    title = "MNIST CNN, fine-tuned on your digits"
    space = SPACE
    input_shape = (28, 28, 1)
    cpus = 2
    run_params = ("parent_run",)
    file_params = ("digits_file",)

    def check_ready(self, params, store):
        if not params["parent_run"]:
            raise ValueError("choose the CNN run to fine-tune (--parent-run RUN_ID; `runs list --kind cnn` lists them)")
        kind = store.get(params["parent_run"]).get("kind")
        if kind not in ("cnn", self.kind):
            raise ValueError(f"run {params['parent_run']!r} is a {kind} run, not a CNN")
        if not params["digits_file"]:
            raise ValueError("no personal digits: correct a few readings first (--digits-file FILE.npz)")
        if not len(load_personal(params["digits_file"])):
            raise ValueError("the personal digits set is empty: correct a few readings first")

    def prepare(self, params, store=None):
        import tensorflow as tf

        store = store or RunStore()
        self.check_ready(params, store)
        parent = store.load_model(params["parent_run"])
        parent_params = base_params(store, params["parent_run"])
        personal_x, personal_y = load_personal(params["digits_file"]).arrays()
        data = load_for(parent_params)
        mx, my = subset(data.x_train, data.y_train, params["mnist_size"] or None, params["seed"] + 1)
        mx, my = (mx[:0], my[:0]) if not params["mnist_size"] else (mx, my)
        if parent_params.get("augment_invert"):
            mx, my = add_inverted(mx, my)
        x, y = mixed_training_set(personal_x, personal_y, mx, my, params["personal_repeat"])
        train = (tf.data.Dataset.from_tensor_slices((x, y)).cache()
                 .shuffle(len(x), seed=params["seed"], reshuffle_each_iteration=True).batch(params["batch_size"])
                 .prefetch(tf.data.AUTOTUNE))
        xt = (data.x_test.astype("float32") / 255.0)[..., None]
        test = tf.data.Dataset.from_tensor_slices((xt, data.y_test.astype("int32"))).batch(EVAL_BATCH)
        info = {"source": data.source, "parent": params["parent_run"],
                "description": f"{len(personal_y)} of your digits × {params['personal_repeat']} mixed with "
                               f"{len(my):,} MNIST training digits ({data.description}); validation: MNIST test set",
                "n_personal": int(len(personal_y)), "n_train": int(len(y)), "n_test": int(len(data.y_test)),
                "augment_invert": bool(parent_params.get("augment_invert"))}
        arrays = {"parent": parent, "parent_params": parent_params, "personal_x": personal_x,
                  "personal_y": personal_y, "x_test": data.x_test, "y_test": data.y_test,
                  "x_train": data.x_train, "y_train": data.y_train,
                  "parent_personal_probs": predict_digits(parent, personal_x)}
        return Prepared(train, test, info, arrays)

    def build(self, params, prepared=None):
        if prepared is None:
            raise ValueError("fine-tuning starts from a stored run's model: prepare the data first")
        return clone_for_training(prepared.arrays["parent"], params["learning_rate"])

    def evaluate(self, model, prepared):
        a = prepared.arrays
        metrics = evaluate_digits(model, a["x_test"], a["y_test"])
        parent_pred = predict_digits(a["parent"], a["x_test"].astype("float32") / 255.0).argmax(1)
        before = a["parent_personal_probs"].argmax(1)
        after = predict_digits(model, a["personal_x"]).argmax(1)
        y = a["personal_y"]
        metrics.update({
            "parent_test_accuracy": float((parent_pred == a["y_test"]).mean()),
            "personal_accuracy": float((after == y).mean()) if len(y) else 0.0,
            "parent_personal_accuracy": float((before == y).mean()) if len(y) else 0.0,
            "personal_labels": [int(v) for v in y],
            "personal_before": [int(v) for v in before],
            "personal_after": [int(v) for v in after],
        })
        return metrics

    def record_fields(self, params, prepared):
        return {"parent": params["parent_run"]}

    def run_files(self, model, prepared):
        return ood_files(model, prepared, bool(prepared.arrays["parent_params"].get("augment_invert")))


TASK = FinetuneTask()
