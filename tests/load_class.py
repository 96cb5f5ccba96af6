"""Issue 23's Bar, measured: a class trains at once on a server started as README says, in chromium.

    python tests/load_class.py [--visitors 6] [--train-size 20000] [--epochs 3] [--worker-cpus N] [--json] [--keep]

A script, not a test. A fresh runs directory holds one small CNN run (trained here) for the drawing visitor;
``streamlit run app.py`` serves it (conftest's ``_serve``). One chromium, a browser context (owner cookie) per
visitor: pen-up -> verdict and Home <-> Runs switches measured idle, then while ``--visitors`` visitors' Quick CNN
trainings (pressed at once) queue and train: those again, alternately, every few seconds, with the visitors' progress
bars, the RSS of the server and all its descendants (Ray's daemons and workers) and the runs directory. One more
visitor presses Train just before the class and Stop as soon as its training runs: the Stop's time to "Stopped" in
its page, under that load (its run is not one of the class's). The report gives each figure of the Bar and whether
it is met.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402  (requirements-dev.txt)
from playwright.sync_api import sync_playwright  # noqa: E402

from core.executor import JOBS_FILE  # noqa: E402
from core.mnist.task import PRESETS  # noqa: E402
from core.registry import get_task  # noqa: E402
from core.store import RunStore  # noqa: E402
from tests import browser_support as bs  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, MNIST_NPZ, _project_env, _serve  # noqa: E402
from tests.test_browser_models import PEN_UP_TIMER  # noqa: E402

PRESET = "Quick: 20,000 images × 3 epochs"
STROKE = [(150, 40 + 8 * i) for i in range(26)]  # a vertical stroke: a "1"
PAGES = {"Runs": "Every training you finish or stop is a run", "Home": "Train real neural networks in your browser"}
SHOWN = "([text, idle]) => document.body.innerText.includes(text) && document.querySelector(idle) !== null"
BAR = "() => { const el = document.querySelector(\"[data-testid='stProgress']\"); return el ? el.innerText.trim() : null; }"
QUEUED = re.compile(r"Queued: \d+\w\w of \d+")
FINAL = re.compile(r"^(Done|Stopped|Failed) after")
BAR_STARTS = ("(prefixes) => { const el = document.querySelector(\"[data-testid='stProgress']\"); "
              "const t = el ? el.innerText.trim() : ''; return prefixes.some(p => t.startsWith(p)); }")
SINCE_CLICK = """([done, arg, timeout]) => new Promise((resolve, reject) => {
    const check = new Function('return ' + done)(), give_up = performance.now() + timeout;
    const poll = () => { if (check(arg)) resolve(performance.now() - window.__clickAt);
        else if (performance.now() > give_up) reject(new Error('not done in time')); else requestAnimationFrame(poll); };
    poll(); })"""
IDLE_REPEATS, POLL_SECONDS, WARM_TIMEOUT = 5, 3.0, 300


def family(server: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [server, *server.children(recursive=True)]
    return [server]


def title(p: psutil.Process) -> str:
    """A process's command line ("" once gone); a Ray worker's reads ``ray::IDLE``, ``ray::run_job``, ..."""
    with contextlib.suppress(psutil.Error):
        return " ".join(p.cmdline())
    return ""


def resident(server: psutil.Process, session: str | None, peak: float) -> dict:
    """RSS summed over the server and its descendants, plus any process of its Ray session that is not one; above
    ``peak`` (bytes), also each process's RSS and PSS (shared libraries counted once: TensorFlow's in every worker)."""
    procs = family(server)
    outside = [p for p in psutil.process_iter(["pid", "cmdline"]) if session and p not in procs
               and session in " ".join(p.info["cmdline"] or ())]
    rows = []
    for p in procs + outside:
        with contextlib.suppress(psutil.Error):
            rows.append((p, re.sub(r"\S*/", "", title(p)).strip()[:70], p.memory_info().rss))
    out = {"bytes": sum(rss for *_, rss in rows), "processes": len(procs), "outside": len(outside)}
    if out["bytes"] > peak:
        with contextlib.suppress(psutil.Error):
            out["by_process_mb"] = [(title, rss >> 20, p.memory_full_info().pss >> 20) for p, title, rss in rows]
    return out


def wait_warm(server: psutil.Process) -> float:
    """Wait for the executor's warm-up: a Ray worker has TensorFlow loaded and none still runs ``warm``."""
    start = time.time()
    while time.time() - start < WARM_TIMEOUT:
        workers = [p for p in family(server) if title(p).startswith("ray::")]
        with contextlib.suppress(OSError):
            if any("tensorflow" in Path(f"/proc/{p.pid}/maps").read_text() for p in workers) and \
                    not any(title(p).startswith("ray::warm") for p in workers):
                return time.time() - start
        time.sleep(1)
    raise RuntimeError(f"the server's Ray worker did not warm within {WARM_TIMEOUT} s")


