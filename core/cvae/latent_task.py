"""The latent classifier kind: the portfolio's dense 128-128-10 network on a trained CVAE's encodings.

The features of an image are its encoder's mean and log-variance, concatenated; the CVAE comes from a
stored run (``cvae_run``), so the classifier's run records exactly which encoder it read.
"""

from __future__ import annotations

from core.params import Param, ParamSpace
from core.tasks import Prepared, Task

SPACE = ParamSpace((
    Param("cvae_run", "", "str", label="CVAE run", help="The stored CVAE run whose encoder gives the features."),
    Param("hidden_units", 128, "int", 4, 1024, help="Neurons in each of the two hidden layers."),
    Param("dropout", 0.0, "float", 0.0, 0.9, step=0.05, help="Dropout after each hidden layer."),
    Param("learning_rate", 1e-3, "float", 1e-5, 1.0, log=True, help="Adam's step size."),
    Param("batch_size", 128, "int", 8, 4096, help="Encodings per gradient step."),
    Param("epochs", 20, "int", 1, 200, help="Passes over the encoded training set."),
    Param("seed", 42, "int", 0, 2**31 - 1, help="Seed for weights and shuffling."),
))


class LatentTask(Task):
    kind = "latent"
    title = "Latent classifier"
    space = SPACE

    def prepare(self, params):
        import tensorflow as tf

        from core.cvae.model import knn_baseline, latent_features
        from core.mnist.data import load_mnist
        from core.store import RunStore

        if not params["cvae_run"]:
            raise ValueError("choose a trained CVAE run first")
        store = RunStore()
        record = store.get(params["cvae_run"])
        cvae = store.load_model(params["cvae_run"])
        data = load_mnist(record["params"].get("data_path") or None)
        n = min(record["params"].get("train_size", len(data.x_train)), len(data.x_train))
        f_train = latent_features(cvae, data.x_train[:n])
        f_test = latent_features(cvae, data.x_test)
        y_train, y_test = data.y_train[:n].astype("int32"), data.y_test.astype("int32")
        train = (tf.data.Dataset.from_tensor_slices((f_train, y_train)).cache()
                 .shuffle(n, seed=params["seed"]).batch(params["batch_size"]).prefetch(2))
        test = tf.data.Dataset.from_tensor_slices((f_test, y_test)).batch(1024)
        info = {"source": data.source, "description": f"encodings by {params['cvae_run']} of {data.description}",
                "n_train": n, "n_test": len(y_test), "knn_accuracy": knn_baseline(f_train, y_train, f_test, y_test)}
        arrays = {"f_test": f_test, "y_test": y_test, "features": f_train.shape[1]}
        return Prepared(train, test, info, arrays)

    def build(self, params):
        from core.cvae.model import build_latent_classifier
        from core.store import RunStore

        latent_dim = RunStore().get(params["cvae_run"])["params"]["latent_dim"]
        return build_latent_classifier(2 * latent_dim, (params["hidden_units"],) * 2, params["learning_rate"],
                                       params["dropout"])

    def evaluate(self, model, prepared):
        import numpy as np

        probs = np.asarray(model(prepared.arrays["f_test"], training=False))
        acc = float((probs.argmax(1) == prepared.arrays["y_test"]).mean())
        return {"test_accuracy": acc, "knn_accuracy": prepared.info["knn_accuracy"]}


TASK = LatentTask()
