"""The full suite on two processes (pytest-xdist, ``-n 2``): which tests share a process, and quiet turns.

* **Groups** (``--dist loadgroup``, set in ``pyproject.toml``): each group runs in one worker process, so what its
  tests share is made once. Every browser test is in one group (one Streamlit server, one chromium); the files that
  use the small trained CNN of ``tests/cnn_lessons_support.py`` are in one (it is trained once per process); every
  other file is a group of its own (its module fixtures are made once).
* **Longest first.** xdist hands out groups in the order of the collected tests (``--no-loadscope-reorder``, set in
  ``pyproject.toml``, instead of xdist's order by number of tests), each worker holding its running group and the
  next. The groups that took longest in CI (:data:`LONG_GROUPS`) come first, the rest by their number of tests, so
  the run ends on small groups that even out the two workers, not on a long one that one worker runs alone.
* **Quiet turns.** A test that asserts a latency bar README states (a pen-up to verdict, a slider to its reading, a
  Stop) measures with the machine to itself, without stopping the other worker: for the measurement, every process
  of the other workers (their tests, servers, browsers, Ray nodes and everything they start meanwhile) runs at the
  lowest OS priority (nice 19, thread by thread), and its own priorities come back afterwards. Waiting instead for the
  other worker's running test to end cost 116-149 s of one worker per run (the seventh session's measurement). On
  Linux a nice-19 process gets about 2% of a core against a busy nice-0 one. Quiet parts take turns among
  themselves (a file lock the run's workers share, ``fcntl.flock``). A test marked ``quiet`` has its turn from its
  fixtures' set-up to their teardown; a test that only times a part of what it does has its turn for that part,
  inside ``with quiet_section():`` (its set-up, such as a training, shares the machine). Either way the quiet part
  first waits (at most 8 s) until what runs at normal priority outside its own processes, such as a Ray that earlier
  tests left shutting down, has settled. Without xdist there is no other worker to lower.
* **What the turns cost** is recorded: for each quiet part, how long it waited for another quiet part's turn, for
  the machine to settle, and how long it held its turn, with the number of processes lowered. The run's controller
  prints a summary line (:func:`quiet_summary`, from ``conftest.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

SMALL_CNN_GROUP = "cnn-small"
QUIET_BUSY = 0.25  # a quiet test starts once the machine is less busy than this (a share of all its cores) ...
QUIET_WAIT_SECONDS = 8  # ... or after this long (a fresh training worker's start-up settles within it; 30 s
# was mostly waited out in full when something outside the run kept the machine busy)
BROWSER_GROUP = "browser"
# The longest groups, longest first: their seconds in CI on clean clones (2 cores, -n 2), seventh session's run.
LONG_GROUPS = (BROWSER_GROUP,  # 524
               "tests/test_cli_commands.py",  # 290
               "tests/test_sweep.py",  # 156
               "tests/test_cluster.py",  # 88
               "tests/test_cli_executor.py",  # 81
               SMALL_CNN_GROUP,  # 46
               "tests/test_cvae.py", "tests/test_cli.py", "tests/test_pages.py", "tests/test_cnn.py",  # 34-35 each
               "tests/test_sweep_queue.py", "tests/test_playground.py")
QUIET_NICE = 19  # the other workers' processes during a quiet part: the lowest priority


def group_of(item: pytest.Item) -> str:
    """The worker group of a test: browser tests together, the small-CNN users together, else its file."""
    if item.get_closest_marker("browser"):
        return BROWSER_GROUP
    if getattr(item.module, "small_run", None) is not None:
        return SMALL_CNN_GROUP
    return item.nodeid.split("::")[0]


def assign_groups(items: list[pytest.Item]) -> None:
    """Give every test its worker group, and order the groups longest first (module doc); the tests within a group
    keep their order."""
    groups = {}
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group_of(item)))
        groups[item] = item.get_closest_marker("xdist_group").args[0]
    sizes = Counter(groups.values())
    rank = {group: i for i, group in enumerate(LONG_GROUPS)}
    items.sort(key=lambda item: (rank.get(groups[item], len(rank)), -sizes[groups[item]], groups[item]))


@contextlib.contextmanager
def _locked(path: Path, mode: int):
    with open(path, "a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _busy_share(seconds: float = 0.25) -> float:
    """The share of the machine's CPU time in use at normal priority over ``seconds`` (from ``/proc/stat``, whose
    ``nice`` column is the lowered processes' user time; 0 where it is missing)."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return sum(values), values[1] + values[3] + values[4]  # total, nice + idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return 0.0
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def wait_until_quiet(limit: float = QUIET_WAIT_SECONDS) -> float:
    """Wait (at most ``limit`` seconds) until what earlier tests left running in the background (a Ray that shuts
    down, a training finishing on the shared server) has settled: the machine under :data:`QUIET_BUSY` busy at
    normal priority.
    Returns the seconds waited."""
    start = time.monotonic()
    deadline = start + limit
    busy = _busy_share()  # each sample takes a quarter of a second
    while busy > QUIET_BUSY and time.monotonic() < deadline:
        busy = _busy_share()
    return time.monotonic() - start


