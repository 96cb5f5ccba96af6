"""The MNIST CNN model kind: hyper-parameters, data, model and evaluation for the training machinery."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.metrics import confusion
from core.mnist.cnn import DEFAULT_LEARNING_RATE, build_cnn, predict_digits
from core.mnist.data import DATA_PARAMS, load_for, make_datasets
from core.mnist.ood import STATS_FILE, attach, attached, fit_ood, score_one, stats_for_ref
from core.mnist.preprocess import PreprocessError, load_image_bytes, prediction_summary, preprocess_digit
from core.params import Param, ParamSpace
from core.tasks import Prepared, Task

SPACE = ParamSpace((
    Param("conv1_filters", 16, "int", 1, 256, help="Filters of the first 5x5 convolution."),
    Param("conv2_filters", 32, "int", 1, 256, help="Filters of the second convolution."),
    Param("conv3_filters", 64, "int", 1, 256, help="Filters of the third convolution."),
    Param("conv4_filters", 128, "int", 1, 256, help="Filters of the fourth convolution."),
    Param("kernel_size", 5, "int", 1, 9, help="Side of the square convolution kernels."),
    Param("dense_units", 128, "int", 8, 1024, help="Neurons of the dense layer before the softmax."),
    Param("dropout", 0.4, "float", 0.0, 0.9, step=0.05, help="Share of dense activations dropped while training."),
    Param("learning_rate", DEFAULT_LEARNING_RATE, "float", 1e-5, 1.0, log=True, help="Adam's step size."),
    Param("batch_size", 128, "int", 8, 2048, help="Images per gradient step."),
    Param("epochs", 10, "int", 1, 100, help="Passes over the training set."),
    Param("train_size", 60000, "int", 100, 60000, step=100,
          help="Training images used (a subset trains faster; capped at what the data source holds)."),
    Param("augment_invert", False, "bool", label="Inversion augmentation",
          help="Add dark-on-light copies (1 - x) of every image to the training and test sets."),
    Param("precision", "float32", "choice", choices=("float32", "mixed_bfloat16", "auto"),
          help="float32 as in the portfolio; mixed_bfloat16 trains about 1.6x faster on CPUs with native bf16 "
               "(AVX512-BF16/AMX) and was ~0.1% less accurate in our runs; auto picks bf16 where it is native."),
    Param("seed", 42, "int", 0, 2**31 - 1, help="Seed for weights, dropout and shuffling."),
    *DATA_PARAMS,
), groups={  # how the sidebar groups the settings
    "Architecture": ("conv1_filters", "conv2_filters", "conv3_filters", "conv4_filters", "kernel_size", "dense_units",
                     "dropout"),
    "Training": ("learning_rate", "batch_size", "epochs", "precision", "seed"),
    "Data": ("train_size", "augment_invert", "data_source", "data_path"),
})

PRESETS = {
    "Quick: 20,000 images × 3 epochs": {"train_size": 20000, "epochs": 3, "precision": "auto"},
    "Portfolio: 60,000 images × 10 epochs": {"train_size": 60000, "epochs": 10, "precision": "float32"},
}


def evaluate_digits(model, x_test, y_test, n_mistakes: int = 16) -> dict:
    """Accuracy on the test set and on its inverted copy, the confusion matrix, the most confident mistakes.

    ``x_test``: uint8 (n, 28, 28) white-on-black, as MNIST stores it.
    """
    x = x_test.astype("float32") / 255.0
    probs = predict_digits(model, x)
    inv_probs = predict_digits(model, 1.0 - x)
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != y_test)
    worst = wrong[np.argsort(-probs[wrong, pred[wrong]])][:n_mistakes]
    test_acc = float((pred == y_test).mean())
    inv_acc = float((inv_probs.argmax(1) == y_test).mean())
    return {
        "test_accuracy": test_acc,
        "inverted_test_accuracy": inv_acc,
        "combined_test_accuracy": (test_acc + inv_acc) / 2,
        "confusion": confusion(y_test, pred, 10).tolist(),
        "mistakes": [{"index": int(i), "label": int(y_test[i]), "predicted": int(pred[i]),
                      "probability": float(probs[i, pred[i]])} for i in worst],
    }


class CnnTask(Task):
    kind = "cnn"
    title = "MNIST CNN"
    space = SPACE
    input_shape = (28, 28, 1)
    cpus = 2
    cli_inputs = "image files (PNG/JPEG) of digits"

    def prepare(self, params, store=None):
        data = load_for(params)
        train, test, info = make_datasets(data, augment_invert=params["augment_invert"],
                                          train_size=params["train_size"], batch_size=params["batch_size"],
                                          seed=params["seed"])
        info = {"source": data.source, "description": data.description, "notices": list(data.notices), **info}
        return Prepared(train, test, info, {"x_test": data.x_test, "y_test": data.y_test,
                                            "x_train": data.x_train, "y_train": data.y_train})

    def build(self, params, prepared=None):
        filters = [params[f"conv{i}_filters"] for i in range(1, 5)]
        return build_cnn(filters, params["kernel_size"], params["dense_units"], params["dropout"],
                         params["learning_rate"], params["precision"])

    def evaluate(self, model, prepared):
        return evaluate_digits(model, prepared.arrays["x_test"], prepared.arrays["y_test"])

    def run_files(self, model, prepared):
        return ood_files(model, prepared, bool(prepared.info.get("augment_invert")))

    def attach_run(self, model, ref, store):
        attach(model, stats_for_ref(store, ref, model))

    def predict_inputs(self, model, inputs):
        stats = attached(model)  # see attach_run
        results = []
        for name in inputs:
            path = Path(name)
            entry = {"file": name}
            try:
                if not path.is_file():
                    raise PreprocessError(f"no such file: {name}")
                prep = preprocess_digit(load_image_bytes(path.read_bytes()))
                probs = predict_digits(model, prep.image)[0]
                entry.update(prediction_summary(probs))
                if stats is not None:
                    ood = score_one(model, stats, prep.image)
                    entry.update({"not_a_digit": ood["not_a_digit"], "ood_score": ood["score"],
                                  "ood_threshold": ood["threshold"], "ood_percentile": ood["percentile"]})
                entry["probabilities"] = [float(p) for p in probs]
                entry["inverted"] = bool(prep.inverted)
            except PreprocessError as err:
                entry["error"] = str(err)
            results.append(entry)
        return results

    def format_prediction(self, result):
        if "error" in result:
            return f"{result['file']}: {result['error']}"
        verdict = "unsure: " + result["message"] if result.get("unsure") else result["message"]
        if result.get("not_a_digit"):
            return (f"{result['file']}: this does not look like a digit (out-of-distribution score "
                    f"{result['ood_score']:.2f} > {result['ood_threshold']:.2f}; the network alone would say "
                    f"{result['digit']}, p={result['probability']:.3f})")
        return f"{result['file']}: {result['digit']} (p={result['probability']:.3f}) — {verdict}"


def ood_files(model, prepared, augment_invert: bool) -> dict[str, bytes]:
    """The out-of-distribution statistics (:mod:`core.mnist.ood`) fitted on the run's data, as the run's file.

    A failure costs only the file: the statistics are fitted on first use instead.
    """
    a = prepared.arrays
    try:
        stats = fit_ood(model, a["x_train"], a["y_train"], a["x_test"], augment_invert=augment_invert)
    except Exception:
        return {}
    return {STATS_FILE: stats.to_bytes()}


TASK = CnnTask()
