"""A small trained CNN run shared by the CNN lessons' tests (out-of-distribution, attacks, fine-tuning).

Trained once per test session (6,000 genuine MNIST digits, 2 epochs, float32) and saved in its own runs
directory through the ordinary training loop, so its run folder holds the statistics written at save time.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache

import pytest

from tests.conftest import MNIST_NPZ

SMALL = {"train_size": 6000, "epochs": 2, "precision": "float32", "data_source": "file", "data_path": str(MNIST_NPZ)}


def need_mnist() -> None:
    if not MNIST_NPZ.is_file():
        pytest.skip("genuine MNIST (../shared/data/mnist.npz) is not on this machine")


@lru_cache(maxsize=1)
def small_run():
    """(store, run_id, model, data) of a small CNN trained and saved once per session."""
    from core.mnist.data import load_for
    from core.registry import get_task
    from core.store import RunStore
    from core.training import run_training

    folder = tempfile.mkdtemp(prefix="cnn-lessons-runs-")
    atexit.register(shutil.rmtree, folder, True)  # removed when the test process ends
    store = RunStore(folder)
    result = run_training(get_task("cnn"), SMALL, store=store)
    assert result.status == "done" and result.run_id, result.error
    return store, result.run_id, result.model, load_for(result.params)