def pen_up(pg) -> float:
    """One stroke on the drawing visitor's canvas: ms from the pen's lift to the verdict painted; then Clear."""
    pg.evaluate(PEN_UP_TIMER)
    bs.draw_stroke(pg, bs.drawing_canvas(pg), STROKE)
    pg.wait_for_function("() => window.__shownAt !== null", timeout=120_000)
    ms = pg.evaluate("() => window.__shownAt - window.__upAt")
    bs.wait_text(pg, "what the network sees", timeout=120)
    bs.wait_idle(pg, 120)
    pg.get_by_role("button", name="Clear the canvas").click()
    bs.wait_text(pg, "Draw a digit on the canvas", timeout=120)
    bs.wait_idle(pg, 120)
    return ms


def switch(pg) -> float:
    """The switching visitor: Home <-> Runs by the sidebar's link; ms from the click to the new page's run done."""
    to = "Home" if PAGES["Runs"] in pg.inner_text("body") else "Runs"
    link = pg.locator("[data-testid='stSidebarNav'] a").filter(has_text=to).first
    return bs.timed_click(pg, link, SHOWN, [PAGES[to], bs.IDLE], timeout=120)[1]


def stop(pg) -> dict:
    """The stopper's Stop: ms in its page from the click to the bar saying "Stopping" (taken), and to the training
    loop's end (the bar names what the kept model goes through, "Stopping: evaluating ...", or says "Stopped")."""
    taken = bs.timed_click(pg, bs.stop_button(pg), BAR_STARTS, ["Stopping", "Stopped"], timeout=60)[1]
    ended = pg.evaluate(SINCE_CLICK, [BAR_STARTS, ["Stopping:", "Stopped"], 120_000])
    return {"taken_ms": round(taken, 1), "ms": round(ended, 1)}


def measure(fn, into: list, t0: float | None = None) -> None:
    row = {"t": round(time.time() - t0, 1) if t0 else None}
    try:
        row["ms"] = round(fn(), 1)
    except Exception as err:  # a measurement that times out under load is a figure too: reported, not fatal
        row.update(ms=None, error=str(err).splitlines()[0])
    into.append(row)


def median(rows: list) -> float | None:
    values = [r["ms"] for r in rows if r["ms"] is not None]
    return round(statistics.median(values), 1) if values else None