_records: list[dict] = []  # without xdist: the quiet parts' costs, kept in this process


def _run_base(run: str) -> Path:
    return Path(tempfile.gettempdir()) / f"nnp-pytest-{run}"


def _record(**entry) -> None:
    """Note one quiet part's costs: in the run's shared file under xdist, else in memory."""
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
    if not records:
        return None
    def total(key):
        return sum(r[key] for r in records)
    parts = "; ".join(f"{r['test'].split('::')[-1][:40]} {r['kind']} turn {r['lock']:.1f} settle {r['settle']:.1f} "
                      f"held {r['held']:.1f} lowered {r['lowered']}" for r in records)
    return (f"quiet turns: {len(records)}, waiting for another's turn {total('lock'):.1f} s, settle "
            f"{total('settle'):.1f} s, held {total('held'):.1f} s (the other workers' processes at nice {QUIET_NICE} "
            f"meanwhile) [{parts}]")


def _parents() -> tuple[dict[int, int], set[int]]:
    """Every thread's and process's parent process on the machine (a thread's is its own process), from ``/proc``;
    and which of them are threads (besides their process's first)."""
    parent, threads = {}, set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent[pid] = int(f.read().rsplit(")", 1)[1].split()[1])
            for task in os.listdir(f"/proc/{pid}/task"):
                if int(task) != pid:
                    parent[int(task)] = pid
                    threads.add(int(task))
        except (OSError, ValueError, IndexError):
            continue
    return parent, threads


def _descendants(roots: set[int], parent: dict[int, int]) -> list[int]:
    """The threads and processes under ``roots`` (themselves included), each after its parent."""
    children = defaultdict(list)
    for pid, ppid in parent.items():
        children[ppid].append(pid)
    order, todo = [], sorted(roots)
    while todo:
        pid = todo.pop()
        order.append(pid)
        todo.extend(children.get(pid, ()))
    return order


def _nice(pid: int) -> int | None:
    try:
        return os.getpriority(os.PRIO_PROCESS, pid)  # on Linux: one thread's nice, whatever its id
    except OSError:
        return None


def _set_nice(pid: int, nice: int) -> None:
    with contextlib.suppress(OSError):  # it ended meanwhile
        os.setpriority(os.PRIO_PROCESS, pid, nice)


class _Lowered:
    """The other xdist workers' threads and processes at :data:`QUIET_NICE` for a quiet part; :meth:`restore` gives
    each its own nice back, and one born meanwhile (which inherited the low one) its parent's former nice."""

    def __init__(self):
        parent, threads = _parents()
        me, controller = os.getpid(), os.getppid()
        others = {pid for pid, ppid in parent.items() if ppid == controller and pid != me and pid not in threads}
        self.roots, self.former = others, {}
        for pid in _descendants(others, parent):
            nice = _nice(pid)
            if nice is not None and nice < QUIET_NICE:
                self.former[pid] = nice
                _set_nice(pid, QUIET_NICE)

    def restore(self) -> None:
        parent, _ = _parents()
        inherited: dict[int, int] = {}
        for pid in _descendants(self.roots, parent):
            if pid in self.former:
                _set_nice(pid, self.former[pid])
                inherited[pid] = self.former[pid]
            elif (from_parent := inherited.get(parent.get(pid))) is not None and _nice(pid) == QUIET_NICE:
                _set_nice(pid, from_parent)  # born while lowered
                inherited[pid] = from_parent


@contextlib.contextmanager
def _quiet_turn(test: str, kind: str):
    """One quiet part: its turn among quiet parts, the other workers lowered, the machine settled (module doc)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    asked = time.monotonic()
    with contextlib.ExitStack() as stack:
        lowered = None
        if run:
            stack.enter_context(_locked(_run_base(run).with_suffix(".turn"), fcntl.LOCK_EX))
            lowered = _Lowered()
            stack.callback(lowered.restore)
        lock = time.monotonic() - asked
        settle = wait_until_quiet()
        start = time.monotonic()
        try:
            yield
        finally:
            _record(test=test, kind=kind, lock=lock, settle=settle, held=time.monotonic() - start,
                    lowered=len(lowered.former) if lowered else 0)


_current = {"test": "", "quiet": False}  # the running test, and whether it has its quiet turn already


@contextlib.contextmanager
def quiet_section():
    """Inside a test: the machine to itself for the block (see the module doc)."""
    if _current["quiet"]:  # the whole test is quiet already
        yield
        return
    with _quiet_turn(_current["test"], "section"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    quiet = item.get_closest_marker("quiet") is not None
    _current.update(test=item.nodeid, quiet=quiet)
    try:
        with _quiet_turn(item.nodeid, "test") if quiet else contextlib.nullcontext():
            yield
    finally:
        _current.update(test="", quiet=False)
