"""Shared test set-up: two tiers; runs never land in the project's ``runs/``; a served app and a chromium on demand.

* **Two tiers.** ``python -m pytest -q`` is the everyday run: every test but those marked ``browser`` (a real
  chromium), ``ray`` (a Ray cluster: trainings through the executor, sweeps) or ``slow`` (a CNN/CVAE training longer
  than a few seconds, a walk through every command). ``python -m pytest -q --full`` runs everything (CI does).
  Naming test files or ``-m`` on the command line runs what is named, marked or not. The everyday run uses
  :data:`EVERYDAY_WORKERS` processes (pytest-xdist) unless ``-n`` is given: in one process it kept one of the
  machine's two cores idle (it used 0.93 cores on average) and took 263–311 s. Named files run in one process unless
  ``-n`` is given, so that ``pytest -s tests/...`` prints what the tests print (README's figures).

* Every test gets its own empty runs directory (``NN_PLAYGROUND_RUNS``), and the whole session has one
  too, so module- or session-scoped fixtures that train never write into the project either.
* ``MNIST_PATH`` points at the genuine MNIST file next to the project (``../shared/data/mnist.npz``) when it
  exists; it is read in place, never copied.
* ``app_page``: an AppTest of ``streamlit_app.py`` (the app's ``st.navigation``) switched to one of its pages.
* ``app_server``: ``streamlit run app.py`` on a free port with its own runs directory; yields the base URL.
* ``browser_page``: a Playwright page in Debian's chromium (``/usr/bin/chromium``, never ``playwright install``).
  Without chromium or the playwright package the browser tests are skipped with the reason, or fail when the
  ``CI`` environment variable is set (CI must run them).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.parallel import (
    assign_groups,
    pytest_runtest_protocol,  # noqa: F401  (a hook: quiet turns under -n 2)
    quiet_summary,
)

ROOT = Path(__file__).resolve().parents[1]
MNIST_NPZ = ROOT.parent / "shared" / "data" / "mnist.npz"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SERVER_START_TIMEOUT = 60
SERVER_LOGS: dict[str, Path] = {}  # base URL -> the log file of the server serving it (shown when a test fails)


def _project_env(runs_dir: Path | str) -> dict[str, str]:
    """The environment for a subprocess (CLI, server) of the project, writing its runs to ``runs_dir``."""
    env = {**os.environ, "NN_PLAYGROUND_RUNS": str(runs_dir), "PYTHONPATH": str(ROOT)}
    if MNIST_NPZ.is_file():
        env["MNIST_PATH"] = str(MNIST_NPZ)
    else:
        env.pop("MNIST_PATH", None)
    return env


FULL_ONLY = ("browser", "ray", "slow")  # markers of the tests only the full suite runs


EVERYDAY_WORKERS = 2  # processes of the everyday run (its tests group as the full suite's do: tests/parallel.py)


def _everyday(config) -> bool:
    """No --full, no -m, no paths named: the everyday run."""
    return (not config.getoption("--full") and not config.getoption("-m")
            and config.args_source == pytest.Config.ArgsSource.TESTPATHS)


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which turns -n into its worker processes
def pytest_cmdline_main(config):
    """The everyday run on :data:`EVERYDAY_WORKERS` processes, unless -n, -s or --pdb says otherwise."""
    worker = hasattr(config, "workerinput") or "PYTEST_XDIST_WORKER" in os.environ  # a worker never starts workers
    if (not worker and _everyday(config) and getattr(config.option, "numprocesses", 0) is None
            and config.getoption("capture") != "no" and not config.getoption("usepdb")):
        config.option.numprocesses = EVERYDAY_WORKERS


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true",
                     help="the full suite: also the tests marked browser, ray or slow (left out of the everyday run)")


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups
def pytest_collection_modifyitems(config, items):
    """The everyday run (no --full, no -m, no paths named) leaves out the tests marked ``browser``, ``ray``, ``slow``;
    every test gets its worker group for ``-n 2`` (:mod:`tests.parallel`)."""
    assign_groups(items)
    if not _everyday(config):
        return
    left_out = [item for item in items if any(item.get_closest_marker(m) for m in FULL_ONLY)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        dropped = set(left_out)
        items[:] = [item for item in items if item not in dropped]
        config._nnp_left_out = len(left_out)


def _xdist_run(config) -> str | None:
    """The test-run id xdist gives its workers (``PYTEST_XDIST_TESTRUNUID``), None without xdist."""
    if not getattr(config.option, "numprocesses", None) or not hasattr(config.option, "testrunuid"):
        return None
    return config.option.testrunuid


def pytest_configure(config):
    """On xdist's controller: choose the test-run id itself, so it can read what the workers record under it."""
    if (not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", None)
            and getattr(config.option, "testrunuid", "unset") is None):
        import uuid

        config.option.testrunuid = uuid.uuid4().hex


