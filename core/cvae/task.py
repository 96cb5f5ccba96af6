"""The CVAE model kind: hyper-parameters, binarised MNIST, the model and its test ELBO for the training machinery."""

from __future__ import annotations

from core.cvae.data import DEFAULT_BATCH_SIZE, DEFAULT_LATENT_DIM, DEFAULT_LEARNING_RATE, binarize, make_cvae_datasets
from core.mnist.data import DATA_PARAMS, load_for
from core.params import Param, ParamSpace
from core.tasks import Prepared, Task

# Lazy imports: core.cvae.model and core.cvae.latent (TensorFlow, Keras and TensorFlow Probability: 5.6 s to import
# TensorFlow alone) inside the methods that build and run a model, so that the registry imports this kind at once.

SPACE = ParamSpace((
    Param("latent_dim", DEFAULT_LATENT_DIM, "int", 1, 64, help="Size of the latent code z (2 lets you see and move through it)."),
    Param("beta", 1.0, "float", 0.0, 10.0, step=0.1,
          help="Weight of the KL term (1 = the ELBO; >1 a smoother latent space, <1 sharper reconstructions)."),
    Param("learning_rate", DEFAULT_LEARNING_RATE, "float", 1e-6, 1e-1, log=True, help="Adam's step size."),
    Param("batch_size", DEFAULT_BATCH_SIZE, "int", 8, 1024, help="Images per gradient step."),
    Param("epochs", 10, "int", 1, 100, help="Passes over the training set."),
    Param("train_size", 60000, "int", 100, 60000, step=100, help="Training images used (capped at what the data holds)."),
    Param("seed", 42, "int", 0, 2**31 - 1, help="Seed for weights, sampling and shuffling."),
    *DATA_PARAMS,
), groups={  # how the sidebar groups the settings
    "Model": ("latent_dim", "beta"),
    "Training": ("learning_rate", "batch_size", "epochs", "seed"),
    "Data": ("train_size", "data_source", "data_path"),
})

PRESETS = {
    "Quick: 10,000 images × 3 epochs": {"train_size": 10000, "epochs": 3, "learning_rate": 1e-3},
    "Portfolio: 60,000 images × 10 epochs": {"train_size": 60000, "epochs": 10, "learning_rate": DEFAULT_LEARNING_RATE},
}
N_RECONSTRUCTIONS = 16  # fixed test digits shown after every epoch, as in the portfolio
MIN_TEST = 1000  # validation/test images: MNIST's 6:1 train/test ratio of the training images, at least this many


def test_size(train_size: int, available: int) -> int:
    """Test images for a training set: evaluation costs in proportion to what was asked (all 10,000 for 60,000)."""
    return min(available, max(MIN_TEST, train_size // 6))


class CvaeTask(Task):
    kind = "cvae"
    title = "Convolutional VAE"
    space = SPACE
    curve_metrics = ("loss", "elbo")
    headline_metric = "test_elbo"
    input_shape = (28, 28, 1)
    cpus = 2

    def prepare(self, params, store=None):
        data = load_for(params)
        n = min(params["train_size"], len(data.x_train))
        n_test = test_size(n, len(data.x_test))
        train, test = make_cvae_datasets(data.x_train[:n], data.x_test[:n_test], batch_size=params["batch_size"],
                                         seed=params["seed"])
        info = {"source": data.source, "description": f"{data.description}; this run trains on {n:,} and tests on {n_test:,}",
                "notices": list(data.notices), "n_train": n, "n_test": n_test}
        arrays = {"x_test": data.x_test, "y_test": data.y_test, "probe": binarize(data.x_test[:N_RECONSTRUCTIONS])}
        return Prepared(train, test, info, arrays)

    def build(self, params, prepared=None):
        from core.cvae.model import build_cvae

        return build_cvae(params["latent_dim"], params["beta"], params["learning_rate"])

    def epoch_extra(self, model, prepared, epoch):
        """The reconstructions of the 16 fixed test digits after this epoch (float16, for display)."""
        from core.cvae.latent import reconstruct

        return {"epoch": epoch + 1, "reconstructions": reconstruct(model, prepared.arrays["probe"]).astype("float16")}

    def evaluate(self, model, prepared):
        result = model.evaluate(prepared.validation, verbose=0, return_dict=True)
        return {"test_elbo": float(result["elbo"]), "test_loss": float(result["loss"])}

    def custom_objects(self):
        from core.cvae.model import CVAE

        return {"core>CVAE": CVAE}


TASK = CvaeTask()
