"""The CNN page's "Fool the CNN" and "Correct it and retrain" parts (ui/cnn_fool.py, ui/cnn_correct.py) under
AppTest, on a drawn-like digit: a tiny untrained CNN for the views, the session's small trained run to fine-tune."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.cnn_lessons_support import need_mnist
from tests.conftest import MNIST_NPZ

TINY = {"train_size": 1000, "epochs": 1, "precision": "float32", "data_source": "file", "data_path": str(MNIST_NPZ)}
QUICK_FINETUNE = {"mnist_size": 500, "epochs": 1, "personal_repeat": 10}


def _script(parent_run=None, runs_root=None, settings=None):
    import os

    import numpy as np

    from ui.session import Current, ensure_tf, get_current, set_current

    if runs_root:
        os.environ["NN_PLAYGROUND_RUNS"] = runs_root
    ensure_tf()
    if get_current("cnn") is None:
        if parent_run:
            from ui.session import load_run_model, store

            model, params = load_run_model("cnn", parent_run), store().get(parent_run)["params"]
        else:
            import keras

            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 5, activation="relu"),
                                      keras.layers.MaxPooling2D(4), keras.layers.Flatten(),
                                      keras.layers.Dense(10, activation="softmax")])
            params = {"augment_invert": False}
        set_current("cnn", Current(model, params, {}, parent_run, parent_run or "tiny"))
    from ui.cnn_correct import correct_it, personal_section
    from ui.cnn_fool import fool_the_cnn

    image = np.zeros((28, 28), "float32")
    image[5:23, 12:16] = 1.0  # a "1"
    rng = np.random.default_rng(0)
    correct_it(image, 1)
    fool_the_cnn(image, rng.integers(0, 256, (40, 28, 28)).astype("uint8"), rng.integers(0, 10, 40))
    personal_section(get_current("cnn"), settings)


def _texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])


def test_fooling_view_slider_target_and_curve():
    at = AppTest.from_function(_script, default_timeout=60).run()
    assert not at.exception
    assert "perturbed" not in _texts(at)  # closed by default: strokes do not pay for it
    at.toggle(key="cnn.fool").set_value(True).run()
    assert not at.exception
    assert "ε = 0.05" in _texts(at)
    at.slider(key="cnn.fool_eps").set_value(0.3).run()
    assert "At ε = 0.30 it" in _texts(at)
    at.selectbox(key="cnn.fool_target").set_value(7).run()
    assert not at.exception
    assert "Ink changed: mean |Δx| =" in _texts(at)
    at.button(key="cnn.fool_curve").click().run()
    assert not at.exception
    assert "Accuracy on 500 MNIST test digits" in _texts(at) and "ε 0.30:" in _texts(at)
    assert "The maths of fooling a network" in [e.label for e in at.expander]


def test_a_corrected_drawing_joins_my_digits_and_clear_empties_them():
    at = AppTest.from_function(_script, default_timeout=60).run()
    assert "That's wrong" in at.selectbox(key="cnn.correct_label").label
    assert at.button(key="cnn.correct_add").disabled
    at.selectbox(key="cnn.correct_label").set_value(4).run()
    at.button(key="cnn.correct_add").click().run()
    assert not at.exception
    assert at.session_state["cnn.personal"].labels == [4]
    assert at.selectbox(key="cnn.correct_label").value is None  # emptied for the next drawing: no double adds
    assert "**My digits** (1)" in _texts(at)
    assert "Fine-tuning starts from a saved run" in _texts(at)  # the tiny model has no run
    at.button(key="cnn.personal_clear").click().run()
    assert len(at.session_state["cnn.personal"]) == 0 and "Add to my digits" in _texts(at)


@pytest.mark.ray
def test_finetuning_from_the_page_shows_before_and_after(runs_dir):
    need_mnist()
    import time

    from core.registry import get_task
    from core.store import RunStore
    from core.training import run_training

    store = RunStore(runs_dir)
    parent = run_training(get_task("cnn"), TINY, store=store)  # a tiny parent run, saved with its statistics
    parent_id = parent.run_id
    at = AppTest.from_function(_script, args=(parent_id, str(runs_dir), QUICK_FINETUNE), default_timeout=60).run()
    for label in (4, 4):
        at.selectbox(key="cnn.correct_label").set_value(label).run()
        at.button(key="cnn.correct_add").click().run()
    assert not at.exception and "Fine-tune on my digits" in _texts(at)
    at.button(key="cnn_finetune.train").click().run()
    from ui.session import job_board

    job = job_board().get(at.session_state["browser_id"], "cnn_finetune")
    assert job is not None and job.wait(120), "the fine-tuning did not finish"
    deadline = time.time() + 10
    while "Before and after" not in [s.value for s in at.subheader] and time.time() < deadline:
        at.run()
    assert not at.exception
    assert "Before and after" in [s.value for s in at.subheader], _texts(at)
    assert {m.label for m in at.metric} >= {"Your digits read right", "MNIST test accuracy"}
    run_id = job.progress.snapshot()["run_id"]
    record = store.get(run_id)
    assert record["parent"] == parent_id and record["kind"] == "cnn_finetune"
    at.button(key="cnn.use_finetuned").click().run()
    assert not at.exception
    assert at.session_state["current"]["cnn"].run_id == run_id
    assert "The page reads digits with the fine-tuned model" in next(s.value for s in at.success)


def test_the_run_with_the_other_augmentation_reads_the_same_perturbed_image(runs_dir):
    import keras

    from core.store import RunStore

    keras.utils.set_random_seed(1)
    other = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    run_id = RunStore(runs_dir).save({"kind": "cnn", "status": "done", "params": {"augment_invert": True}}, other)
    at = AppTest.from_function(_script, default_timeout=60).run()
    at.toggle(key="cnn.fool").set_value(True).run()
    assert not at.exception
    assert any(m.value.startswith(f"**{run_id}** (with the inversion augmentation) reads your digit as")
               for m in at.markdown), _texts(at)


@pytest.mark.ray
def test_a_fine_tuned_run_is_fine_tuned_again_with_its_cnn_ancestors_settings(runs_dir):
    from core.mnist.finetune import base_params
    from core.store import RunStore

    store = RunStore(runs_dir)
    cnn = store.save({"kind": "cnn", "status": "done", "params": {"augment_invert": True, "data_source": "file"}})
    first = store.save({"kind": "cnn_finetune", "status": "done", "parent": cnn, "params": {"parent_run": cnn}})
    second = store.save({"kind": "cnn_finetune", "status": "done", "parent": first, "params": {"parent_run": first}})
    assert base_params(store, second) == base_params(store, cnn) == {"augment_invert": True, "data_source": "file"}
