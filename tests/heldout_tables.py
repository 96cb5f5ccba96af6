"""The held-out bar of issue 25: tables the tests never use, through the command line as a user runs it.

    python tests/heldout_tables.py [--keep DIR]

Writes the good tables (scikit-learn's iris; the first 600 of its 8x8 digits, 64 pixel columns, many of them always
blank; a synthetic table saved as a European spreadsheet would: semicolons, decimal commas, a BOM, CRLF, an id, a
name, a quoted comment holding semicolons, empty cells, a yes/no and a text column, a text label) and the bad files
into a temporary folder, runs ``python -m core train tabular --csv F --label L --json`` on each (a local Ray per
command, as a user's shell does) and prints: each good table's network test accuracy beside the two scikit-learn
baselines on the same split and whether it meets its goal (the better baseline less 0.05), and each bad file's one
``error:`` line, its status and the runs saved (none).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MARGIN = 0.05


def _sklearn_table(name: str, rows: int | None = None) -> bytes:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = [str(bunch.target_names[i]) for i in bunch.target]
    return frame.iloc[:rows].to_csv(index=False).encode()


def _spreadsheet_table(n: int = 300) -> bytes:
    """Three kinds of plant; size and weight tell them apart, colour a little, the rest nothing."""
    rng = random.Random(7)
    lines = ["id;name;size;weight;colour;watered;comment;Kind"]
    for i in range(n):
        k = i % 3
        size = f"{10 + 3 * k + rng.gauss(0, 1.5):.2f}".replace(".", ",")
        weight = "" if i % 13 == 0 else f"{3 + 1.2 * k + rng.gauss(0, 0.8):.2f}".replace(".", ",")
        colour = rng.choice(["red", "green"] if k < 2 else ["green", "blue"])
        lines.append(f"{5000 + i};Plant {i};{size};{weight};{colour};{rng.choice(['yes', 'no'])};"
                     f'"kept in pot {i}; moved twice";{["Fern", "Ivy", "Palm"][k]}')
    return b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode()


def _rows(n: int, label) -> bytes:
    return ("a,b,label\n" + "".join(f"{i % 7},{(i * 3) % 11},{label(i)}\n" for i in range(n))).encode()


GOOD = {"iris.csv": (lambda: _sklearn_table("iris"), "target"),
        "digits_600.csv": (lambda: _sklearn_table("digits", 600), "target"),
        "plants_excel_eu.csv": (_spreadsheet_table, "Kind")}
BAD = {"empty.csv": (lambda: b"", "label"),
       "header_only.csv": (lambda: b"a,b,label\r\n", "label"),
       "binary.csv": (lambda: os.urandom(4096), "label"),
       "label_missing.csv": (lambda: _rows(60, lambda i: "xy"[i % 2]), "species"),
       "single_class.csv": (lambda: _rows(60, lambda i: "x"), "label"),
       "few_per_class.csv": (lambda: _rows(60, lambda i: "x" if i < 57 else "y"), "label"),
       "hundreds_of_classes.csv": (lambda: _rows(500, lambda i: f"c{i}"), "label"),
       "too_many_rows.csv": (lambda: _rows(20_001, lambda i: "xy"[i % 2]), "label"),
       "too_many_columns.csv": (lambda: (",".join(f"c{i}" for i in range(101)) + "\n" + ",".join("1" * 101)
                                         + "\n").encode(), "c0"),
       "too_many_inputs.csv": (lambda: "".join([",".join(f"t{j}" for j in range(25)) + ",label\n"] + [
           ",".join(f"v{(i + j) % 50}" for j in range(25)) + f",{'xy'[i % 2]}\n" for i in range(300)]).encode(),
                               "label"),
       "too_big.csv": (lambda: b"a,b,label\n" + b"1,2,x\n" * 900_000, "label")}


def _train(path: Path, label: str, runs: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "core", "--runs-dir", str(runs), "train", "tabular", "--csv",
                           str(path), "--label", label, "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", default=None, help="write the tables and runs here (default: a temporary folder)")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="heldout-tables-"))
    folder.mkdir(parents=True, exist_ok=True)
    met = True
    for name, (make, label) in GOOD.items():
        path = folder / name
        path.write_bytes(make())
        out = _train(path, label, folder / "runs")
        result = json.loads(out.stdout)
        m = result["metrics"]
        goal = max(m["baseline_logistic_accuracy"], m["baseline_forest_accuracy"]) - GOAL_MARGIN
        ok = result["status"] == "done" and m["test_accuracy"] >= goal
        met &= ok
        print(f"{name}: network {m['test_accuracy']:.3f}, logistic regression {m['baseline_logistic_accuracy']:.3f}, "
              f"random forest {m['baseline_forest_accuracy']:.3f} (goal >= {goal:.3f}: {'met' if ok else 'NOT met'})",
              flush=True)
    for name, (make, label) in BAD.items():
        path, runs = folder / name, folder / f"runs-{name}"
        path.write_bytes(make())
        out = _train(path, label, runs)
        errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
        saved = len(list(runs.iterdir())) if runs.exists() else 0
        ok = out.returncode == 2 and len(errors) == 1 and saved == 0 and "Traceback" not in out.stderr
        met &= ok
        print(f"{name}: status {out.returncode}, {len(errors)} error line, {saved} runs saved: "
              f"{errors[0] if errors else out.stderr[-300:]}", flush=True)
    print("held-out bar: " + ("met" if met else "NOT met"))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
