"""The Your-table page's first steps: upload a CSV (or take an example), choose the label, see what becomes of each
column and leave any out. The uploaded file is checked before it is kept (:func:`core.tabular.reading.read_table`):
a bad file is one message and nothing else happens."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.store import RunNotFound
from core.tabular.columns import MAX_CLASSES, guess_label, plan_columns
from core.tabular.data import load_table, parse_drop
from core.tabular.examples import EXAMPLES, example_csv
from core.tabular.reading import MAX_BYTES, MAX_COLUMNS, MAX_ROWS, Table, TableError, read_table
from core.tabular.task import run_table
from core.tabular.uploads import keep_upload
from ui.session import cached, get_current, owner_id, store
from ui.text import literal

KIND = "tabular"
PATH, NAME, ERROR = "tabular.path", "tabular.name", "tabular.table_error"
CAPS = (f"At most {MAX_BYTES // 2**20} MB, {MAX_ROWS:,} rows, {MAX_COLUMNS} columns and {MAX_CLASSES} classes; "
        "comma or semicolon separated (decimal commas with semicolons), as a spreadsheet saves it.")


def use_table(data: bytes, name: str) -> None:
    """Check a table and keep it for this visitor; a bad one leaves only its message."""
    try:
        read_table(data, name)
        path = keep_upload(store().root, owner_id(), data, name)
    except TableError as err:
        st.session_state[ERROR] = str(err)
        st.session_state.pop(PATH, None)
        return
    st.session_state.pop(ERROR, None)
    st.session_state[PATH], st.session_state[NAME] = str(path), name
    for key in ("tabular.label_choice", "tabular.drop_choice"):
        st.session_state.pop(key, None)


def _example(name: str) -> None:
    use_table(example_csv(name), f"{name}.csv")


def _use_run_table(run_id: str) -> None:
    """The table a run (this visitor's or a shared one) was trained on, with its label and dropped columns."""
    try:
        record = store().get(run_id, owner_id())
        data = run_table(store(), run_id, owner_id())
    except (RunNotFound, OSError, ValueError):
        st.session_state[ERROR] = f"run {run_id} keeps no table (a sweep's trial, or a run deleted meanwhile)"
        return
    use_table(data, record.get("table", {}).get("name", "table.csv"))
    st.session_state["tabular.label_choice"] = record["params"].get("label") or None
    st.session_state["tabular.drop_choice"] = parse_drop(record["params"].get("drop", ""))
    if not st.session_state["tabular.label_choice"]:
        st.session_state.pop("tabular.label_choice")


def table_source() -> tuple[Table, str] | None:
    """The upload box and the examples; the table in use and its path on the server (None: none yet)."""
    upload = st.file_uploader("Your table (CSV)", type=["csv", "txt", "tsv"], key="tabular.csv_upload", help=CAPS)
    if upload is not None and st.session_state.get("tabular.uploaded") != upload.file_id:
        st.session_state["tabular.uploaded"] = upload.file_id
        use_table(upload.getvalue(), upload.name)
    st.caption(CAPS + " Or try an example:")
    for column, (name, title) in zip(st.columns(len(EXAMPLES)), EXAMPLES.items()):
        column.button(title, key=f"tabular.example.{name}", on_click=_example, args=(name,), width="stretch")
    current = get_current(KIND)
    if not st.session_state.get(PATH) and current is not None and current.run_id:
        st.button(f"Use the table of run {current.run_id}", key="tabular.run_table", on_click=_use_run_table,
                  args=(current.run_id,))
    if st.session_state.get(ERROR):
        st.error(literal(st.session_state[ERROR], limit=400))
        return None
    path = st.session_state.get(PATH)
    if not path or not Path(path).is_file():
        return None
    return cached(KIND, "table", path, lambda: load_table(path)), path


def column_choices(table: Table) -> tuple[str, list[str]]:
    """The label and the columns left out, chosen by the visitor; shows what becomes of every column."""
    frame = table.frame
    name = st.session_state.get(NAME, "table.csv")
    notices = "; ".join(table.notices)
    st.caption(literal(f"{name}: {len(frame):,} rows × {frame.shape[1]} columns, {table.dialect}"
                       + (f" ({notices})" if notices else ""), limit=600))
    st.dataframe(frame.head(8), hide_index=True, key="tabular.preview")
    columns = list(frame.columns)
    guess = guess_label(frame)
    left, right = st.columns(2)
    label = left.selectbox("Label column: what to predict", columns, index=columns.index(guess),
                           key="tabular.label_choice", help="Guessed from its name (label, class, target, species, "
                           "diagnosis...), else the last text column.")
    drops = right.multiselect("Columns to leave out", [c for c in columns if c != label and "," not in c],
                              key="tabular.drop_choice", help="Left out of the network's inputs.")
    plan = plan_columns(frame, label, drops, table.decimal)
    st.markdown("**What the network makes of each column**")
    st.dataframe([{"column": r.name, "becomes": r.role, "why": r.reason, "empty cells": r.empty} for r in plan],
                 hide_index=True, key="tabular.plan")
    return label, drops
