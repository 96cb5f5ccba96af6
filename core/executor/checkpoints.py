"""What is left of a job whose worker died: the last completed epoch's checkpoint, saved as a run.

Each worker leaves its run's record so far and the model's weights in the mailbox after every epoch
(:mod:`core.executor.worker`); a worker killed mid-training (out of memory, ``kill -9``, a machine that left the
cluster) cannot save its run, so the server saves that checkpoint in its place."""

from __future__ import annotations

import contextlib
import json

from core.model_files import ModelFile

# Lazy import: Ray (0.3 s) inside save_last_checkpoint, as in core.executor.dispatch.

KEPT = "The model of its last completed epoch was kept."  # what a failed job's message adds when its checkpoint was saved


def save_last_checkpoint(mailbox, job, message: str) -> tuple[str | None, str]:
    """Save ``job``'s last checkpoint from ``mailbox`` as a failed run with ``message``: (its run id or None, the
    message saying what became of it)."""
    import ray

    kept = None
    with contextlib.suppress(Exception):  # no checkpoint reachable: the job ends without a run
        kept = ray.get(mailbox.last_checkpoint.remote(job.id), timeout=30)
    if kept is None or not job.save:
        return None, message
    record, model = kept
    try:
        run_id = job.store.save({**json.loads(record), "params": job.params, "error": message + "."}, ModelFile(model))
    except Exception as err:
        return None, message + f" Its last checkpoint could not be saved ({type(err).__name__}: {err})."
    return run_id, f"{message} {KEPT}"
