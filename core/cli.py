"""Command line: ``python -m core train|predict|bench|runs ...``.

Examples::

    python -m core train iris --epochs 10
    python -m core predict iris runs/iris-... 5.1 3.3 1.7 0.5 --json
    python -m core runs list
"""

from __future__ import annotations

import argparse
import json
import sys

from core.params import ParamError
from core.registry import get_task, kinds


def _add_param_flags(parser: argparse.ArgumentParser, kind: str) -> None:
    for p in get_task(kind).space:
        extra = f" (one of {', '.join(p.choices)})" if p.kind == "choice" else ""
        bounds = f" [{p.min:g}..{p.max:g}]" if p.min is not None and p.max is not None else ""
        text = p.help.replace("%", "%%")  # argparse %-formats help strings; the texts are prose ("0.1% less")
        if p.kind == "bool":
            parser.add_argument(p.flag, dest=p.name, action=argparse.BooleanOptionalAction, default=None,
                                help=f"{text} (default {p.default})")
        else:
            parser.add_argument(p.flag, dest=p.name, default=None, metavar=p.kind.upper(),
                                help=f"{text}{extra}{bounds} (default {p.default})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Train, use and compare the playground's models.")
    parser.add_argument("--runs-dir", default=None, help="runs directory (default $NN_PLAYGROUND_RUNS or ./runs)")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model headless and save it as a run")
    train_kinds = train.add_subparsers(dest="kind", required=True)
    for kind in kinds():
        try:
            task = get_task(kind)
        except ModuleNotFoundError:
            continue
        p = train_kinds.add_parser(kind, help=task.title)
        _add_param_flags(p, kind)
        p.add_argument("--no-save", action="store_true", help="do not save the run")
        p.add_argument("--strategy", default="auto", choices=("auto", "default", "mirrored"),
                       help="tf.distribute strategy (auto: MirroredStrategy when several GPUs are visible)")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    predict = sub.add_parser("predict", help="predict with a saved model")
    predict.add_argument("kind", choices=kinds())
    predict.add_argument("model", help="run id, run directory or .keras file")
    predict.add_argument("inputs", nargs="+", help="iris: 4 measurements in cm; cnn/cvae: image files")
    predict.add_argument("--json", action="store_true", help="machine-readable output")

    bench = sub.add_parser("bench", help="measure training throughput and prediction latency")
    bench.add_argument("kind", choices=[*kinds(), "rerun"],
                       help="cnn, cvae, iris, or rerun (Streamlit's per-rerun cleanup cost)")
    bench.add_argument("--images", type=int, default=None, help="images per measurement")
    bench.add_argument("--json", action="store_true")

    runs = sub.add_parser("runs", help="list, show, export or delete stored runs")
    runs_sub = runs.add_subparsers(dest="action", required=True)
    ls = runs_sub.add_parser("list")
    ls.add_argument("--kind", choices=kinds())
    ls.add_argument("--json", action="store_true")
    show = runs_sub.add_parser("show")
    show.add_argument("run_id")
    export = runs_sub.add_parser("export")
    export.add_argument("run_id")
    export.add_argument("--format", default="keras", choices=("keras", "savedmodel", "tflite", "tensorboard"))
    export.add_argument("--out", required=True, help="output file or directory")
    delete = runs_sub.add_parser("delete")
    delete.add_argument("run_ids", nargs="+")
    return parser


def _store(args):
    from core.store import RunStore

    return RunStore(args.runs_dir)


def cmd_train(args) -> int:
    task = get_task(args.kind)
    raw = {p.name: getattr(args, p.name) for p in task.space if getattr(args, p.name) is not None}
    parsed, problems = {}, []
    for name, text in raw.items():  # every bad flag is reported, not only the first
        try:
            parsed[name] = task.space[name].parse(text)
        except ParamError as err:
            problems.append(str(err))
    try:
        params = task.space.validate(parsed)
    except ParamError as err:
        problems.append(str(err))
    if problems:
        print(f"error: {'; '.join(problems)}", file=sys.stderr)
        return 2
    from core.training import run_training

    store = None if args.no_save else _store(args)
    changed = task.space.diff(params)
    print(f"Training {task.title} with {changed or 'the default settings'}", file=sys.stderr)
    result = run_training(task, params, store=store, verbose=0 if args.quiet or args.json else 1,
                          strategy=args.strategy)
    out = {"status": result.status, "run_id": result.run_id, "metrics": result.metrics, "error": result.error}
    if store is not None and result.run_id:
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
    from core.store import ModelLoadError, RunNotFound

    task = get_task(args.kind)
    try:
        model = _store(args).resolve_model(args.model)
        task.check_model(model)
    except (ModelLoadError, RunNotFound, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        results = task.predict_inputs(model, args.inputs)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(results, default=str))
    else:
        for r in results:
            print(task.format_prediction(r))
    return 0


def cmd_bench(args) -> int:
    from core.bench import run_bench

    figures = run_bench(args.kind, n_images=args.images)
    if args.json:
        print(json.dumps(figures, default=str))
    return 0


def cmd_runs(args) -> int:
    from core import runs_cli

    return runs_cli.main(args, _store(args))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"train": cmd_train, "predict": cmd_predict, "bench": cmd_bench, "runs": cmd_runs}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