def pytest_terminal_summary(terminalreporter, config):
    if getattr(config, "_nnp_left_out", 0):  # one process: it collected the tests itself
        terminalreporter.write_line(f"everyday run: {config._nnp_left_out} browser, Ray and slow tests left out; "
                                    "`python -m pytest -q --full` runs them too")
    elif _everyday(config) and not hasattr(config, "workerinput"):  # xdist's controller: its workers collected
        terminalreporter.write_line(f"everyday run on {config.option.numprocesses} processes: the browser, Ray and "
                                    "slow tests left out; `python -m pytest -q --full` runs them too")
    if not hasattr(config, "workerinput") and (line := quiet_summary(_xdist_run(config))):
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def project_env():
    """``project_env(runs_dir)``: the environment for a subprocess of the project (CLI, server)."""
    return _project_env


@pytest.fixture(scope="session", autouse=True)
def _session_runs_dir(tmp_path_factory):
    """Session-wide safety net: nothing a test does (in any fixture scope) writes into the project's runs/."""
    mp = pytest.MonkeyPatch()
    mp.setenv("NN_PLAYGROUND_RUNS", str(tmp_path_factory.mktemp("session-runs")))
    if MNIST_NPZ.is_file():
        mp.setenv("MNIST_PATH", str(MNIST_NPZ))
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch) -> Path:
    """This test's own (not yet created) runs directory, also exported as ``NN_PLAYGROUND_RUNS``."""
    path = tmp_path / "runs"
    monkeypatch.setenv("NN_PLAYGROUND_RUNS", str(path))
    return path


