"""``python -m core runs list|show|export|delete``: the parser and the handler of the ``runs`` command."""

from __future__ import annotations

import json
import sys

from core.export import FORMATS, export_run
from core.records import is_shared
from core.registry import kinds
from core.store import RunNotFound


def add_parser(sub) -> None:
    """The ``runs`` sub-command and its actions, on the top-level parser's sub-parsers."""
    runs = sub.add_parser("runs", help="list, show, export or delete stored runs")
    runs_sub = runs.add_subparsers(dest="action", required=True)
    ls = runs_sub.add_parser("list", help="every run, newest first")
    ls.add_argument("--kind", choices=kinds())
    ls.add_argument("--sweep", metavar="ID", help="only the runs of this sweep (python -m core sweep ...)")
    ls.add_argument("--json", action="store_true")
    show = runs_sub.add_parser("show", help="a run's record as JSON")
    show.add_argument("run_id")
    export = runs_sub.add_parser("export", help="a run as a file others can use")
    export.add_argument("run_id")
    export.add_argument("--format", default="keras", choices=FORMATS)
    export.add_argument("--out", required=True, help="output file or directory")
    delete = runs_sub.add_parser("delete", help="remove runs for good")
    delete.add_argument("run_ids", nargs="+")


def _metric_summary(record: dict) -> str:
    metrics = record.get("metrics", {})
    parts = [f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float)]
    return " ".join(parts[:3])


def _sweep_summary(record: dict) -> str:
    config = " ".join(f"{k}={v}" for k, v in record.get("sweep_config", {}).items())
    return f"{record['sweep']} {config} seed={record.get('seed')}".replace("  ", " ")


def main(args, store) -> int:
    try:
        if args.action == "list":
            runs = store.list(args.kind)
            if getattr(args, "sweep", None):
                runs = [r for r in runs if r.record.get("sweep") == args.sweep]
                if not runs:
                    print(f"error: no runs of sweep {args.sweep!r} in {store.root}", file=sys.stderr)
                    return 2
            if args.json:
                print(json.dumps([{"id": r.run_id, "damaged": r.damaged, "error": r.error, **r.record}
                                  for r in runs], default=str))
                return 0
            if not runs:
                print(f"no runs in {store.root}")
            for r in runs:
                if r.damaged:
                    print(f"{r.run_id:40s} DAMAGED  {r.error}")
                else:
                    rec = r.record
                    sweep = f"  [{_sweep_summary(rec)}]" if rec.get("sweep") else ""
                    name = f"  {rec['name']!r}" if rec.get("name") else ""
                    print(f"{r.run_id:40s} {rec.get('status', '?'):8s} {rec.get('started', '')}  "
                          f"{rec.get('duration', 0):7.1f}s  {_metric_summary(rec)}{sweep}{name}  "
                          f"owner {rec.get('owner', 'local')}{'' if is_shared(rec) else ' (not shared)'}")
        elif args.action == "show":
            print(json.dumps(store.get(args.run_id), indent=1, default=str))
        elif args.action == "export":
            path = export_run(store, args.run_id, args.format, args.out)
            print(f"wrote {args.format} export of {args.run_id} to {path}")
        elif args.action == "delete":
            for run_id in args.run_ids:
                store.delete(run_id)
                print(f"deleted {run_id}")
    except RunNotFound as err:
        print(f"error: {err} in {store.root}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:  # a damaged run (unreadable run.json, missing model file)
        print(f"error: run {getattr(args, 'run_id', '')} cannot be read: {type(err).__name__}: {err}",
              file=sys.stderr)
        return 2
    return 0
