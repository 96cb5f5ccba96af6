"""A training worker's housekeeping (core.executor.worker): the folders of killed workers are removed, no other."""

import os
import subprocess
import sys

from core.executor.worker import JOB_FOLDER, remove_orphans


def _gone_pid() -> int:
    """The pid of a process that has ended (and been waited for)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_folders_of_gone_workers_are_removed_and_the_others_kept(tmp_path):
    gone = tmp_path / f"{JOB_FOLDER}{_gone_pid()}-0db067fe571b-7eka3dk7"
    running = tmp_path / f"{JOB_FOLDER}{os.getpid()}-1b71b16109b3-gbsm3b9k"  # this process: alive
    other = tmp_path / "nn-jobless-folder"
    for folder in (gone, running, other):
        (folder / "runs").mkdir(parents=True)
    (gone / "runs" / "model.keras").write_bytes(b"half a model")
    assert remove_orphans(tmp_path) == [gone]
    assert not gone.exists() and running.exists() and other.exists()
