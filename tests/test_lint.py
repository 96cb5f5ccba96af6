"""The tree is ruff-clean (rules in pyproject.toml); core never imports Streamlit, and its light modules no TensorFlow."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python_files() -> list[str]:
    """The project's Python files that exist now: tracked or new (not ignored); all of them without git."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.py"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ["."]
    return sorted({name for name in out.splitlines() if (ROOT / name).is_file()}) or ["."]


def _ruff() -> list[str]:
    exe = shutil.which("ruff")
    if exe:
        return [exe]
    probe = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "ruff"]
    pytest.skip("ruff not installed (pip install -r requirements-dev.txt)")


def test_ruff_is_clean():
    files = _python_files()
    out = subprocess.run([*_ruff(), "check", "--output-format", "concise", "--no-cache", *files], cwd=ROOT,
                         capture_output=True, text=True)
    offenders = sorted({line.split(":", 1)[0] for line in out.stdout.splitlines() if line[:1] not in ("", " ")
                        and ":" in line and not line.startswith("Found")})
    assert out.returncode == 0, f"ruff found problems in {offenders}:\n{out.stdout[-4000:]}{out.stderr[-1000:]}"


def test_core_knows_nothing_of_streamlit():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.py")
                 if "import streamlit" in p.read_text() or "from streamlit" in p.read_text()]
    assert offenders == []


def test_light_core_modules_do_not_import_tensorflow():
    """``import core`` and the parameter / job / store / CLI modules stay instant: TensorFlow loads on first use."""
    code = ("import sys\n"
            "import core, core.params, core.jobs, core.registry, core.store, core.export, core.cli, core.iris.task\n"
            "heavy = sorted(m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules)\n"
            "print(','.join(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""