def drive(args, url: str, server: psutil.Process, runs: Path, own_run: str, query: str, seen: dict) -> dict:
    """The visitors in chromium: the idle phase, then the class's clicks and the load phase (see the module doc)."""
    out: dict = {"warm_s": round(wait_warm(server), 1)}
    session = next((m.group(0) for p in family(server) if (m := re.search(r"/\S*/session_[\w-]+", title(p)))), None)
    memory = [resident(server, session, 0)]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        draw, swap, stopper, *visitors = (browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()
                                          for _ in range(3 + args.visitors))
        bs.open_page(draw, f"{url}/MNIST_CNN")
        draw.get_by_text("Saved models: load, download, upload").click()
        draw.get_by_role("button", name="Load this run").click()
        bs.wait_text(draw, "Draw a digit on the canvas", timeout=120)
        bs.wait_idle(draw)
        bs.drawing_canvas(draw).scroll_into_view_if_needed()
        bs.open_page(swap, url)
        idle: dict = {"pen_up": [], "switch": []}
        for _ in range(IDLE_REPEATS + 1):  # the first of each warms the page up: left out
            measure(lambda: pen_up(draw), idle["pen_up"])
            measure(lambda: switch(swap), idle["switch"])
        out["idle"] = {k: v[1:] for k, v in idle.items()}
        for pg in (stopper, *visitors):  # the class: open the CNN page with the Quick settings, then press Train at once
            bs.open_page(pg, f"{url}/MNIST_CNN?{query}")
        bs.train_button(stopper).click()  # one more visitor, first in the queue: Stop once its training runs
        t0 = time.time()
        for pg in visitors:
            bs.train_button(pg).click()
        out["clicks_s"] = round(time.time() - t0, 2)
        owners = [bs.owner_of(pg.context) for pg in visitors]
        texts = [{"queued": [], "last": None, "waited": False} for _ in visitors]
        load, appeared = {"pen_up": [], "switch": []}, {}  # appeared: run id -> s after the first click
        stops: list = []  # the stopper's Stop (see stop())
        store, turn, ended = RunStore(runs), 0, 0
        while len(appeared) < args.visitors and time.time() - t0 < args.timeout and ended < 3:
            beat = time.time()
            owners = [o or bs.owner_of(pg.context) for o, pg in zip(owners, visitors)]  # a cookie set after the clicks
            for pg, t in zip(visitors, texts):  # what each training visitor's progress bar says
                with contextlib.suppress(Exception):
                    if text := pg.evaluate(BAR):
                        t["last"] = text
                        if (m := QUEUED.match(text)) and m.group(0) not in t["queued"]:
                            t["queued"].append(m.group(0))
            with contextlib.suppress(OSError, ValueError, KeyError):  # and whom the server's queue lists as waiting
                for row in json.loads((runs / JOBS_FILE).read_text())["jobs"]:
                    if row["state"] == "queued" and row["owner"] in owners:
                        texts[owners.index(row["owner"])]["waited"] = True
            seen.update({p.pid: p for p in family(server)})
            memory.append({"t": round(time.time() - t0, 1), **resident(server, session, max(m["bytes"] for m in memory))})
            if not stops and (stopper.evaluate(BAR) or "").startswith("Training:"):
                try:
                    stops.append({"t": round(time.time() - t0, 1), **stop(stopper)})
                except Exception as err:  # reported, not fatal
                    stops.append({"t": round(time.time() - t0, 1), "ms": None, "error": str(err).splitlines()[0]})
            for r in store.list("cnn"):
                if r.run_id != own_run and r.run_id not in appeared and r.record.get("owner") in owners:
                    appeared[r.run_id] = round(time.time() - t0, 1)
            if all(t["last"] and FINAL.match(t["last"]) for t in texts):
                ended += 1  # every page says its training ended: a few more looks for the last runs, then give up
            else:
                turn += 1
                measure(lambda: pen_up(draw), load["pen_up"], t0) if turn % 2 else \
                    measure(lambda: switch(swap), load["switch"], t0)
            time.sleep(max(0.0, POLL_SECONDS - (time.time() - beat)))
        out["elapsed_s"] = round(time.time() - t0, 1)
        browser.close()
    log = next(runs.parent.glob("streamlit-*.log")).read_text(errors="replace").splitlines()  # before the server stops
    problems = [line for line in log if bs.PROBLEM.search(line)]
    out.update(load=load, stops=stops, texts=texts, appeared=appeared, memory=memory, session=session, log_problems=problems)
    return out


