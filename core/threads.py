"""TensorFlow's (and OpenMP's) thread pools bounded to ``n`` threads, for a process that runs one training on ``n``
CPUs (a sweep's trial in a Ray worker, a worker of a pool). The one place that names the variables."""

from __future__ import annotations

import os

# Lazy import: TensorFlow (5.6 s to import) inside bound_threads, after the variables that must precede it are set.

THREAD_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def thread_env(n: int) -> dict[str, str]:
    """The environment variables that bound TensorFlow's intra- and inter-op pools and OpenMP to ``n`` threads, for
    a process yet to start (a ``subprocess`` environment, Ray's ``runtime_env``)."""
    return {var: str(n) for var in THREAD_VARS}


def bound_threads(n: int) -> None:
    """This process's TensorFlow (and OpenMP) use ``n`` threads: the variables set before TensorFlow starts, and
    TensorFlow's own setting re-applied where still possible. Imports TensorFlow."""
    os.environ.update(thread_env(n))
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # already initialised (an earlier trial of a reused worker), with the same bound
        pass
