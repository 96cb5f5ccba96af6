"""The model kinds the playground knows: one explicit table, cheap to import.

Each task module imports TensorFlow only inside its methods, so importing them all here costs no more than
their hyper-parameter declarations. A task names the custom Keras classes its files need
(:meth:`core.tasks.Task.custom_objects`); whoever loads a model of that kind passes them to the store.
"""

from __future__ import annotations

from core.cvae.latent_task import TASK as LATENT
from core.cvae.task import TASK as CVAE
from core.iris.task import TASK as IRIS
from core.mnist.finetune import TASK as CNN_FINETUNE
from core.mnist.task import TASK as CNN
from core.plane.task import TASK as PLANE
from core.tabular.task import TASK as TABULAR
from core.tasks import Task

TASKS: dict[str, Task] = {task.kind: task for task in (IRIS, CNN, CVAE, LATENT, CNN_FINETUNE, PLANE, TABULAR)}


def kinds() -> list[str]:
    return list(TASKS)


def get_task(kind: str) -> Task:
    """The :class:`core.tasks.Task` of a model kind (``iris``, ``cnn``, ``cvae``, ``latent``)."""
    if kind not in TASKS:
        raise KeyError(f"unknown model kind {kind!r}; choose one of {', '.join(TASKS)}")
    return TASKS[kind]