def run(args, tmp: Path) -> dict:
    """Seed the runs directory, serve, drive the visitors, stop the server and its Ray; the raw figures."""
    from core.training import run_training  # (TensorFlow: imported only now)

    runs = tmp / "runs"
    os.environ.pop("RAY_ADDRESS", None)  # the local Ray of a server started as README says
    if args.worker_cpus:
        os.environ["NN_PLAYGROUND_WORKER_CPUS"] = str(args.worker_cpus)
    os.environ.update(_project_env(runs))  # the seed run's data and runs directory: the server's (MNIST_PATH)
    task = get_task("cnn")  # the drawing visitor's model: a small run, made here (owner local: shared)
    seed = run_training(task, task.space.validate({"train_size": 3000, "epochs": 1}), store=RunStore(runs))
    assert seed.status == "done" and seed.run_id, seed.error
    settings = {**PRESETS[PRESET], "train_size": args.train_size, "epochs": args.epochs}
    query = "&".join(f"cnn.{k}={v}" for k, v in settings.items())
    raw: dict = {"config": {"visitors": args.visitors, "settings": settings, "cpus": os.cpu_count(),
                            "worker_cpus": args.worker_cpus or "default", "mnist": MNIST_NPZ.is_file()}}
    seen: dict[int, psutil.Process] = {}  # the server's processes as last seen: any left after its exit are ended
    try:
        with _serve(runs) as url:
            port = url.rsplit(":", 1)[1]
            server = next(p for p in psutil.Process().children() if f"--server.port {port}" in " ".join(p.cmdline()))
            seen.update({p.pid: p for p in family(server)})
            raw.update(drive(args, url, server, runs, seed.run_id, query, seen))
    finally:  # the processes the server started and its exit did not end (within 15 s) are ended, by pid
        _, alive = psutil.wait_procs([p for p in seen.values() if p.is_running()], timeout=15)
        leftover = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]  # a zombie has ended: its parent is gone
        raw["leftovers_killed"] = [re.sub(r"\S*/", "", title(p)).strip()[:70] for p in leftover]
        for p in leftover:
            with contextlib.suppress(psutil.Error):
                p.kill()
    return raw


def summarize(raw: dict) -> dict:
    """The report: each bar of the issue with its figure, met or not, and the measurements behind the figures."""
    n, times, mem = raw["config"]["visitors"], sorted(raw["appeared"].values()), raw["memory"]
    med = {k: (median(raw["idle"][k]), median(raw["load"][k])) for k in raw["idle"]}
    ratio = {k: round(load / idle, 2) if idle and load else None for k, (idle, load) in med.items()}
    waited = [t for t in raw["texts"] if t["waited"] or t["queued"]]
    shown, peak = sum(bool(t["queued"]) for t in waited), max(mem, key=lambda m: m["bytes"])
    stop_ms = raw["stops"][0]["ms"] if raw["stops"] else None  # and "taken_ms": "Stopping" shown
    bars = {  # what the Bar says: (the figure, the bar, met)
        "pen-up -> verdict, under-load / idle median": (ratio["pen_up"], "<= 2", (ratio["pen_up"] or 9) <= 2),
        "page switch, under-load / idle median": (ratio["switch"], "<= 2", (ratio["switch"] or 9) <= 2),
        "runs saved (at s after the first click)": (f"{len(times)} {times}", f"all {n}", len(times) == n),
        "first run saved, s after the first click": (times[0] if times else None, "<= 180", (times or [9e9])[0] <= 180),
        "last run saved, s after the first click": (times[-1] if len(times) == n else None, "<= 718",
                                                    len(times) == n and times[-1] <= 718),
        "peak RSS of the server and its descendants, GB": (round(peak["bytes"] / 1e9, 2), "< 3", peak["bytes"] < 3e9),
        "visitors who waited and saw their queue position": (f"{shown} of {len(waited)}", "all", shown == len(waited)),
        "Stop of a running training -> its training loop ended, ms in the page": (
            stop_ms, "<= 1000", stop_ms is not None and stop_ms <= 1000),
    }
    return {
        "config": {**raw["config"], "warm_s": raw["warm_s"], "clicks_s": raw["clicks_s"]}, "bars": {k: {"figure": f, "bar": b, "met": ok} for k, (f, b, ok) in bars.items()},
        "all_met": all(ok for *_, ok in bars.values()), "run_times_s": times, "elapsed_s": raw["elapsed_s"],
        "medians_ms": {k: {"idle": idle, "load": load} for k, (idle, load) in med.items()},
        "idle": raw["idle"], "load": raw["load"],
        "timed_out_under_load": sum(r["ms"] is None for rows in raw["load"].values() for r in rows),
        "memory": {"peak_processes": peak["processes"], "peak_by_process_mb": peak.get("by_process_mb"),
                   "peak_pss_gb": round(sum(row[2] for row in peak.get("by_process_mb", ())) * 2**20 / 1e9, 2),
                   "ray_session": raw["session"], "outside_processes": max(m["outside"] for m in mem),
                   "series_gb": [(m.get("t"), round(m["bytes"] / 1e9, 2)) for m in mem]},
        "stop": raw["stops"], "queue": raw["texts"], "server_log": {"problems": len(raw["log_problems"]), "lines": raw["log_problems"][:10]},
        "left_after_exit_killed": raw["leftovers_killed"],
    }


