"""The executor's mailbox: a small Ray actor where workers leave progress and checkpoints and read their Stop."""

from __future__ import annotations


class Mailbox:
    """The body of the executor's mailbox actor (``num_cpus=0``): where workers leave progress and checkpoints and
    read whether their job was stopped. The server takes what arrived on every beat."""

    def __init__(self):
        self.deltas: dict[str, list] = {}
        self.stops: set[str] = set()
        self.checkpoints: dict[str, tuple[str, bytes]] = {}

    def publish(self, job_id: str, delta: dict) -> bool:
        self.deltas.setdefault(job_id, []).append(delta)
        return job_id in self.stops

    def take(self) -> dict[str, list]:
        deltas, self.deltas = self.deltas, {}
        return deltas

    def stop(self, job_id: str) -> None:
        self.stops.add(job_id)

    def checkpoint(self, job_id: str, record: str, model: bytes) -> None:
        self.checkpoints[job_id] = (record, model)

    def last_checkpoint(self, job_id: str):
        return self.checkpoints.get(job_id)

    def forget(self, job_id: str) -> None:
        self.deltas.pop(job_id, None)
        self.stops.discard(job_id)
        self.checkpoints.pop(job_id, None)
