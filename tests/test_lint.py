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


def _project_modules() -> dict[str, Path]:
    """Every module of the project (core, ui, the pages and the two app scripts) -> its file."""
    files = [*(ROOT / "core").rglob("*.py"), *(ROOT / "ui").rglob("*.py"), *(ROOT / "app_pages").rglob("*.py"),
             ROOT / "app.py", ROOT / "streamlit_app.py"]
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in files if p.is_file()}


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules among ``modules`` it imports, at the top or inside functions."""
    import ast

    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _core_imports() -> dict[str, set[str]]:
    """core module -> the core modules it imports, at the top or inside functions."""
    modules = {name: path for name, path in _project_modules().items() if name.split(".")[0] == "core"}
    return {name: targets - {"core"} for name, targets in _imports(modules).items()}


LAYERS = ("core's library", "core's commands", "ui", "pages")  # each may import only from its own layer and below


def _layer(module: str) -> int:
    if module.split(".")[0] == "app_pages" or module in ("app", "streamlit_app"):
        return 3
    if module.split(".")[0] == "ui":
        return 2
    if module in ("core.cli", "core.__main__") or module.startswith("core.cli."):  # the command line and benchmarks
        return 1
    return 0


def test_no_module_imports_from_a_layer_above_its_own():
    """pages -> ui -> core's commands (core/cli/: command line, benchmarks) -> core's library: never upwards."""
    graph = _imports(_project_modules())
    upward = sorted(f"{name} ({LAYERS[_layer(name)]}) imports {target} ({LAYERS[_layer(target)]})"
                    for name, targets in graph.items() for target in targets if _layer(target) > _layer(name))
    assert upward == []
    assert {_layer(name) for name in graph} == set(range(len(LAYERS)))  # every layer has modules: the test sees them


def test_no_import_circle_in_core():
    graph = _core_imports()
    circles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                circles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert circles == []


def test_files_stay_small_and_pages_hold_only_page_scripts():
    long_files = {str(p.relative_to(ROOT)): n for folder in ("core", "ui", "app_pages") for p in (ROOT / folder).rglob("*.py")
                  if (n := len(p.read_text().splitlines())) > 300}
    assert long_files == {}
    assert [str(p.relative_to(ROOT)) for p in (ROOT / "app_pages").rglob("*.py") if p.parent != ROOT / "app_pages"] == []
    assert not (ROOT / "pages").exists()  # a pages/ folder breaks st.navigation's first session (see streamlit_app.py)


def test_readme_quotes_the_measured_figures_that_the_pages_quote():
    """core/figures.py is the pages' one source of measured figures; README's table states the same numbers."""
    from core.figures import CNN_TEST_ACCURACY, CVAE_TEST_ELBO

    readme = (ROOT / "README.md").read_text()
    assert f"test accuracy {CNN_TEST_ACCURACY:.2%}" in readme
    assert f"test ELBO −{-CVAE_TEST_ELBO:.1f}" in readme
