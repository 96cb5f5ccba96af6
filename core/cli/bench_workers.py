"""``python -m core bench workers``: the CNN trained in workers bounded to k CPUs, as the executor starts them, against
the roofline of those same k CPUs: one worker on all of this machine's CPUs, then one on each CPU, side by side.

Each worker is a Ray task made by :class:`core.executor.cluster.Cluster` (the executor's own path): its TensorFlow
and OpenMP pools are bounded to k threads before TensorFlow loads (:func:`core.threads.thread_env`). Inside it, the
bench measures the CNN's training throughput as the app trains it (every batch's loss recorded) and, between the
repeats, the best matmul rate those k threads reach; the figure is the training's share of that k-core roofline. A
worker on one core should reach the same share of one core as a worker on all of them reaches of all: the ratio of
the two shares is printed (1.00 means the bound costs nothing). The 1-CPU workers run together, as a class's
trainings would, each on its own CPU of a quiet machine.
"""

from __future__ import annotations

import os
import time

from core.cli.bench_cnn import BATCH_SIZE, BENCH_IMAGES, AppTraining, cnn_bench_data
from core.executor.cluster import Cluster
from core.mnist.cnn import build_cnn, resolve_precision
from core.mnist.data import make_datasets
from core.roofline import format_peaks, matmul_peaks, roofline
from core.sweep import connect
from core.threads import THREAD_VARS

# Lazy import: Ray (0.3 s) inside the bench (TensorFlow loads in the worker, with the CNN).


def measure_bounded(n_images: int, repeats: int) -> dict:
    """In a bounded worker: the CNN's images/s (each repeat) and its share of this worker's own matmul roofline; how
    many CPUs the worker kept busy while it trained (CPU seconds / wall seconds: at most about k if the bound holds)."""
    steps = max(1, n_images // BATCH_SIZE)
    data, x, _ = cnn_bench_data(steps * BATCH_SIZE * 2)
    dataset, _, _ = make_datasets(data, train_size=len(x), batch_size=BATCH_SIZE)
    dataset = dataset.repeat()
    training = AppTraining(build_cnn(precision=resolve_precision("auto")))
    speeds, busy, peaks = [], [], None
    for _ in range(repeats):  # interleaved, so that drift in machine load hits both alike
        peaks = matmul_peaks(before=peaks)
        wall, cpu = time.perf_counter(), time.process_time()
        speeds.append(training.images_per_s(dataset, steps, BATCH_SIZE))
        busy.append((time.process_time() - cpu) / (time.perf_counter() - wall))
    figures = roofline(training.model, max(speeds), peaks=peaks)
    return {**figures, "images_per_s": speeds, "cpus_busy": busy, "pid": os.getpid(),
            "thread_env": {var: os.environ.get(var) for var in THREAD_VARS}}


def _line(label: str, f: dict) -> str:
    return (f"  {label} (it kept " + ", ".join(f"{b:.2f}" for b in f["cpus_busy"]) + " CPUs busy): "
            + ", ".join(f"{v:.0f}" for v in f["images_per_s"]) + f" img/s; best {f['achieved_gflops']:.1f} GFLOP/s = "
            f"{f['roofline_fraction']:.0%} of its roofline ({format_peaks(f['matmul_peak_gflops'])} GFLOP/s)")


def bench_workers(n_images: int | None = None, repeats: int = 3) -> dict:
    """The CNN in workers bounded to k CPUs, as a share of the k-core roofline: k = all, then k = 1 side by side.

    First one worker on all the CPUs; then one worker per CPU, all at once (a class's trainings side by side), each
    bounded to its one CPU and judged against the roofline it measures itself meanwhile. Printed: the share of the
    roofline at k = 1 (their mean) against the share at k = all (1.00x: the bound costs nothing), and their images/s
    together against the all-CPU worker's (whether a class is better served by one training on all the CPUs at a
    time or by one per CPU)."""
    import ray

    started_ray = not ray.is_initialized()
    connect.ensure_ray("local")
    cluster, total = Cluster("local"), connect.cluster_cpus()
    n_images = n_images or BENCH_IMAGES
    try:
        alone = ray.get(cluster.task(total, measure_bounded).remote(n_images, repeats))
        print(_line(f"1 worker on {total} CPU{'s' if total > 1 else ''}", alone), flush=True)
        side_by_side = ray.get([cluster.task(1, measure_bounded).remote(n_images, repeats) for _ in range(total)])
        for i, f in enumerate(side_by_side):
            print(_line(f"{total} worker{'s' if total > 1 else ''} on 1 CPU each, at once: #{i + 1}", f), flush=True)
    finally:
        if started_ray:
            connect.shutdown()
    one_cpu = sum(f["roofline_fraction"] for f in side_by_side) / total
    ratio = one_cpu / alone["roofline_fraction"]
    together = sum(max(f["images_per_s"]) for f in side_by_side) / max(alone["images_per_s"])
    print(f"  share of the roofline, 1 CPU (mean of {total}) / {total} CPUs: {ratio:.2f}x")
    print(f"  {total} workers on 1 CPU each together / one worker on {total} CPUs, images/s: {together:.2f}x")
    return {"cpus": total, "alone": alone, "side_by_side": side_by_side, "ratio_fraction": ratio,
            "ratio_side_by_side": together}
