"""What a waiting visitor reads: their place and the time until their training starts, or why it was refused."""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.progress import format_seconds


@dataclass(frozen=True)
class Waiting:
    """A queued job's ``place`` (1-based) among ``of`` waiting jobs, and ``eta``: seconds until it starts (None:
    no duration is known for a job in its way)."""

    place: int
    of: int
    eta: float | None


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 22nd, 101st, 111th."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def waiting_text(w: Waiting) -> str:
    """What a waiting visitor reads: ``Queued: 3rd of 7, starts in about 40 s`` (no estimate when unknown)."""
    text = f"Queued: {ordinal(w.place)} of {w.of}"
    if w.eta is None:
        return text
    if w.eta < 1.5:
        return f"{text}, starts soon"
    return f"{text}, starts in about {format_seconds(w.eta) if w.eta >= 10 else f'{round(w.eta)} s'}"


def busy_text(waiting: int, seconds: float | None) -> str:
    """The answer to a Train click when the queue is full; minutes rounded up (at least 1)."""
    text = f"The server is busy: {waiting} training{'s are' if waiting != 1 else ' is'} waiting."
    if seconds is None:
        return f"{text} Try again in a few minutes."
    minutes = max(1, math.ceil(seconds / 60))
    return f"{text} Try again in about {minutes} minute{'s' * (minutes != 1)}."
