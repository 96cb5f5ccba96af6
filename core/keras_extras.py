"""Keep Keras's optional extras out of TensorFlow processes: 1.4 s and 167 MB less per process.

When they are installed, Keras 3 imports IPython (its notebook file editor), matplotlib (an image gallery),
scikit-learn (its scikit-learn wrappers) and pandas (slicing DataFrames given to ``fit``) while it is itself
imported, for features this project never uses. Each of these imports is guarded in Keras (``try: import pandas
except ImportError: pandas = None``), so Keras works without them. Measured on this 2-core machine (``import
tensorflow, keras`` in a fresh process, three runs each): 3.85-4.03 s and 742 MB resident with them, 2.42-2.53 s and
575 MB without. Every training worker, CLI command and the web server import TensorFlow, so that is paid in each.

:func:`leave_out` puts a finder in front of Python's import system that answers ImportError only when a module of
``keras`` or ``tensorflow`` itself imports one of :data:`LEFT_OUT`; the project's own imports of scikit-learn or pandas
(the Iris data, CSV tables) and Streamlit's of pandas load them as usual. Keras then treats them as absent for good
(for instance ``fit`` takes NumPy arrays or datasets, not DataFrames: the project converts tables to arrays itself).
It must run before TensorFlow is imported: :mod:`core` calls it on import, as it sets TensorFlow's variables.
"""

from __future__ import annotations

import importlib.abc
import sys

LEFT_OUT = frozenset({"IPython", "matplotlib", "sklearn", "pandas"})
IMPORTERS = ("keras", "tensorflow")  # the packages whose optional imports of LEFT_OUT are refused


def _importer() -> str:
    """The ``__name__`` of the module whose code is running the import (the first frame outside importlib)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen_importlib")):
        frame = frame.f_back
    return frame.f_globals.get("__name__", "") if frame is not None else ""


class _LeaveOut(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in LEFT_OUT and _importer().partition(".")[0] in IMPORTERS:
            raise ImportError(f"{name} is left out of Keras's imports (core.keras_extras)")
        return None  # every other import goes on to Python's own finders


def leave_out() -> None:
    """Install the finder once, at the front of ``sys.meta_path``."""
    if not any(isinstance(finder, _LeaveOut) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LeaveOut())
