"""The full suite on two processes (pytest-xdist, ``-n 2``): which tests share a process, and quiet turns.

* **Groups** (``--dist loadgroup``, set in ``pyproject.toml``): each group runs in one worker process, so what its
  tests share is made once. Every browser test is in one group (one Streamlit server, one chromium); the files that
  use the small trained CNN of ``tests/cnn_lessons_support.py`` are in one (it is trained once per process); every
  other file is a group of its own (its module fixtures are made once).
* **Quiet turns.** A test that asserts a latency bar README states (a pen-up to verdict, a slider to its reading, a
  Stop) measures alone on the machine: the other worker starts nothing meanwhile. It is a reader-writer lock over a
  file that the run's workers share (``fcntl.flock``). Every test holds the lock shared while it runs; a quiet
  measurement holds it alone, and first takes a turnstile, which every test passes on its way in, so a stream of
  shared holders cannot starve it. A test marked ``quiet`` is alone from its fixtures' set-up to their teardown; a
  test that only times a part of what it does is alone for that part, inside ``with quiet_section():`` (its set-up,
  such as a training, shares the machine). Without xdist the lock is not taken. Either way the quiet part then
  waits (at most 30 s) until what earlier tests left in the background has settled.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from pathlib import Path

import pytest

SMALL_CNN_GROUP = "cnn-small"
QUIET_BUSY = 0.25  # a quiet test starts once the machine is less busy than this (a share of all its cores) ...
QUIET_WAIT_SECONDS = 30  # ... or after this long
BROWSER_GROUP = "browser"


def group_of(item: pytest.Item) -> str:
    """The worker group of a test: browser tests together, the small-CNN users together, else its file."""
    if item.get_closest_marker("browser"):
        return BROWSER_GROUP
    if getattr(item.module, "small_run", None) is not None:
        return SMALL_CNN_GROUP
    return item.nodeid.split("::")[0]


def assign_groups(items: list[pytest.Item]) -> None:
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group_of(item)))


@contextlib.contextmanager
def _locked(path: Path, mode: int):
    with open(path, "a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _busy_share(seconds: float = 0.5) -> float:
    """The share of the machine's CPU time in use over ``seconds`` (from ``/proc/stat``; 0 where it is missing)."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return 0.0
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def wait_until_quiet(limit: float = QUIET_WAIT_SECONDS) -> None:
    """Wait (at most ``limit`` seconds) until what earlier tests left running in the background (a Ray that shuts
    down, a training finishing on the shared server) has settled: the machine under :data:`QUIET_BUSY` busy."""
    deadline = time.monotonic() + limit
    busy = _busy_share()  # each sample takes half a second
    while busy > QUIET_BUSY and time.monotonic() < deadline:
        busy = _busy_share()


_turn: dict = {}  # the running test's hold of the machine lock: its open file, and the turnstile's path


@contextlib.contextmanager
def machine_turn(quiet: bool):
    """Hold the run's machine lock for one test: alone when ``quiet``, shared otherwise (no-op without xdist); a
    quiet test then waits for the machine to settle (:func:`wait_until_quiet`)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        if quiet:
            wait_until_quiet()
        yield
        return
    base = Path(tempfile.gettempdir()) / f"nnp-pytest-{run}"
    machine, turnstile = base.with_suffix(".machine"), base.with_suffix(".turnstile")
    with open(machine, "a") as handle:
        with _locked(turnstile, fcntl.LOCK_EX):  # a quiet test waiting here holds back the next shared holder
            fcntl.flock(handle, fcntl.LOCK_EX if quiet else fcntl.LOCK_SH)
        _turn.update(handle=handle, turnstile=turnstile, quiet=quiet)
        try:
            if quiet:
                wait_until_quiet()
            yield
        finally:
            _turn.clear()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def quiet_section():
    """Inside a test: alone on the machine for the block (see the module doc), then shared again.

    The shared hold is let go before the turnstile is taken, so two workers that both ask cannot wait for each other.
    """
    held = dict(_turn)
    if not held or held["quiet"]:  # no xdist, or the whole test is quiet already
        if not held:
            wait_until_quiet()
        yield
        return
    handle = held["handle"]
    fcntl.flock(handle, fcntl.LOCK_UN)
    with _locked(held["turnstile"], fcntl.LOCK_EX):
        fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        wait_until_quiet()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_SH)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    with machine_turn(quiet=item.get_closest_marker("quiet") is not None):
        yield
