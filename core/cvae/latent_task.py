"""The latent classifier kind: the portfolio's dense 128-128-10 network on a trained CVAE's encodings.

The features of an image are its encoder's mean and log-variance, concatenated; the CVAE comes from a
stored run (``cvae_run``), so the classifier's run records exactly which encoder it read.
"""

from __future__ import annotations

import numpy as np

from core.cvae.task import TASK as CVAE_TASK
from core.mnist.data import load_for
from core.params import Param, ParamSpace
from core.store import RunStore
from core.tasks import Prepared, Task

# Lazy imports: TensorFlow and Keras (5.6 s to import), core.cvae.latent (imports TensorFlow) and scikit-learn's
# KNeighborsClassifier (1.1 s) inside the functions that train, so that the registry imports this kind at once.

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
    run_params = ("cvae_run",)
    title = "Latent classifier"
    space = SPACE

    def check_ready(self, params, store):
        if not params["cvae_run"]:
            raise ValueError("choose a trained CVAE run first (--cvae-run RUN_ID; `runs list --kind cvae` lists them)")
        kind = store.get(params["cvae_run"]).get("kind")
        if kind != "cvae":
            raise ValueError(f"run {params['cvae_run']!r} is a {kind} run, not a CVAE")

    def prepare(self, params, store=None):
        import tensorflow as tf

        from core.cvae.latent import latent_features

        store = store or RunStore()
        self.check_ready(params, store)
        record = store.get(params["cvae_run"])
        cvae = store.load_model(params["cvae_run"], CVAE_TASK.custom_objects())
        data = load_for(record["params"])
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

    def build(self, params, prepared=None):
        if prepared is None:
            raise ValueError("the latent classifier's size comes from its CVAE's encodings: prepare the data first")
        return build_latent_classifier(prepared.arrays["features"], (params["hidden_units"],) * 2,
                                       params["learning_rate"], params["dropout"])

    def evaluate(self, model, prepared):
        probs = np.asarray(model(prepared.arrays["f_test"], training=False))
        acc = float((probs.argmax(1) == prepared.arrays["y_test"]).mean())
        return {"test_accuracy": acc, "knn_accuracy": prepared.info["knn_accuracy"]}


def build_latent_classifier(input_dim: int = 4, hidden=(128, 128), learning_rate: float = 1e-3, dropout: float = 0.0):
    """The portfolio's classifier of latent features: Dense 128 ReLU -> Dense 128 ReLU -> Dense 10 softmax.

    Sparse categorical cross-entropy, Adam, accuracy; optional dropout after each hidden layer.
    """
    import keras

    layers = [keras.Input(shape=(input_dim,))]
    for units in hidden:
        layers.append(keras.layers.Dense(units, activation="relu"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers, name="latent_classifier")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def knn_baseline(train_features, y_train, test_features, y_test, k: int = 15) -> float:
    """Test accuracy of a k-nearest-neighbour classifier (scikit-learn) on the same latent features."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=k).fit(train_features, y_train)
    return float(knn.score(test_features, y_test))


TASK = LatentTask()
