"""``python -m core jobs [--json]``: the trainings a server has queued and running, for its operator.

The server's executor writes its queue to ``<runs dir>/.jobs.json`` (:data:`core.executor.JOBS_FILE`) on every
change and on every beat while it has jobs; this command reads that file for the runs directory it is given
(``--runs-dir`` / ``$NN_PLAYGROUND_RUNS``, the server's own). No file, or an empty list: nothing is queued or
running. A list that has not been rewritten for :data:`STALE_SECONDS` is shown with a warning: the server that wrote
it stopped (or hangs), so it may be out of date.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from core.executor import JOBS_FILE
from core.executor.worker import process_running
from core.progress import format_seconds
from core.scheduler import ordinal
from core.store import default_runs_dir

STALE_SECONDS = 10.0  # a busy executor rewrites the file several times a second


def add_parser(sub) -> None:
    p = sub.add_parser("jobs", help="the trainings the server using this runs directory has queued and running")
    p.add_argument("--json", action="store_true", help="print the server's list as JSON")
    p.set_defaults(handler=cmd_jobs)


def read_jobs(runs_dir: Path | str) -> dict:
    """The server's list: ``runs_dir``, ``written`` (time), ``age`` (seconds), ``pid`` (the server's process),
    ``stale`` (not rewritten for :data:`STALE_SECONDS`), ``server_running`` and ``jobs`` (the executor's rows).
    Raises ``ValueError`` for a file that is not such a list."""
    path = Path(runs_dir) / JOBS_FILE
    base = {"runs_dir": str(runs_dir), "written": None, "age": None, "pid": None, "stale": False,
            "server_running": None, "jobs": []}
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return base
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read the server's list of trainings {path}: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise ValueError(f"{path} is not a list of trainings")
    written = data.get("written")
    age = max(0.0, time.time() - written) if isinstance(written, int | float) else None
    return {**base, **data, "age": age, "stale": age is None or age > STALE_SECONDS,
            "server_running": process_running(data.get("pid"))}


def _row(job: dict, age: float) -> list[str]:
    queued = job.get("state") == "queued"
    place = f"{ordinal(job['place'])}" if queued and job.get("place") else "-"
    waited = job.get("waited")
    if queued and waited is not None:
        waited += age  # as of now, not as of the file
    elapsed = job.get("elapsed")
    if elapsed is not None:
        elapsed += age
    eta = job.get("eta")
    starts = ("unknown" if eta is None else format_seconds(max(0.0, eta - age))) if queued else "-"
    worker = job.get("worker") or {}
    where = f"{worker.get('host')} (pid {worker.get('pid')})" if worker else "-"
    return [str(job.get("state")), place, str(job.get("owner")), str(job.get("kind")), format_seconds(waited),
            format_seconds(elapsed) if elapsed is not None else "-", starts, where]


def print_jobs(info: dict, out=sys.stdout) -> None:
    jobs, where = info["jobs"], f"the server of {info['runs_dir']}"
    if not jobs:
        print(f"no trainings queued or running ({where})", file=out)
        return
    running = sum(job.get("state") == "running" for job in jobs)
    print(f"{len(jobs)} training{'s' * (len(jobs) != 1)} on {where}: {running} running, {len(jobs) - running} queued",
          file=out)
    if info["stale"]:
        state = {True: "still running", False: "no longer running"}.get(info["server_running"], "unknown")
        print(f"warning: this list was written {format_seconds(info['age'])} ago by process {info['pid']} "
              f"({state}): it may be out of date", file=out)
    rows = [["state", "place", "owner", "kind", "waited", "elapsed", "starts in", "worker"],
            *(_row(job, info["age"] or 0.0) for job in jobs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)


def cmd_jobs(args) -> int:
    try:
        info = read_jobs(args.runs_dir or default_runs_dir())
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(info, default=str))
    else:
        print_jobs(info)
    return 0
