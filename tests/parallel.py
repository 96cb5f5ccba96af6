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
  waits (at most 8 s) until what earlier tests left in the background has settled.
* **What the turns cost** is recorded: for each quiet part, how long it waited for the lock (the other worker's
  running test), for the machine to settle, and how long it held the lock; for each shared test, how long it waited
  behind a quiet one. The run's controller prints a summary line (:func:`quiet_summary`, from ``conftest.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from pathlib import Path

import pytest

SMALL_CNN_GROUP = "cnn-small"
QUIET_BUSY = 0.25  # a quiet test starts once the machine is less busy than this (a share of all its cores) ...
QUIET_WAIT_SECONDS = 8  # ... or after this long (a fresh training worker's start-up settles within it; 30 s
# was mostly waited out in full when something outside the run kept the machine busy)
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


def _busy_share(seconds: float = 0.25) -> float:
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


def wait_until_quiet(limit: float = QUIET_WAIT_SECONDS) -> float:
    """Wait (at most ``limit`` seconds) until what earlier tests left running in the background (a Ray that shuts
    down, a training finishing on the shared server) has settled: the machine under :data:`QUIET_BUSY` busy.
    Returns the seconds waited."""
    start = time.monotonic()
    deadline = start + limit
    busy = _busy_share()  # each sample takes a quarter of a second
    while busy > QUIET_BUSY and time.monotonic() < deadline:
        busy = _busy_share()
    return time.monotonic() - start


_turn: dict = {}  # the running test's hold of the machine lock: its open file, and the turnstile's path
_records: list[dict] = []  # without xdist: the quiet parts' costs, kept in this process


def _run_base(run: str) -> Path:
    return Path(tempfile.gettempdir()) / f"nnp-pytest-{run}"


def _record(**entry) -> None:
    """Note one quiet part's (or one shared test's) waits: in the run's shared file under xdist, else in memory."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        _records.append(entry)
        return
    with open(_run_base(run).with_suffix(".quiet"), "a") as f:  # one short line per write: appends do not interleave
        f.write(json.dumps(entry) + "\n")


def quiet_summary(run: str | None) -> str | None:
    """One line on what the quiet turns cost in this run (``run``: xdist's test-run id, None without xdist)."""
    records = _records
    if run:
        path = _run_base(run).with_suffix(".quiet")
        if not path.is_file():
            return None
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    quiet = [r for r in records if r["kind"] != "shared"]
    shared = [r for r in records if r["kind"] == "shared"]
    if not quiet:
        return None
    def total(rs, key):
        return sum(r[key] for r in rs)
    parts = "; ".join(f"{r['test'].split('::')[-1][:40]} {r['kind']} lock {r['lock']:.1f} settle {r['settle']:.1f} "
                      f"held {r['held']:.1f}" for r in quiet)
    return (f"quiet turns: {len(quiet)}, lock wait {total(quiet, 'lock'):.1f} s, settle {total(quiet, 'settle'):.1f} s, "
            f"held {total(quiet, 'held'):.1f} s; shared tests held back behind them: {len(shared)} waits, "
            f"{total(shared, 'lock'):.1f} s [{parts}]")


@contextlib.contextmanager
def machine_turn(quiet: bool, test: str = ""):
    """Hold the run's machine lock for one test: alone when ``quiet``, shared otherwise (no-op without xdist); a
    quiet test then waits for the machine to settle (:func:`wait_until_quiet`)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        if quiet:
            settle = wait_until_quiet()
            start = time.monotonic()
            try:
                yield
            finally:
                _record(test=test, kind="test", lock=0.0, settle=settle, held=time.monotonic() - start)
        else:
            _turn.update(test=test)
            try:
                yield
            finally:
                _turn.clear()
        return
    base = _run_base(run)
    machine, turnstile = base.with_suffix(".machine"), base.with_suffix(".turnstile")
    with open(machine, "a") as handle:
        asked = time.monotonic()
        with _locked(turnstile, fcntl.LOCK_EX):  # a quiet test waiting here holds back the next shared holder
            fcntl.flock(handle, fcntl.LOCK_EX if quiet else fcntl.LOCK_SH)
        lock = time.monotonic() - asked
        _turn.update(handle=handle, turnstile=turnstile, quiet=quiet, test=test)
        settle = 0.0
        try:
            if quiet:
                settle = wait_until_quiet()
            yield
        finally:
            _turn.clear()
            fcntl.flock(handle, fcntl.LOCK_UN)
            if quiet:
                _record(test=test, kind="test", lock=lock, settle=settle, held=time.monotonic() - asked - lock - settle)
            elif lock > 0.1:
                _record(test=test, kind="shared", lock=lock, settle=0.0, held=0.0)


@contextlib.contextmanager
def quiet_section():
    """Inside a test: alone on the machine for the block (see the module doc), then shared again.

    The shared hold is let go before the turnstile is taken, so two workers that both ask cannot wait for each other.
    """
    held = dict(_turn)
    test = held.get("test", "")
    if "handle" not in held or held["quiet"]:  # no xdist, or the whole test is quiet already
        settle = 0.0 if held.get("quiet") else wait_until_quiet()
        start = time.monotonic()
        try:
            yield
        finally:
            if not held.get("quiet"):
                _record(test=test, kind="section", lock=0.0, settle=settle, held=time.monotonic() - start)
        return
    handle = held["handle"]
    asked = time.monotonic()
    fcntl.flock(handle, fcntl.LOCK_UN)
    with _locked(held["turnstile"], fcntl.LOCK_EX):
        fcntl.flock(handle, fcntl.LOCK_EX)
    lock = time.monotonic() - asked
    settle = wait_until_quiet()
    start = time.monotonic()
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_SH)
        _record(test=test, kind="section", lock=lock, settle=settle, held=time.monotonic() - start)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    with machine_turn(quiet=item.get_closest_marker("quiet") is not None, test=item.nodeid):
        yield
