"""Training by hand, as the Iris and Playground pages' network sections offer it: this session's stepping model
(:class:`core.iris.neurons.Stepper`), the One step / Ten steps / Reset buttons, and the line that says where it is."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st


def session_stepper(state_key: str, key, make: Callable):
    """This session's stepper under ``state_key`` while its ``key`` (the settings it was made for) still holds; else
    the old one closed and a new one from ``make()``, from the seed's start."""
    current = st.session_state.get(state_key)
    if current is not None and current.key == key:
        return current
    if current is not None:
        current.close()
        st.session_state.pop(state_key, None)
    with st.spinner("Building the network and compiling its training step…"):
        st.session_state[state_key] = make()
    return st.session_state[state_key]


def step_buttons(stepper, prefix: str, widths: list[float]) -> list:
    """One step / Ten steps / Reset in the first three of ``st.columns(widths)``; the other columns are returned."""
    b1, b2, b3, *rest = st.columns(widths)
    if b1.button("One step", key=f"{prefix}.net.step", type="primary", width="stretch",
                 help="Train on the next batch: one optimizer update of every weight."):
        stepper.step()
    if b2.button("Ten steps", key=f"{prefix}.net.step10", width="stretch"):
        for _ in range(10):
            stepper.step()
    if b3.button("Reset to the same start", key=f"{prefix}.net.reset", width="stretch",
                 help="This seed's initial weights and a fresh optimizer, exactly; the batches start again."):
        stepper.reset()
    return rest


def step_heading(stepper) -> None:
    st.markdown(f"**Step {stepper.steps}**{stepper.where()} · {stepper.last_loss()} · training accuracy "
                f"{stepper.accuracy():.1%}")
