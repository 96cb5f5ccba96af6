"""Text that a visitor or a file supplied (link values, file names, run names), shown inside Markdown as plain text.

Streamlit renders the body of ``st.warning``, ``st.caption``, ``st.markdown`` … as Markdown (GitHub flavour:
links, images, bare ``www.`` / ``http://`` autolinks, ``:red[…]`` directives, ``$…$`` maths). CommonMark lets any
ASCII punctuation character be escaped with a backslash, so escaping all of them leaves only literal text.
"""

from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def literal(text, limit: int = 200) -> str:
    """``text`` on one line (at most ``limit`` characters), every Markdown character escaped."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _PUNCTUATION.sub(r"\\\1", flat)
