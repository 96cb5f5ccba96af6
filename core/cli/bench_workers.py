"""``python -m core bench workers``: the CNN trained in a worker bounded to k CPUs, as the executor starts one, against
the roofline of those same k CPUs, for k = 1 and k = all of this machine's CPUs.

Each worker is a Ray task made by :class:`core.executor.cluster.Cluster` (the executor's own path): its TensorFlow
and OpenMP pools are bounded to k threads before TensorFlow loads (:func:`core.threads.thread_env`). Inside it, the
bench measures the CNN's training throughput as the app trains it (every batch's loss recorded) and, between the
repeats, the best matmul rate those k threads reach; the figure is the training's share of that k-core roofline. A
worker on one core should reach the same share of one core as a worker on all of them reaches of all: the ratio of
the two shares is printed (1.00 means the bound costs nothing). The workers run one after the other, on a quiet
machine each has its CPUs to itself.
"""

from __future__ import annotations

import os
import time

from core.cli.bench_cnn import AppTraining, cnn_bench_data
from core.executor.cluster import Cluster
from core.mnist.cnn import build_cnn, resolve_precision
from core.mnist.data import make_datasets
from core.roofline import matmul_peaks, roofline
from core.sweep import connect
from core.threads import THREAD_VARS

# Lazy import: Ray (0.3 s) inside the bench (TensorFlow loads in the worker, with the CNN).

BATCH_SIZE = 128  # the CNN page's batch size, as in `bench cnn`


def measure_bounded(n_images: int, repeats: int) -> dict:
    """In a bounded worker: the CNN's images/s (each repeat) and its share of this worker's own matmul roofline; how
    many CPUs the worker kept busy while it trained (CPU seconds / wall seconds: at most about k if the bound holds)."""
    steps = max(1, n_images // BATCH_SIZE)
    data, x, _ = cnn_bench_data(steps * BATCH_SIZE * 2)
    dataset, _, _ = make_datasets(data, train_size=len(x), batch_size=BATCH_SIZE)
    training = AppTraining(build_cnn(precision=resolve_precision("auto")))
    speeds, busy, peaks = [], [], None
    for _ in range(repeats):  # interleaved, so that drift in machine load hits both alike
        peaks = matmul_peaks(before=peaks)
        wall, cpu = time.perf_counter(), time.process_time()
        speeds.append(training.images_per_s(dataset.repeat(), steps, BATCH_SIZE))
        busy.append((time.process_time() - cpu) / (time.perf_counter() - wall))
    figures = roofline(training.model, max(speeds), peaks=peaks)
    return {**figures, "images_per_s": speeds, "cpus_busy": busy, "pid": os.getpid(),
            "thread_env": {var: os.environ.get(var) for var in THREAD_VARS}}


def _line(label: str, f: dict) -> str:
    peaks = ", ".join(f"{d} {g:.0f}" for d, g in f["matmul_peak_gflops"].items())
    return (f"  {label} (it kept " + ", ".join(f"{b:.2f}" for b in f["cpus_busy"]) + " CPUs busy): "
            + ", ".join(f"{v:.0f}" for v in f["images_per_s"]) + f" img/s; best {f['achieved_gflops']:.1f} GFLOP/s = "
            f"{f['roofline_fraction']:.0%} of its roofline ({peaks} GFLOP/s)")


def bench_workers(n_images: int | None = None, repeats: int = 3) -> dict:
    """The CNN in a worker bounded to k CPUs, as a share of the k-core roofline: k = 1 and k = all (ratio; bar 1.0x).

    Then as many 1-CPU workers as there are CPUs, all at once (a class's trainings side by side): their images/s
    together against the all-CPU worker's, which says whether a class is better served by one training on all CPUs
    at a time or one per CPU."""
    import ray

    started_ray = not ray.is_initialized()
    connect.ensure_ray("local")
    cluster, total = Cluster("local"), connect.cluster_cpus()
    sizes, n_images = sorted({1, total}), n_images or 19200
    try:
        workers = {}
        for k in sizes:
            workers[k] = ray.get(cluster.task(k, measure_bounded).remote(n_images, repeats))
            print(_line(f"worker on {k} CPU{'s' if k > 1 else ''}", workers[k]), flush=True)
        side_by_side = ray.get([cluster.task(1, measure_bounded).remote(n_images, repeats) for _ in range(total)])
        for i, f in enumerate(side_by_side):
            print(_line(f"{total} workers on 1 CPU each, at once: #{i + 1}", f), flush=True)
    finally:
        if started_ray:
            connect.shutdown()
    ratio = workers[1]["roofline_fraction"] / workers[total]["roofline_fraction"]
    together = sum(max(f["images_per_s"]) for f in side_by_side) / max(workers[total]["images_per_s"])
    print(f"  share of the roofline, 1 CPU / {total} CPUs: {ratio:.2f}x")
    print(f"  {total} workers on 1 CPU each together / one worker on {total} CPUs, images/s: {together:.2f}x")
    return {"cpus": sizes, "workers": {str(k): v for k, v in workers.items()}, "ratio_fraction": ratio,
            "side_by_side": side_by_side, "ratio_side_by_side": together}
