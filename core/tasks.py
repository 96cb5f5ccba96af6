"""What a model kind provides to the generic training machinery (:mod:`core.training`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from core.params import ParamSpace


@dataclass
class Prepared:
    """The data of one training run.

    train / validation: ``tf.data.Dataset`` objects fed to ``model.fit``.
    info: a JSON-able description (data source, sizes) stored with the run.
    arrays: NumPy arrays a task keeps for evaluation and for the pages' analysis.
    """

    train: Any
    validation: Any
    info: dict
    arrays: dict = field(default_factory=dict)


class Task(ABC):
    """A model kind: its hyper-parameters, data, model builder and evaluation.

    Subclasses import TensorFlow inside their methods, so that reading ``space`` stays instant.
    """

    kind: str = ""
    title: str = ""
    space: ParamSpace
    curve_metrics: tuple[str, ...] = ("loss", "accuracy")
    headline_metric: str = "test_accuracy"  # the one figure that sums a run up (Runs page, sweeps)
    input_shape: tuple[int, ...] = ()
    cli_inputs: str = ""  # what ``python -m core predict KIND`` reads; empty: this kind predicts nothing there
    cpus: int = 1  # CPUs (and TensorFlow threads) of one training in a worker process (core.executor)
    steps_per_execution: int = 1  # training steps per call of Keras's compiled train function (core.step_losses)
    publish_seconds: float = 0.5  # how often a worker sends the job's progress (and its epoch pictures) to the server
    run_params: tuple[str, ...] = ()  # settings naming a stored run the training reads (sent to the worker with it)
    file_params: tuple[str, ...] = ()  # settings naming a file the training reads (sent to the worker with it)

    @abstractmethod
    def prepare(self, params: dict, store=None) -> Prepared:
        """Load the data and build the input pipelines (``store``: where runs this task reads are kept)."""

    @abstractmethod
    def build(self, params: dict, prepared: Prepared | None = None):
        """A compiled Keras model for these hyper-parameters (and, where it depends on them, these data)."""

    @abstractmethod
    def evaluate(self, model, prepared: Prepared) -> dict:
        """Final metrics (JSON-able) of a trained model."""

    def check_ready(self, params: dict, store) -> None:
        """Raise ValueError (or ``RunNotFound``) with a message for the user when training cannot start."""

    def epoch_extra(self, model, prepared: Prepared, epoch: int) -> Any:
        """Something to publish after each epoch (e.g. reconstructions); None for nothing."""
        return None

    def callbacks(self, prepared: Prepared, progress) -> tuple:
        """More Keras callbacks for this kind's training (e.g. one publishing a picture between epochs with
        ``progress.add_extra``); none by default."""
        return ()

    def custom_objects(self) -> dict:
        """The custom Keras classes a saved model of this kind needs, by registered name (for loading files)."""
        return {}

    def predict_inputs(self, model, inputs: list[str]) -> list[dict]:
        """Predictions for command-line inputs (numbers or file names); ValueError for bad input.

        Kinds that predict from the command line set :attr:`cli_inputs` and override this.
        """
        raise ValueError(f"prediction from the command line is not available for {self.kind}")

    def check_inputs(self, inputs: list[str]) -> None:
        """Raise ValueError for command-line inputs that cannot be predicted, before any model is loaded (a few
        seconds with TensorFlow's import): the same checks :meth:`predict_inputs` makes. None by default."""

    def attach_run(self, model, ref: str, store) -> None:
        """Before command-line predictions: read what they need beside the model from the run ``ref`` names."""

    def record_fields(self, params: dict, prepared: Prepared) -> dict:
        """More top-level fields for the run's record (e.g. the ``parent`` run a fine-tuning started from)."""
        return {}

    def run_files(self, model, prepared: Prepared) -> dict[str, bytes]:
        """Files saved in the run's folder beside the model (name -> content): statistics fitted on the data."""
        return {}

    def format_prediction(self, result: dict) -> str:
        return str(result)

    def check_model(self, model) -> None:
        """Raise ValueError when a loaded model does not take this kind's inputs."""
        try:
            shape = tuple(model.inputs[0].shape[1:])
        except (AttributeError, IndexError, TypeError, ValueError):
            return
        if self.input_shape and shape != tuple(self.input_shape):
            raise ValueError(f"this model takes inputs of shape {shape}, but the {self.title} needs {self.input_shape}")
