"""Keep TensorFlow's native start-up lines off stderr (the server log, the command line, a notebook's console).

While ``import tensorflow`` runs, TensorFlow 2.21's C++ libraries log through absl before absl is initialised, so
``TF_CPP_MIN_LOG_LEVEL`` does not reach them. Each of two libraries writes::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796630975.024143    9027 port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:1796630975.024546    9027 cudart_stub.cc:31] Could not find cuda drivers on your machine, ...

(and on some CPUs cpu_feature_guard's "This TensorFlow binary is optimized ..." with its "To enable the following
instructions" line); then, when it first looks for its devices, on a machine without a GPU::

    E0000 00:00:1796631125.734068   10670 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ...

Informational lines, and an "error" that only says there is no GPU (this app trains on CPUs), which a reader of the
log takes for problems. :func:`quiet_startup` puts a finder in front of Python's import system that runs the
``tensorflow`` package's own import, and then its first look for devices, with file descriptor 2 passed through a
filter: those lines are dropped, every other line (warnings, other errors, a crash's last words, Python's own
messages) is written on as it comes. Only that moment is filtered, once; later logging is TensorFlow's, under
``TF_CPP_MIN_LOG_LEVEL`` (``core`` sets "2"). With that variable at "0", TensorFlow's choice to show everything,
nothing is filtered.

Like the variables set in :mod:`core`, this works only if ``core`` is imported before TensorFlow: :mod:`core`
calls :func:`quiet_startup` on import.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import threading

STARTUP_LINE = re.compile(rb"^(I\d{4} |WARNING: All log messages before absl::InitializeLog\(\)"
                          rb"|To enable the following instructions|E\d{4} .*\] failed call to cuInit: )")
PACKAGE = "tensorflow"
JOIN_SECONDS = 5.0  # a child process that inherited the filtered stderr keeps the pipe open: do not wait on it


@contextlib.contextmanager
def filtered_stderr(dropped: re.Pattern = STARTUP_LINE):
    """Within the block, lines written to file descriptor 2 that match ``dropped`` are left out; the others are
    passed on at once, by a thread, to the stderr that was there before."""
    sys.stderr.flush()
    original = os.dup(2)
    read, write = os.pipe()

    def pump() -> None:
        with os.fdopen(read, "rb") as pipe:
            for line in pipe:
                if not dropped.match(line):
                    os.write(original, line)

    thread = threading.Thread(target=pump, name="tf-startup-stderr", daemon=True)
    thread.start()
    os.dup2(write, 2)
    os.close(write)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # the pipe's last write end closes: the thread reads to its end
        thread.join(JOIN_SECONDS)
        if not thread.is_alive():
            os.close(original)


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as Python would, and runs its import under :func:`filtered_stderr` (once)."""

    def find_spec(self, name, path, target=None):
        if name != PACKAGE:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # once: the package's own modules are found as usual
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, run = spec.loader, spec.loader.exec_module

        def exec_module(module) -> None:
            try:
                with filtered_stderr():
                    run(module)
                    module.config.list_physical_devices()  # the cuInit line now (before any setting: allowed)
            finally:
                del loader.exec_module  # the loader's own method again

        loader.exec_module = exec_module
        return spec


def quiet_startup() -> None:
    """Install the finder once, at the front of ``sys.meta_path``, unless TensorFlow is imported already or
    ``TF_CPP_MIN_LOG_LEVEL`` is "0" (show everything)."""
    if PACKAGE in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") == "0":
        return
    if not any(isinstance(finder, _QuietImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())
