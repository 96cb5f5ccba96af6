"""The executor's link to Ray: one connection (a local Ray started on demand, or a cluster by its address), the
:class:`~core.executor.mailbox.Mailbox` actor on the server's own node, and the remote functions that run in
workers bounded to their CPUs. :meth:`Cluster.forget` drops all of it when Ray stops answering, so the next
:meth:`Cluster.connect` starts afresh."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from typing import Any

from core.executor.mailbox import Mailbox
from core.sweep.connect import ensure_ray, resolve_address
from core.sweep.connect import shutdown as disconnect
from core.threads import thread_env

# Lazy import: Ray (0.3 s) inside the methods that use it: `python -m core --help` imports this module.


class Cluster:
    """Ray as the executor sees it. Thread-safe: the dispatcher, a page's Stop and the warm-up all use it."""

    def __init__(self, address: str | None = None):
        self.address = address
        self.local = resolve_address(address) is None  # a Ray this process starts, on this machine
        self.connected = False
        self.mailbox: Any = None  # the actor handle; workers send it progress, the dispatcher takes it
        self.mailbox_name: str | None = None  # sweep trials find the mailbox by this name
        self.node_cpus: int | None = None  # the largest live node's CPUs (no job can use more)
        self._remote: dict[tuple[int, str], Any] = {}
        self._lock = threading.Lock()

    def connect(self, then: Callable[[], None] | None = None) -> None:
        """Connect once (raises ``SweepError`` when Ray cannot be reached); ``then`` runs once, on connecting, before
        any other caller sees the connection (the executor sizes its queue to a cluster's CPUs there)."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        with self._lock:
            if self.connected:
                return
            ensure_ray(self.address)
            self.mailbox_name = f"nn-mailbox-{uuid.uuid4().hex[:8]}"
            here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)  # the mailbox
            self.mailbox = ray.remote(num_cpus=0)(Mailbox).options(  # on the server's node, not on a worker's
                name=self.mailbox_name, scheduling_strategy=here).remote()
            self.node_cpus = max((int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")),
                                 default=0) or None
            if then is not None:
                then()
            self.connected = True

    def task(self, cpus: int, fn: Callable):
        """``fn`` as a Ray task on ``cpus`` CPUs, its worker's TensorFlow and OpenMP pools bounded to them (the
        environment is set before the worker imports TensorFlow). Not retried: a lost training is reported."""
        import ray

        key = (cpus, fn.__name__)
        with self._lock:
            if key not in self._remote:
                self._remote[key] = ray.remote(num_cpus=cpus, max_retries=0,
                                               runtime_env={"env_vars": thread_env(cpus)})(fn)
            return self._remote[key]

    def forget(self) -> None:
        """Ray went away: drop the connection, the mailbox and the remote functions (the next connect makes new)."""
        with self._lock:
            self.connected, self.mailbox, self._remote = False, None, {}
        with contextlib.suppress(Exception):  # already gone
            disconnect()
