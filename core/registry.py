"""The model kinds the playground knows, looked up by name without importing TensorFlow."""

from __future__ import annotations

import importlib

TASK_MODULES = {
    "iris": "core.iris.task",
    "cnn": "core.mnist.task",
    "cvae": "core.cvae.task",
    "latent": "core.cvae.latent_task",
}


def kinds() -> list[str]:
    return list(TASK_MODULES)


def get_task(kind: str):
    """The :class:`core.tasks.Task` of a model kind (``iris``, ``cnn``, ``cvae``)."""
    if kind not in TASK_MODULES:
        raise KeyError(f"unknown model kind {kind!r}; choose one of {', '.join(TASK_MODULES)}")
    return importlib.import_module(TASK_MODULES[kind]).TASK


def import_all_models() -> None:
    """Import every task's model module, so custom Keras classes are registered before loading a file."""
    for kind in TASK_MODULES:
        get_task(kind).register_custom_objects()
