"""The machine's two speed modes (issue 26), measured: is the slow mode TensorFlow's, or the host's?

    python tests/speed_modes.py [--repeats 8] [--poll-idle]

1. One Python busy loop pinned to CPU 0, nothing else running: its iterations per second in 0.5 s windows. A guest
   whose CPUs keep their speed shows a flat line; any spread here is the host's (its scheduling of this virtual
   machine's CPUs), and no setting of the project can change it.
2. The CNN (the fast precision, the project's pipeline) trained for 150 batches of 128, ``--repeats`` times in one
   process: images/s and CPU time / wall time per repeat (2.0 = both cores busy all along, 1.0 = one core's worth).
   ``--poll-idle`` holds ``/dev/cpu_dma_latency`` at 0 (root only), so that an idle CPU polls instead of halting:
   on a virtual machine a halted CPU wakes slowly, and TensorFlow's two threads wake each other for every op.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STEPS, BATCH = 150, 128


def spin(windows: int = 40, seconds: float = 0.5) -> list[float]:
    os.sched_setaffinity(0, {0})
    rates = []
    for _ in range(windows):
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            n += 1
        rates.append(n / seconds / 1e6)
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return rates


def cnn_repeats(repeats: int) -> list[tuple[float, float]]:
    import core  # noqa: F401  (oneDNN on, before TensorFlow)
    from core.mnist.cnn import build_cnn, resolve_precision
    from core.mnist.data import load_mnist, make_datasets

    ds, _, _ = make_datasets(load_mnist(), train_size=STEPS * BATCH * 2, batch_size=BATCH)
    ds = ds.repeat()
    model = build_cnn(precision=resolve_precision("auto"))
    model.fit(ds.take(1), epochs=1, verbose=0)
    out = []
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        model.fit(ds.take(STEPS), epochs=1, verbose=0)
        wall = time.perf_counter() - wall
        out.append((STEPS * BATCH / wall, (time.process_time() - cpu) / wall))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--poll-idle", action="store_true")
    args = parser.parse_args()
    rates = spin()
    print("1. one busy loop pinned to CPU 0, M iterations/s per 0.5 s: " + " ".join(f"{r:.1f}" for r in rates))
    print(f"   min {min(rates):.1f}, max {max(rates):.1f}: {max(rates) / min(rates):.2f}x")
    qos = None
    if args.poll_idle:
        qos = open("/dev/cpu_dma_latency", "wb", buffering=0)  # noqa: SIM115 (held until the process ends)
        qos.write(struct.pack("i", 0))
    runs = cnn_repeats(args.repeats)
    print(f"2. the CNN, {STEPS} batches of {BATCH} per repeat{' (idle CPUs poll)' if qos else ''}:")
    for i, (speed, busy) in enumerate(runs):
        print(f"   repeat {i + 1}: {speed:6.0f} img/s, CPU time / wall time {busy:.2f}")
    speeds = [s for s, _ in runs]
    print(f"   min {min(speeds):.0f}, max {max(speeds):.0f} img/s: {max(speeds) / min(speeds):.2f}x")


if __name__ == "__main__":
    main()