def show(r: dict) -> None:
    c, mem = r["config"], r["memory"]
    print(f"{c['visitors']} visitors, CNN {c['settings']}, {c['cpus']} CPUs, worker CPUs {c['worker_cpus']}, genuine "
          f"MNIST {c['mnist']}; executor warm {c['warm_s']} s after the server answered; the clicks took {c['clicks_s']} s")
    for name, b in r["bars"].items():
        print(f"{'met    ' if b['met'] else 'NOT MET'} {name}: {b['figure']} (bar: {b['bar']})")
    for key, m in r["medians_ms"].items():
        print(f"{key}: idle median {m['idle']} ms, under load {m['load']} ms ({len(r['load'][key])} measured)")
    print(f"memory at the peak: {mem['peak_processes']} processes, PSS {mem['peak_pss_gb']} GB; processes of its Ray "
          f"session that are not the server's descendants: {mem['outside_processes']}")
    for name, rss, pss in mem["peak_by_process_mb"] or ():
        print(f"  {rss:5d} MB RSS {pss:5d} MB PSS  {name}")
    for row in r["stop"]:
        print(f"Stop at {row['t']} s after the clicks: 'Stopping' shown after {row.get('taken_ms')} ms, the training "
              f"loop ended after {row['ms']} ms (in the stopper's page){'; ' + row['error'] if row.get('error') else ''}")
    for i, t in enumerate(r["queue"], 1):
        print(f"visitor {i}: waited {t['waited']}, saw {t['queued'] or 'no queue text'}; last: {t['last']}")
    print(f"measurements timed out under load: {r['timed_out_under_load']}; the server's processes left 15 s after it "
          f"ended (killed): {r['left_after_exit_killed']}; server log warnings/errors: {r['server_log']['problems']}")
    for line in r["server_log"]["lines"]:
        print(f"  {line[:200]}")
    print(f"all bars met: {r['all_met']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, default in (("--visitors", 6), ("--train-size", 20000), ("--epochs", 3), ("--worker-cpus", None),
                          ("--timeout", 1200)):  # --timeout: seconds after the clicks to give up
        parser.add_argument(flag, type=int, default=default)
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the runs directory, the server's log, report.json")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="load-class-"))
    try:
        report = summarize(run(args, tmp))
        (tmp / "report.json").write_text(json.dumps(report, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, indent=2)) if args.json else show(report)
    print(f"kept: {tmp}", file=sys.stderr) if args.keep else None
    return 0 if report["all_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
