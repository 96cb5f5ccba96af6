"""Widgets for a model's hyper-parameters, generated from its :class:`core.params.ParamSpace`.

Each widget keeps its value for the whole session (``persist_state="session"``), so leaving the page
and coming back loses nothing, and is bound to the URL query string (``bind="query-params"``), so a
copied link opens the page with the same settings, as in TensorFlow Playground.
"""

from __future__ import annotations

import streamlit as st

from core.params import Param, ParamError, ParamSpace
from core.registry import get_task
from ui.navigation import PAGE_OF
from ui.text import literal

SLIDER_MAX_SPAN = 1024


def widget_key(kind: str, name: str) -> str:
    return f"{kind}.{name}"


def _widget(p: Param, key: str, container):
    common = dict(key=key, help=p.help, bind="query-params", persist_state="session")
    if p.kind == "choice":
        return container.selectbox(p.title, p.choices, index=p.choices.index(p.default), **common)
    if p.kind == "str":
        return container.text_input(p.title, value=p.default, **common)
    if p.kind == "bool":
        return container.toggle(p.title, value=p.default, **common)
    if p.kind == "float" and p.log:
        return container.number_input(p.title, min_value=float(p.min), max_value=float(p.max), value=float(p.default),
                                      step=float(p.default), format="%.1e", **common)
    if p.kind == "float":
        return container.slider(p.title, float(p.min), float(p.max), float(p.default), step=p.step or 0.01, **common)
    if p.max - p.min <= SLIDER_MAX_SPAN and p.name != "seed":
        return container.slider(p.title, int(p.min), int(p.max), int(p.default), step=int(p.step or 1), **common)
    return container.number_input(p.title, int(p.min), int(p.max), int(p.default), step=1, **common)


def link_problems(space: ParamSpace, kind: str) -> list[tuple[Param, str]]:
    """The settings of the link (``?iris.epochs=…``) that are not used: invalid values (their widgets fall back) and
    settings a link may not give (a path on the server: removed from the address, never read)."""
    problems = []
    for p in space:
        key = widget_key(kind, p.name)
        text = st.query_params.get(key)
        if text is None:
            continue
        if not p.browser:
            del st.query_params[key]
            problems.append((p, f"{key} ({p.title}) cannot be set from a link: a page never opens files the server "
                                "names from a link."))
            continue
        try:
            p.parse(text)
        except ParamError as err:
            problems.append((p, str(err)))
    return problems


def reserve_notices() -> None:
    """Keep the top of the page for notices about the link's settings (streamlit_app.py, before the page runs)."""
    st.session_state[_NOTICES] = st.container()


_NOTICES = "_link_notices_box"


def param_controls(space: ParamSpace, kind: str, container=None, skip: tuple[str, ...] = ()) -> dict:
    """Render a widget per hyper-parameter (in the sidebar by default) and return the validated values."""
    container = container or st.sidebar
    problems = link_problems(space, kind)
    values = {}
    for title, members in space.grouped():
        shown = [p for p in members if p.name not in skip and p.browser]
        if title and shown:
            container.markdown(f"**{title}**")
        for p in shown:
            values[p.name] = _widget(p, widget_key(kind, p.name), container)
    notices = st.session_state.get(_NOTICES, container)  # the top of the page in the served app
    for p, problem in problems:
        if p.browser:  # say what the widget shows, so the notice and the widget agree
            shown = values.get(p.name, p.default)
            problem += f" — using {'the default ' if shown == p.default else ''}{shown!r}."
        notices.warning(f"Link setting ignored: {literal(problem, limit=400)}", icon="🔗")
    container.button("Reset to the portfolio's defaults", key=f"{kind}.reset", width="stretch",
                     on_click=apply_params, args=(kind, space.defaults()))
    return space.validate({**space.defaults(), **values})


def apply_params(kind: str, params: dict) -> None:
    """Put stored settings (a run's) into the widgets; call from a callback or before they are rendered."""
    names = {p.name for p in get_task(kind).space if p.browser}
    for name, value in params.items():
        if name in names:
            st.session_state[widget_key(kind, name)] = value


def query_for(kind: str, params: dict) -> dict[str, str]:
    """The URL query string of these settings (``?iris.epochs=25&...``), as the widgets bind it."""
    space = get_task(kind).space
    return {widget_key(kind, name): text for name, text in space.to_strings(params).items() if space[name].browser}


def switch_with_params(kind: str, params: dict) -> None:
    """Go to ``kind``'s page with these settings in its widgets and in its address, so a copied link reproduces
    them (not from a callback: ``st.switch_page`` ends the script run)."""
    apply_params(kind, params)
    st.switch_page(PAGE_OF[kind], query_params=query_for(kind, params))

