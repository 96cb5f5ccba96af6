"""Predict one new row of a table: a form with one field per input column, filled with the training rows' typical
values (the median of a number column, the most frequent value of a text column)."""

from __future__ import annotations

import streamlit as st

from core.plots import probability_figure
from core.tabular.columns import CATEGORY, NUMBER, YES, Encoder
from core.tabular.task import predict_row
from ui.text import literal


def predict_form(model, encoder: Encoder, key: str = "tabular.row") -> None:
    st.header("Predict a new row")
    st.caption("Every field starts at the training rows' typical value: change any and press **Predict**.")
    with st.form(key):
        row = {}
        fields = st.columns(3)
        for i, c in enumerate(encoder.columns):
            box = fields[i % 3]
            if c["role"] == NUMBER:
                row[c["name"]] = str(box.number_input(c["name"], value=float(c["fill"]), format="%g",
                                                      key=f"{key}.{i}"))
            else:
                options = c["values"] if c["role"] == CATEGORY else ["yes", "no"]
                fill = c["fill"] if c["role"] == CATEGORY else ("yes" if str(c["fill"]).lower() in YES else "no")
                fill = fill if fill in options else options[0]
                row[c["name"]] = box.selectbox(c["name"], options, index=options.index(fill), key=f"{key}.{i}")
        submitted = st.form_submit_button("Predict", type="primary")
    if submitted:
        st.session_state[f"{key}.result"] = predict_row(model, encoder, row)
    result = st.session_state.get(f"{key}.result")
    if result is not None:
        st.markdown(f"Predicted: **{literal(result['class'])}** with probability **{result['probability']:.1%}**")
        st.plotly_chart(probability_figure(list(result["probabilities"].values()), list(result["probabilities"])),
                        key=f"{key}.probs")
