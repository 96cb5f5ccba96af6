"""Correct it and retrain, on the CNN page: the drawing with the user's label joins a personal set of digits
(``st.session_state``), and a ``cnn_finetune`` job (:mod:`core.mnist.finetune`) trains the current run further on
them mixed with MNIST, through the shared training panel; then its digits and MNIST before and after.

The job reads the set from a file, as from the command line: the page writes it (named by its content) into
the runs folder's ``.personal`` directory, which the runs listing skips.
"""

from __future__ import annotations

import streamlit as st

from core.mnist.finetune import SPACE, PersonalDigits, base_params, load_personal
from core.plots import upscale
from core.progress import FINISHED
from ui.session import Current, get_current, get_job, load_run_model, saved_runs, set_current, store
from ui.text import literal
from ui.training_panel import training_panel

KIND = "cnn"
FINETUNE = "cnn_finetune"
SET_KEY = "cnn.personal"


def personal() -> PersonalDigits:
    """This page view's personal digits."""
    return st.session_state.setdefault(SET_KEY, PersonalDigits())


def _add(image) -> None:
    """Add to my digits' callback: the drawing with the chosen label; the selector is emptied for the next one."""
    label = st.session_state.get("cnn.correct_label")
    if label is None:
        return
    try:
        personal().add(image, int(label))
    except ValueError as err:
        st.session_state["cnn.correct_error"] = str(err)
        return
    st.session_state["cnn.correct_label"] = None
    st.session_state["cnn.correct_added"] = int(label)


def correct_it(image, read: int) -> None:
    """Under the drawn digit's verdict: the right label and "Add to my digits" (a full rerun shows the set)."""
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    label = left.selectbox("That's wrong: it is a…", list(range(10)), index=None, key="cnn.correct_label",
                           placeholder=f"not a {read}? choose the digit")
    right.button("Add to my digits", key="cnn.correct_add", disabled=label is None, on_click=_add, args=(image,))
    if st.session_state.get("cnn.correct_error"):
        st.error(st.session_state.pop("cnn.correct_error"))
    if st.session_state.pop("cnn.correct_added", None) is not None:
        st.rerun()  # the whole page, not just the drawing's fragment: the set and the fine-tuning below show it


def _clear() -> None:
    personal().clear()


def _use(run_id: str, model, metrics: dict) -> None:
    """Make a fine-tuned run the page's current CNN, with its parent's settings (data, augmentation)."""
    record = store().get(run_id)
    parent = base_params(store(), run_id)  # the data and augmentation of the CNN it comes from
    set_current(KIND, Current(model, parent, metrics or record.get("metrics", {}), run_id,
                              f"{run_id} (fine-tuned from {record['parent']})", record.get("status", "done")))


def _use_saved(run_id: str) -> None:
    try:
        _use(run_id, load_run_model(FINETUNE, run_id), {})
    except Exception as err:  # a damaged run, a parent gone: say so instead of breaking the page
        st.session_state["cnn.finetuned_error"] = f"Could not use run {run_id}: {err}"


def personal_section(current: Current, settings: dict | None = None) -> None:
    """The set (thumbnails, download, clear), the fine-tuning panel, and the before/after of the last job.

    ``settings``: fine-tuning parameters other than the defaults of :data:`core.mnist.finetune.SPACE`."""
    st.header("Correct it and retrain")
    digits = personal()
    if not len(digits):
        st.info("When it misreads a drawing, choose the right digit under its verdict (**That's wrong: it is "
                "a…**) and press **Add to my digits**. Then fine-tune the network on them.")
    else:
        x, y = digits.arrays()
        st.markdown(f"**My digits** ({len(digits)}): the drawings as the network saw them, with your labels.")
        st.image([upscale(img, 2) for img in x], caption=[f"label {label}" for label in y], clamp=True)
        a, b, _ = st.columns([2, 1, 2])
        a.download_button("Download my digits (.npz)", digits.to_bytes(), file_name="my-digits.npz",
                          mime="application/octet-stream", key="cnn.personal_download")
        b.button("Clear", key="cnn.personal_clear", on_click=_clear)
    job = get_job(FINETUNE)
    if current.run_id is None:
        st.info("Fine-tuning starts from a saved run: train a model or load a saved one first (an uploaded model "
                "has no run to record as the parent).")
    elif len(digits) or job is not None:
        _finetune(current, digits, job, settings or {})
    _saved_finetuned()


def _finetune(current: Current, digits: PersonalDigits, job, settings: dict) -> None:
    shown = SPACE.validate(settings)
    st.markdown(f"**Fine-tune on my digits**: from run `{current.run_id}`'s weights, {shown['epochs']} more epochs "
                f"on your digits (each repeated {shown['personal_repeat']} times per epoch) mixed with "
                f"{shown['mnist_size']:,} MNIST training digits, so that it learns yours without forgetting the "
                "rest. The result is a new run that names its parent.")
    params = {**settings, "parent_run": current.run_id, "digits_file": ""}
    if len(digits):
        params["digits_file"] = str(digits.save(store().root / ".personal"))
    training_panel(FINETUNE, params, what="fine-tuning")
    if job is None or job.running:
        return
    snap = job.progress.snapshot()
    metrics = snap["metrics"] or {}
    if snap["status"] not in FINISHED or "personal_after" not in metrics:
        return
    _before_after(job, snap, metrics)


def _before_after(job, snap: dict, metrics: dict) -> None:
    st.subheader("Before and after")
    c1, c2 = st.columns(2)
    mine, mine0 = metrics["personal_accuracy"], metrics["parent_personal_accuracy"]
    test, test0 = metrics["test_accuracy"], metrics["parent_test_accuracy"]
    c1.metric("Your digits read right", f"{mine:.0%}", f"{(mine - mine0) * 100:+.0f} points (before: {mine0:.0%})")
    c2.metric("MNIST test accuracy", f"{test:.2%}", f"{(test - test0) * 100:+.2f} points (before: {test0:.2%})")
    try:
        images = load_personal(job.params["digits_file"]).arrays()[0]
    except ValueError:
        images = None
    captions = [f"{label}: read {b} → {a}" for label, b, a in
                zip(metrics["personal_labels"], metrics["personal_before"], metrics["personal_after"])]
    if images is not None and len(images) == len(captions):
        st.image([upscale(img, 2) for img in images], caption=captions, clamp=True)
    else:
        st.write(", ".join(captions))
    st.caption("Each caption: your label: what the parent read → what the fine-tuned model reads.")
    run_id = snap["run_id"]
    if run_id and job.model is not None:
        current = get_current(KIND)
        if current is not None and current.run_id == run_id:
            st.success(f"The page reads digits with the fine-tuned model `{run_id}`.")
        else:
            st.button("Read digits with the fine-tuned model", key="cnn.use_finetuned", type="primary",
                      on_click=_use, args=(run_id, job.model, metrics))


def _saved_finetuned() -> None:
    runs = saved_runs(FINETUNE)
    if not runs:
        return
    with st.expander(f"Fine-tuned models ({len(runs)})"):
        labels = {r.run_id: f"{r.run_id} · from {r.record.get('parent', '?')} · test accuracy "
                            f"{r.record.get('metrics', {}).get('test_accuracy', float('nan')):.3f}" for r in runs}
        chosen = st.selectbox("Fine-tuned runs", list(labels), format_func=labels.get, key="cnn.finetuned_choice")
        st.button("Use this model", key="cnn.finetuned_use", on_click=_use_saved, args=(chosen,))
        if st.session_state.get("cnn.finetuned_error"):
            st.error(literal(st.session_state.pop("cnn.finetuned_error"), 400))
