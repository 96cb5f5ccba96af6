"""The executor's mailbox: a small Ray actor where workers leave progress and checkpoints and read their Stop, and
where a sweep's trials ask for their turn in the executor's queue and learn when they have it."""

from __future__ import annotations


class Mailbox:
    """The body of the executor's mailbox actor (``num_cpus=0``): where workers leave progress and checkpoints and
    read whether their job was stopped. The server takes what arrived on every beat.

    A sweep's trial (:mod:`core.sweep.gate`) asks for a turn (:meth:`request`), polls :meth:`granted` until the
    server's dispatcher has granted it (:meth:`grant`), and gives it back when it ends (:meth:`release`); the
    dispatcher takes the new requests and the releases on every beat (:meth:`take_turns`)."""

    def __init__(self):
        self.deltas: dict[str, list] = {}
        self.stops: set[str] = set()
        self.checkpoints: dict[str, tuple[str, bytes]] = {}
        self.requests: list[tuple[str, str, str, float]] = []  # (turn, owner, kind, cpus), not yet taken
        self.releases: list[tuple[str, bool]] = []  # (turn, completed), not yet taken
        self.grants: set[str] = set()

    def publish(self, job_id: str, delta: dict) -> bool:
        self.deltas.setdefault(job_id, []).append(delta)
        return job_id in self.stops

    def take(self) -> dict[str, list]:
        deltas, self.deltas = self.deltas, {}
        return deltas

    def stop(self, job_id: str) -> None:
        self.stops.add(job_id)

    def stopped(self, job_id: str) -> bool:
        return job_id in self.stops

    def checkpoint(self, job_id: str, record: str, model: bytes) -> None:
        self.checkpoints[job_id] = (record, model)

    def last_checkpoint(self, job_id: str):
        return self.checkpoints.get(job_id)

    def forget(self, job_id: str) -> None:
        self.deltas.pop(job_id, None)
        self.stops.discard(job_id)
        self.checkpoints.pop(job_id, None)
        self.grants.discard(job_id)

    # --- a sweep trial's turn ------------------------------------------------------------------------------
    def request(self, turn_id: str, owner: str, kind: str, cpus: float) -> bool:
        self.requests.append((turn_id, owner, kind, cpus))
        return True

    def granted(self, turn_id: str) -> bool:
        return turn_id in self.grants

    def grant(self, turn_id: str) -> None:
        self.grants.add(turn_id)

    def release(self, turn_id: str, completed: bool = False) -> bool:
        self.grants.discard(turn_id)
        self.releases.append((turn_id, completed))
        return True

    def take_turns(self) -> tuple[list, list]:
        requests, releases, self.requests, self.releases = self.requests, self.releases, [], []
        return requests, releases
