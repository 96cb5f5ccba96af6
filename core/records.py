"""The schema of a run's ``run.json``: what each field must be, checked whenever a record is read.

A record written by another version, edited by hand or damaged on disk must never turn into a traceback in a
page or the CLI: :func:`check_record` names the first field that is wrong, and the store lists such a run as
damaged with that reason. The run's id always comes from its folder's name, never from the file.
"""

from __future__ import annotations

import math
from numbers import Real

STATUSES = ("done", "stopped", "failed")
LOCAL_OWNER = "local"  # the command line's runs, and runs recorded before owners existed
NAME_MAX = 80  # characters of a run's name


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _curves(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, list) and all(_number(x) for x in v) for k, v in value.items())


def _points(value) -> bool:
    return isinstance(value, list) and all(
        isinstance(p, list | tuple) and len(p) == 2 and all(_number(x) for x in p) for p in value)


# field -> (required, check, what it must be)
FIELDS = {
    "kind": (True, lambda v: isinstance(v, str) and v != "", "a model kind"),
    "status": (False, lambda v: v in STATUSES, f"one of {', '.join(STATUSES)}"),
    "params": (False, lambda v: isinstance(v, dict), "a mapping of hyper-parameters"),
    "started": (False, lambda v: isinstance(v, str), "a date as text"),
    "duration": (False, lambda v: _number(v) and v >= 0, "seconds (a number >= 0)"),
    "metrics": (False, lambda v: isinstance(v, dict), "a mapping of metric names to values"),
    "history": (False, _curves, "a mapping of metric names to lists of numbers"),
    "batch_loss": (False, _points, "a list of (position, loss) pairs"),
    "epochs_completed": (False, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                         "a whole number"),
    "has_model": (False, lambda v: isinstance(v, bool), "true or false"),
    "owner": (False, lambda v: isinstance(v, str), "text"),
    "shared": (False, lambda v: isinstance(v, bool), "true or false"),
    "name": (False, lambda v: isinstance(v, str) and len(v) <= NAME_MAX, f"text of at most {NAME_MAX} characters"),
    "sweep": (False, lambda v: isinstance(v, str), "text"),
    "parent": (False, lambda v: isinstance(v, str), "a run id (the run a fine-tuning started from)"),
    "error": (False, lambda v: v is None or isinstance(v, str), "text"),
    "warning": (False, lambda v: v is None or isinstance(v, str), "text"),
}


def check_record(record) -> str | None:
    """None for a sound record, else the reason it is not (for the user: which field, what it should be)."""
    if not isinstance(record, dict):
        return "run.json does not hold a record (a JSON object)"
    for name, (required, check, expected) in FIELDS.items():
        if name not in record:
            if required:
                return f"run.json has no {name!r}"
            continue
        if not check(record[name]):
            return f"{name!r} in run.json should be {expected}, not {str(record[name])[:40]!r}"
    return None


# --- who may see and change a run ----------------------------------------------------------------------------------
# A run belongs to whoever made it (``owner``): a signed-in user, a browser's id, or ``local`` for the command line.
# Its owner always sees it; others see it once it is ``shared``. Command-line runs are shared unless marked
# otherwise: they are the operator's, made for everyone on the server.

def owner_of(record: dict) -> str:
    return record.get("owner", LOCAL_OWNER)


def is_shared(record: dict) -> bool:
    return record.get("shared", owner_of(record) == LOCAL_OWNER)


def visible_to(record: dict, viewer: str | None) -> bool:
    """Whether ``viewer`` (an owner id; None: the command line, which sees everything) may see the run."""
    return viewer is None or owner_of(record) == viewer or is_shared(record)
