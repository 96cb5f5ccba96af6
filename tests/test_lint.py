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


# Imports belong at the top of a module; one inside a function must earn its place by its cost. Heavy: these
# libraries, measured on the project's 2-core machine (a fresh `python -c`, after NumPy): TensorFlow 5.6 s (Keras
# loads it), scikit-learn 0.9-1.7 s, Ray 0.3 s (Tune 1.0 s), SciPy 0.2-0.7 s by submodule, scikit-image 0.2-0.3 s
# (with SciPy), tensorflow-datasets 0.2 s before TensorFlow, matplotlib 0.1 s.
HEAVY_LIBRARIES = ("tensorflow", "keras", "tensorflow_probability", "tensorflow_datasets", "ray", "sklearn", "scipy",
                   "skimage", "matplotlib")
LAZY_COMMENT = "# Lazy import"  # "# Lazy import: X (cost) inside f, so that ..." or "# Lazy imports: ..."

# Run in a fresh interpreter: imports each project module named on the command line, with an importer in front of
# Python's that lets no heavy library load (its loader raises), and prints {module: the heavy module it reached}.
_HEAVY_PROBE = r"""
import importlib, importlib.util, json, sys

HEAVY = set(sys.argv[1].split(","))


class Reached(BaseException):  # not an Exception: no `except Exception` or `except ImportError` in between hides it
    pass


class Tripwire:
    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name.partition(".")[0] in HEAVY else None

    def create_module(self, spec):
        raise Reached(spec.name)

    def exec_module(self, module):
        raise Reached(module.__name__)


sys.meta_path.insert(0, Tripwire())
reached = {}
for module in sys.argv[2:]:
    try:
        importlib.import_module(module)
    except Reached as err:
        reached[module] = str(err)
print(json.dumps(reached))
"""


def _function_level_imports() -> dict[str, list[tuple[int, str]]]:
    """Checked file -> (line, imported module) of every import inside a function ("from m import a": m.a when that
    is a project module, else m)."""
    import ast

    modules = _project_modules()
    found: dict[str, set[tuple[int, str]]] = {}
    for path in modules.values():
        rel = str(path.relative_to(ROOT))
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                             for alias in node.names]
                else:
                    continue
                found.setdefault(rel, set()).update((node.lineno, name) for name in names)
    return {rel: sorted(imports) for rel, imports in found.items()}


def _lazy_comment(path: Path) -> str:
    """The module's "# Lazy import..." comment with its continuation lines ("" when it has none)."""
    block: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith(LAZY_COMMENT) or (block and line.startswith("# ")):
            block.append(line)
        elif block:
            break
    return "\n".join(block)


def _heavy_project_modules(candidates: set[str]) -> dict[str, str]:
    """Project module -> the heavy library its import reaches (only those that reach one), from one subprocess."""
    import json

    out = subprocess.run([sys.executable, "-c", _HEAVY_PROBE, ",".join(HEAVY_LIBRARIES), *sorted(candidates)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_imports_inside_functions_are_of_heavy_modules_and_said_so():
    """An import inside a function is of a heavy library, or of a project module whose import loads one, or is named
    in its module's "# Lazy import..." comment with the reason; every module with such imports has that comment."""
    imports = _function_level_imports()
    modules = _project_modules()
    heavy = _heavy_project_modules({name for found in imports.values() for _, name in found if name in modules})
    light, uncommented = [], []
    for rel, found in sorted(imports.items()):
        comment = _lazy_comment(ROOT / rel)
        if not comment:
            uncommented.append(f"{rel}: imports {', '.join(sorted({name for _, name in found}))} inside functions")
        for line, name in found:
            if name.partition(".")[0] in HEAVY_LIBRARIES or name in heavy or name in comment:
                continue
            light.append(f"{rel}:{line}: {name}")
    stale = sorted(rel for rel in (str(p.relative_to(ROOT)) for p in modules.values())
                   if rel not in imports and _lazy_comment(ROOT / rel))
    problems = {
        "imported inside a function, yet neither a heavy library (" + ", ".join(HEAVY_LIBRARIES) + ") nor a project "
        f"module whose import loads one, nor named in the module's '{LAZY_COMMENT}...' comment; move to the top": light,
        f"no '{LAZY_COMMENT}: ...' comment saying which import is lazy and its measured cost": uncommented,
        f"a '{LAZY_COMMENT}' comment, but no import inside a function left": stale,
    }
    report = "\n\n".join(f"{title}:\n" + "\n".join(items) for title, items in problems.items() if items)
    assert not report, report
