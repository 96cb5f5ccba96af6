"""Command line: ``python -m core train|predict|bench|runs|sweep ...``.

Examples::

    python -m core train iris --epochs 10
    python -m core predict iris runs/iris-... 5.1 3.3 1.7 0.5 --json
    python -m core runs list

Every choice the parser offers comes from the table that implements it (the task registry, ``bench.BENCHES``,
``export.FORMATS``), so nothing is offered that does not run. Bad input: one ``error:`` line, status 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from core.cli import runs as runs_cli
from core.cli import sweep as sweep_cli
from core.cli.bench import BENCHES, run_bench
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

    train = sub.add_parser("train", help="train a model headless and save it as a run")
    train_kinds = train.add_subparsers(dest="kind", required=True)
    for kind in kinds():
        p = train_kinds.add_parser(kind, help=get_task(kind).title)
        get_task(kind).space.add_flags(p)
        p.add_argument("--no-save", action="store_true", help="do not save the run")
        p.add_argument("--strategy", default="auto", choices=("auto", "default", "mirrored"),
                       help="tf.distribute strategy (auto: MirroredStrategy when several GPUs are visible)")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
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
    bench.add_argument("--images", type=int, default=None, help="images per measurement")
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(handler=cmd_bench)

    runs_cli.add_parser(sub)
    sweep_cli.add_parser(sub)
    return parser


def _store(args):
    return RunStore(args.runs_dir)


def cmd_train(args) -> int:
    task = get_task(args.kind)
    params, problems = task.space.from_flags(args)
    if problems:
        return fail("; ".join(problems))
    from core.training import run_training  # pulls TensorFlow: only when training

    store = _store(args)
    try:
        task.check_ready(params, store)
    except (ValueError, RunNotFound) as err:
        return fail(str(err))
    changed = task.space.diff(params)
    print(f"Training {task.title} with {changed or 'the default settings'}", file=sys.stderr)
    result = run_training(task, params, store=store, save=not args.no_save,
                          verbose=0 if args.quiet or args.json else 1, strategy=args.strategy)
    out = {"status": result.status, "run_id": result.run_id, "metrics": result.metrics, "error": result.error}
    if result.run_id:
        out["path"] = str(store.path(result.run_id))
    if args.json:
        print(json.dumps(out, default=str))
    else:
        print(f"status: {result.status}")
        if result.error:
            print(f"error: {result.error}")
        for name, value in result.metrics.items():
            if isinstance(value, float):
                print(f"{name}: {value:.4f}")
        if "path" in out:
            print(f"saved run {result.run_id} in {out['path']}")
    return 0 if result.status != "failed" else 1


def cmd_predict(args) -> int:
    task = get_task(args.kind)
    try:
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
    figures = run_bench(args.kind, n_images=args.images)
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