@pytest.fixture
def app_page():
    """``app_page("iris", timeout=60)``: an AppTest of ``streamlit_app.py`` switched to ``app_pages/iris.py``, not yet run there.

    Set ``at.query_params`` if needed, then ``at.run()`` renders the page as the app's navigation serves it.
    ``app_page()`` is the home page (the navigation's default), not yet run.
    """
    from streamlit.testing.v1 import AppTest

    def open_page(page: str | None = None, timeout: float = 60):
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=timeout)
        if page is not None:
            at.run()
            at.switch_page(f"app_pages/{page}.py")
        return at

    return open_page


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray (this machine's CPUs) for the whole session; the workers import ``core`` from here."""
    from core.sweep import connect

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RAY_ADDRESS", raising=False)
        assert connect.ensure_ray(None) is None
        yield
        connect.shutdown()


class RayCluster:
    """Ray nodes on localhost for one test, with token authentication (``env`` carries the token to a client).

    ``head(num_cpus)`` starts the head and returns its address; ``node(num_cpus)`` joins another node and returns
    its process, whose process group ``kill(node)`` ends at once (a machine lost from the cluster). Everything is
    stopped by process group when the test ends.
    """

    def __init__(self, log_dir: Path):
        import secrets

        self.log_dir, self.procs, self.address = log_dir, [], None
        self.temp = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # short: Ray's socket paths stay under 108 characters
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
                    "RAY_USAGE_STATS_ENABLED": "0"}
        self.env.pop("RAY_ADDRESS", None)

    def _start(self, args: list[str], name: str):
        ray_exe = shutil.which("ray")
        if ray_exe is None:
            pytest.skip("the `ray` command is not installed")
        with open(self.log_dir / f"{name}.log", "w") as log:
            proc = subprocess.Popen([ray_exe, "start", *args, "--temp-dir", self.temp, "--block"], env=self.env,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def head(self, num_cpus: int = 2) -> str:
        port = _free_port()
        proc = self._start(["--head", "--port", str(port), "--num-cpus", str(num_cpus), "--include-dashboard=false",
                            "--ray-client-server-port", str(_free_port())], "head")
        deadline = time.time() + 120
        while not _listening(port):
            assert proc.poll() is None, (self.log_dir / "head.log").read_text()[-3000:]
            assert time.time() < deadline, "the Ray head did not start"
            time.sleep(0.5)
        self.address = f"127.0.0.1:{port}"
        return self.address

    def node(self, num_cpus: int = 2):
        proc = self._start(["--address", self.address, "--num-cpus", str(num_cpus)], f"node-{len(self.procs)}")
        alive = sum(p.poll() is None for p in self.procs)  # a node killed before is not waited for
        code = (f"import ray, time\nray.init(address={self.address!r}, logging_level='ERROR')\n"
                f"while len([n for n in ray.nodes() if n['Alive']]) < {alive}: time.sleep(0.5)\n")
        # Once (in 1 of ~10 full runs, the machine busy with the other pytest worker and the test's server starting)
        # the waiter's driver failed to reach the GCS within Ray's 60 s: it is asked again, then fails with Ray's words.
        for _ in range(2):
            done = subprocess.run([sys.executable, "-c", code], env=self.env, timeout=150, capture_output=True,
                                  text=True)
            if done.returncode == 0:
                return proc
        log = self.log_dir / f"node-{len(self.procs) - 1}.log"
        raise AssertionError(f"the node did not join the cluster at {self.address}: {done.stderr[-2000:]}\n"
                             f"its log: {log.read_text()[-2000:] if log.exists() else '(none)'}")

    @staticmethod
    def kill(proc) -> None:
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            for sig in (signal.SIGTERM, signal.SIGKILL):  # each node's own process group: nothing else is in it
                with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(proc.pid, sig)
                    proc.wait(5)
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture
def ray_cluster(tmp_path):
    """A :class:`RayCluster` of this test's own (token authentication), stopped after it."""
    cluster = RayCluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# A progress line once a batch has been trained: a Stop from then on keeps the model (before it: nothing is kept).
BATCH_TRAINED = re.compile(r"Training: epoch (?:[2-9]|\d\d+)|Training: epoch 1 of \d+, batch [1-9]")


def wait_for(predicate, timeout: float, what: str = "the condition", every=None, poll: float = 0.05) -> None:
    """Wait until ``predicate()`` holds, calling ``every()`` (a watcher) on each poll; fail saying ``what`` did not
    happen within ``timeout`` seconds."""
    deadline = time.time() + timeout
    while not predicate():
        if every is not None:
            every()
        assert time.time() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(poll)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _needs(reason: str):
    """Skip (locally) or fail (under CI) for a missing browser prerequisite."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run under CI, but {reason}", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def _serve(runs: Path):
    """``streamlit run app.py`` on a free port with ``runs`` as its runs directory; yields the base URL."""
    port = _free_port()
    log_path = runs.parent / f"streamlit-{port}.log"
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_project_env(runs), stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        SERVER_LOGS[url] = log_path
        try:
            deadline = time.time() + SERVER_START_TIMEOUT
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                        if resp.read().strip() == b"ok":
                            break
                except OSError:
                    pass
                if time.time() > deadline:
                    pytest.fail(f"streamlit did not answer /_stcore/health within {SERVER_START_TIMEOUT} s:\n"
                                f"{log_path.read_text()[-3000:]}")
                time.sleep(0.25)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """Base URL (``http://127.0.0.1:<port>``) of ``streamlit run app.py`` serving for the whole session."""
    with _serve(tmp_path_factory.mktemp("server-runs")) as url:
        yield url


@pytest.fixture(scope="session")
def _chromium():
    """One headless chromium for the whole session; each test gets its own context (``browser_page``)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _needs("the playwright package is not installed: pip install -r requirements-dev.txt")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _needs("chromium not installed: apt-get install chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def trained_owner(app_server, _chromium):
    """``trained_owner(kind)``: the id of a browser that trained ``kind`` once through its page (the settings of
    ``browser_support.SHARED_TRAININGS``), for tests that only need a trained model on the page: they take the id
    with ``browser_support.as_owner`` and the page shows that browser's finished job. Trained on first use."""
    from tests.browser_support import train_through_page

    owners: dict[str, str] = {}

    def owner(kind: str) -> str:
        if kind not in owners:
            owners[kind] = train_through_page(_chromium, app_server, kind)
        return owners[kind]

    return owner


@pytest.fixture
def browser_page(_chromium):
    """A fresh page in its own browser context (so its own Streamlit session), closed after the test."""
    context = _chromium.new_context(viewport={"width": 1400, "height": 2400})
    page = context.new_page()
    page.set_default_timeout(30_000)
    # The frontend's own errors (an uncaught exception blanks a Streamlit page): shown when the test fails.
    page.frontend_errors = []
    page.on("pageerror", lambda err: page.frontend_errors.append(f"uncaught: {err}"))
    page.on("console", lambda msg: page.frontend_errors.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    try:
        yield page
    finally:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test reports what the page showed and the end of its server's log (CI keeps only this)."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    page = funcargs.get("browser_page")
    if page is not None:
        try:
            report.sections.append(("page text at the failure", page.inner_text("body", timeout=5000)[:4000]))
        except Exception as err:  # the page may be gone; the report must still be written
            report.sections.append(("page text at the failure", f"unavailable: {err}"))
        errors = getattr(page, "frontend_errors", [])
        shown = errors if len(errors) <= 20 else [*errors[:5], f"... {len(errors) - 15} more ...", *errors[-10:]]
        report.sections.append(("the page's frontend errors", "\n".join(shown)[:4000] or "none"))
        report.sections.append(("the page and its server at the failure", _connection_state(page, funcargs.get("app_server"))))
    for name in ("app_server",):
        log = SERVER_LOGS.get(funcargs.get(name))
        if log is not None and log.is_file():
            report.sections.append((f"end of the {name} log", log.read_text(errors="replace")[-4000:]))


def _connection_state(page, server: str | None) -> str:
    """Whether the page was connected to its server, and whether the server answered (a blank page: which side?)."""
    import time
    import urllib.request

    lines = []
    try:
        lines.append("page: " + page.evaluate("""() => { const app = document.querySelector("[data-testid='stApp']");
            const status = document.querySelector("[data-testid='stStatusWidget']");
            return JSON.stringify({url: location.href, readyState: document.readyState,
                                   app: app ? {...app.dataset} : null, status: status ? status.innerText : null}); }"""))
    except Exception as err:
        lines.append(f"page: unavailable: {err}")
    if server:
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(f"{server}/_stcore/health", timeout=10) as answer:
                lines.append(f"server health: {answer.status} {answer.read()[:40]!r} in {time.perf_counter() - start:.2f} s")
        except Exception as err:
            lines.append(f"server health: no answer in {time.perf_counter() - start:.2f} s: {err}")
    return "\n".join(lines)


def pytest_report_header(config):
    parts = [f"MNIST_PATH for tests: {MNIST_NPZ if MNIST_NPZ.is_file() else 'not available (synthetic fallback)'}"]
    parts.append(f"chromium: {CHROMIUM if os.path.isfile(CHROMIUM) else 'missing'}"
                 f"{'' if shutil.which('ruff') else '; ruff missing'}")
    return parts
