"""Ray for sweeps: an embedded local Ray started on demand (once per process), or an existing cluster.

``ray`` is imported only here, inside functions, so that importing :mod:`core.sweep` (a page) stays instant. A
cluster address is checked before Ray touches it: a closed port fails at once, a port that is open but is not a
Ray head fails after :data:`PROBE_TIMEOUT` seconds instead of hanging, each with one message.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import logging
import os
import socket
import sys
import threading
from pathlib import Path

from core import PROJECT_ROOT
from core.sweep.spec import SweepError
from core.threads import thread_env

# Lazy imports: Ray (0.3 s to import, and it starts nothing until ray.init) inside the functions that connect, so
# that the pages and `python -m core --help` import this module without it (ray._private.parameter likewise).

TRIAL_CPUS = 1  # CPUs (and TensorFlow threads) per trial
PROBE_TIMEOUT = 15.0
_lock = threading.Lock()
_connected: dict = {}  # {"address": None for the local Ray, else the cluster address}


def resolve_address(address: str | None = None) -> str | None:
    """The cluster to use: ``address``, else ``$RAY_ADDRESS``; None (or ``local``) for an embedded local Ray."""
    address = (address or os.environ.get("RAY_ADDRESS") or "").strip()
    return None if address in ("", "local") else address


def _host_port(address: str) -> tuple[str, int]:
    if address.startswith("ray://"):
        raise SweepError(f"{address}: Ray Client addresses (ray://) are not supported; give the head's address "
                         "HOST:PORT (the port of `ray start --head --port PORT`, 6379 by default)")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SweepError(f"{address!r} is not a Ray address; give HOST:PORT, e.g. 192.168.1.10:6379")
    return host, int(port)


def _token_available() -> bool:
    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                or (Path.home() / ".ray" / "auth_token").is_file())


def _use_token() -> None:
    """`ray start` clusters use token authentication by default: send this machine's token when it has one."""
    if "RAY_AUTH_MODE" in os.environ or not _token_available():
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    if "ray._raylet" in sys.modules:  # Ray read its configuration already: make it read the mode again
        try:
            from ray._raylet import Config

            Config.initialize("")
        except Exception:
            pass


