"""Command line: ``python -m core train|predict|bench|runs|sweep|jobs ...``.

Examples::

    python -m core train iris --epochs 10
    python -m core predict iris runs/iris-... 5.1 3.3 1.7 0.5 --json
    python -m core runs list
    python -m core jobs                      # the server's queued and running trainings

Every choice the parser offers comes from the table that implements it (the task registry, ``bench.BENCHES``,
``export.FORMATS``), so nothing is offered that does not run. Bad input: one ``error:`` line, status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.cli import jobs as jobs_cli
from core.cli import runs as runs_cli
from core.cli import sweep as sweep_cli
from core.cli.bench import BENCHES, REPEATED, run_bench
from core.cli.bench_class import bench_class
from core.cli.train import add_flags as add_train_flags
from core.cli.train import cmd_train
from core.model_files import ModelLoadError
from core.registry import get_task, kinds
from core.store import RunNotFound, RunStore


def fail(message: str) -> int:
    """Print one ``error:`` line and return the CLI's status for bad input."""
    print(f"error: {message}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Train, use and compare the playground's models.")
    parser.add_argument("--runs-dir", default=None, help="runs directory (default $NN_PLAYGROUND_RUNS or ./runs)")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model in a Ray worker (a local Ray, or a cluster) and save the run")
    train_kinds = train.add_subparsers(dest="kind", required=True)
    for kind in kinds():
        p = train_kinds.add_parser(kind, help=get_task(kind).title)
        get_task(kind).space.add_flags(p)
        add_train_flags(p)
    train.set_defaults(handler=cmd_train)

    predicting = [k for k in kinds() if get_task(k).cli_inputs]
    predict = sub.add_parser("predict", help="predict with a saved model")
    predict.add_argument("kind", choices=predicting)
    predict.add_argument("model", help="run id, run directory or .keras file")
    predict.add_argument("inputs", nargs="+",
                         help="; ".join(f"{k}: {get_task(k).cli_inputs}" for k in predicting))
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    predict.set_defaults(handler=cmd_predict)

    bench = sub.add_parser("bench", help="measure training throughput and prediction latency")
    bench.add_argument("kind", choices=list(BENCHES),
                       help="; ".join(f"{name}: {(fn.__doc__ or '').strip().splitlines()[0]}"
                                      for name, fn in BENCHES.items()).replace("%", "%%"))
    bench.add_argument("--images", type=int, default=None, help="images per measurement (class: owners)")
    bench.add_argument("--train-size", type=int, default=None,
                       help="class only: training images per owner instead of the Quick preset's (a quick check)")
    bench.add_argument("--repeats", type=int, default=None,
                       help=f"{', '.join(REPEATED)} only: measurements of each side, the best counts (default 3)")
    bench.add_argument("--trials", type=int, default=None,
                       help="sweep only: trials per concurrency, an even number from 2 to 8 (default 8; a quick check)")
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(handler=cmd_bench)

    runs_cli.add_parser(sub)
    sweep_cli.add_parser(sub)
    jobs_cli.add_parser(sub)
    return parser


def _store(args):
    return RunStore(args.runs_dir)


def cmd_predict(args) -> int:
    task = get_task(args.kind)
    try:
        task.check_inputs(args.inputs)  # before the model's loading, which takes seconds
        model = _store(args).resolve_model(args.model, task.custom_objects())
        task.check_model(model)
        task.attach_run(model, args.model, _store(args))
        results = task.predict_inputs(model, args.inputs)
    except (ModelLoadError, RunNotFound, ValueError) as err:
        return fail(str(err))
    failed = [r for r in results if "error" in r]  # e.g. an unreadable image among several
    if args.json:
        print(json.dumps(results, default=str))
    else:
        for r in results:
            if "error" not in r:
                print(task.format_prediction(r))
    for r in failed:
        print(f"error: {task.format_prediction(r)}", file=sys.stderr)
    return 2 if failed else 0


def cmd_bench(args) -> int:
    if args.train_size is not None and args.kind != "class":
        return fail("--train-size is an option of bench class only")
    if args.repeats is not None and args.kind not in REPEATED:
        return fail(f"--repeats is an option of bench {', '.join(REPEATED[:-1])} and {REPEATED[-1]} only")
    if args.repeats is not None and args.repeats < 1:
        return fail(f"--repeats must be at least 1, got {args.repeats}")
    if args.trials is not None and args.kind != "sweep":
        return fail("--trials is an option of bench sweep only")
    if args.trials is not None and args.trials not in (2, 4, 6, 8):
        return fail(f"--trials must be 2, 4, 6 or 8 (learning rates x 2 seeds), got {args.trials}")
    if args.kind == "class":
        try:
            figures = bench_class(args.images, overrides=None if args.train_size is None else
                                  {"train_size": args.train_size})
        except ValueError as err:  # a bad --images or --train-size, said before anything starts
            return fail(str(err))
    else:
        figures = run_bench(args.kind, n_images=args.images, repeats=args.repeats, trials=args.trials)
    if args.json:
        print(json.dumps(figures, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "runs":
        args.handler = lambda a: runs_cli.main(a, _store(a))
    if args.command == "sweep":
        args.handler = lambda a: sweep_cli.main(a, _store(a))
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