def check_address(address: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Raise :class:`SweepError` unless a Ray head answers at ``address`` (``auto``: Ray looks for one itself)."""
    if address == "auto":
        return
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=min(timeout, 5.0)):
            pass
    except OSError as err:
        raise SweepError(f"cannot reach a Ray cluster at {address} ({err.strerror or err}); start one with "
                         "`ray start --head --port 6379`, or leave the address empty for a local Ray") from None
    _use_token()
    outcome: dict = {}

    def probe():
        try:
            import ray._raylet

            ray._raylet.GcsClient(address=f"{host}:{port}").internal_kv_get(b"nn-playground-probe", None)
            outcome["ok"] = True
        except Exception as err:
            outcome["error"] = err

    thread = threading.Thread(target=probe, name="ray-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if "ok" in outcome:
        return
    err = outcome.get("error")
    if err is None:
        raise SweepError(f"{address} accepts connections but no Ray cluster answered within {timeout:g} s "
                         "(is it the port of `ray start --head`?)")
    text = str(err).split("\n")[0][:300]
    if "auth" in text.lower() or "token" in text.lower():
        raise SweepError(f"the Ray cluster at {address} refused this machine's token: copy the head's token "
                         f"(`ray get-auth-token` there) into RAY_AUTH_TOKEN here ({text})")
    raise SweepError(f"the Ray cluster at {address} did not answer: {type(err).__name__}: {text}")


def _runtime_env(address: str | None) -> dict:
    """Every worker: TensorFlow bounded to the trial's CPUs, and this project's ``core`` importable."""
    env = thread_env(TRIAL_CPUS)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if os.environ.get("NN_PLAYGROUND_DETERMINISTIC"):
        env["NN_PLAYGROUND_DETERMINISTIC"] = os.environ["NN_PLAYGROUND_DETERMINISTIC"]
    if address is None:  # same machine: the code and the data are where the driver sees them
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
        if os.environ.get("MNIST_PATH"):
            env["MNIST_PATH"] = os.environ["MNIST_PATH"]
        return {"env_vars": env}
    # Another machine may not have this checkout: Ray ships the `core` package (a few hundred KB) to the cluster.
    return {"env_vars": env, "py_modules": [str(PROJECT_ROOT / "core")], "excludes": ["__pycache__", "*.pyc"]}


@contextlib.contextmanager
def _without_idle_services():
    """While a local Ray starts: without the two services a single embedded node has no use for, 160 MB resident
    together (two Python processes, measured): the autoscaler's monitor (one machine scales nothing) and the log
    monitor (it forwards workers' output to the driver, and ``log_to_driver=False``). ``ray start`` offers the
    first as ``--no-monitor``; ``ray.init`` offers neither, so its node parameters get them here. Should a Ray
    release no longer take them, Ray starts as it would without this."""
    from ray._private import parameter

    original = parameter.RayParams.__init__
    if not {"no_monitor", "include_log_monitor"} <= set(inspect.signature(original).parameters):
        yield
        return

    @functools.wraps(original)
    def lean(self, *args, **kwargs):
        kwargs.setdefault("no_monitor", True)
        kwargs.setdefault("include_log_monitor", False)
        original(self, *args, **kwargs)

    parameter.RayParams.__init__ = lean
    try:
        yield
    finally:
        parameter.RayParams.__init__ = original


def _init_in_host_thread(**kwargs) -> None:
    """``ray.init`` for a local Ray (:func:`_without_idle_services`), from a thread that lives as long as the process.

    Ray starts its local services (GCS, raylet) with Linux's ``PR_SET_PDEATHSIG``, which fires when the *thread*
    that started them ends, not the process: started from a sweep's own thread, they were killed as soon as that
    sweep finished, and a minute later Ray ended the whole process (the web server, for everyone).
    """
    import ray

    started, failure = threading.Event(), []

    def host() -> None:
        try:
            with _without_idle_services():
                ray.init(**kwargs)
        except BaseException as err:  # handed to the caller
            failure.append(err)
        started.set()
        if not failure:
            threading.Event().wait()  # the services' parent thread stays until the process ends

    threading.Thread(target=host, name="ray-host", daemon=True).start()
    started.wait()
    if failure:
        raise failure[0]


def ensure_ray(address: str | None = None) -> str | None:
    """Connect this process to Ray once: the cluster at ``address`` (or ``$RAY_ADDRESS``), else a local Ray with
    this machine's CPUs and no dashboard. Returns the address in use (None: local). Raises :class:`SweepError`."""
    address = resolve_address(address)
    with _lock:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if address is not None and "address" not in _connected:
            _use_token()
        import ray

        if ray.is_initialized() and "address" not in _connected:
            return address  # someone else (a test, a notebook) started Ray in this process: use it
        if ray.is_initialized() and _connected["address"] == address:
            return address
        if address is not None:
            check_address(address)  # an unreachable address says so, whatever this process is connected to
        if ray.is_initialized():
            raise SweepError(f"this process already runs its sweeps on {_connected['address'] or 'a local Ray'}; "
                             f"restart it to use {address or 'a local Ray'}")
        try:
            if address is None:
                # no idle workers started ahead (80 MB each): ours start with their own environment (thread bounds)
                _init_in_host_thread(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False,
                                     ignore_reinit_error=True, log_to_driver=False, logging_level=logging.ERROR,
                                     runtime_env=_runtime_env(None),
                                     _system_config={"prestart_worker_first_driver": False})
            else:
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR,
                         runtime_env=_runtime_env(address))
        except Exception as err:
            raise SweepError(f"Ray did not start{' at ' + address if address else ''}: "
                             f"{type(err).__name__}: {str(err).splitlines()[0][:300]}") from None
        _connected["address"] = address
        # Disconnect when the process ends: at the interpreter's own shutdown (as concurrent.futures does), because
        # from a plain atexit handler Ray's clean-up waits a minute for its stopped services, then exits with 1.
        getattr(threading, "_register_atexit", atexit.register)(shutdown)
        return address


def cluster_cpus() -> int:
    """CPUs of the Ray this process is connected to (0 when not connected)."""
    import ray

    return int(ray.cluster_resources().get("CPU", 0)) if ray.is_initialized() else 0


def connected_to(address: str | None) -> bool:
    """True when this process is connected to Ray at ``address`` (None: the local Ray it started)."""
    return _connected.get("address", False) == address


def shutdown() -> None:
    """Disconnect from Ray (stopping the local Ray this process started); a later sweep connects again.

    :func:`ensure_ray` arranges for this to run when the process ends (a server stopped with Ctrl-C); the CLI and
    the bench call it as soon as they are done.
    """
    with _lock:
        if "address" in _connected:
            import ray

            ray.shutdown()
            _connected.clear()
