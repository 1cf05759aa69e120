"""The package's layer rule: imports only point down the stack of DESIGN.md.

cli → jobs → pipeline → tasks → models → text / metrics / io → codes / errors. Every import
statement of every module is read (including imports inside functions), resolved to a module
of the package, and compared by layer; ``__init__`` and ``__main__`` of the package root are
the public entry points and may import anything. Imports by a computed name
(``importlib.import_module``, ``__import__``), which this reading cannot follow, are not allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, Tuple

import pytest

PACKAGE = "spacy_sparsecode"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
#: Layer of each top-level module or subpackage, from the top (0) down.
LAYERS = {"cli": 0, "jobs": 1, "pipeline": 2, "tasks": 3, "models": 4, "text": 5, "metrics": 5, "io": 5,
          "progress": 5, "codes": 6, "errors": 6}
ENTRY_POINTS = {f"{PACKAGE}.__init__", f"{PACKAGE}.__main__"}


def _module_name(path: Path) -> str:
    return ".".join((PACKAGE, *path.relative_to(ROOT).with_suffix("").parts))


def _imports(path: Path) -> Iterator[Tuple[int, str]]:
    """``(line, absolute module)`` of each import of the package in ``path``."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == PACKAGE:
                base = node.module
            else:
                continue
            # ``from . import metrics`` imports a module; ``from .x import name`` imports from x
            yield from ((node.lineno, f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
                        for alias in node.names)


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2:  # the package root: it imports every layer
        return -1
    return LAYERS[parts[1]]


MODULES = {_module_name(p) for p in ROOT.rglob("*.py")} | {
    _module_name(p.parent) for p in ROOT.rglob("__init__.py") if p.parent != ROOT}
SOURCES = sorted(p for p in ROOT.rglob("*.py") if _module_name(p) not in ENTRY_POINTS)


def test_every_top_level_module_has_a_layer():
    tops = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in ROOT.iterdir()
            if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())}
    assert tops - {"__init__", "__main__"} == set(LAYERS)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_only_point_down(path: Path):
    source = _module_name(path)
    upward = [f"line {line}: {target}" for line, target in _imports(path) if _layer(target) < _layer(source)]
    assert not upward, f"{source} (layer {_layer(source)}) imports upward: {upward}"


UPWARD_IMPORTS = {
    "a plain import": "from ..jobs.train import TrainJob\n",
    "an import inside a function": "def load():\n    from ..jobs.train import TrainJob\n    return TrainJob\n",
    "a subpackage from its parent": "from .. import jobs\n",
    "an absolute import": "import spacy_sparsecode.cli.app\n",
}


@pytest.mark.parametrize("text", UPWARD_IMPORTS.values(), ids=UPWARD_IMPORTS.keys())
def test_the_check_catches_an_upward_import(text: str, monkeypatch: pytest.MonkeyPatch):
    fake = ROOT / "models" / "_fake_upward.py"  # never written: the parser reads a patched text
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: text)
    targets = [target for _, target in _imports(fake)]
    assert len(targets) == 1 and targets[0] in MODULES
    assert _layer(targets[0]) < _layer(_module_name(fake)), targets


DYNAMIC_IMPORTS = {"import_module", "__import__"}


def _dynamic_imports(tree: ast.AST) -> Iterator[int]:
    """Lines that import by a name computed at run time, which the static check cannot follow."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in DYNAMIC_IMPORTS:
                yield node.lineno
        elif isinstance(node, ast.ImportFrom) and any(alias.name in DYNAMIC_IMPORTS for alias in node.names):
            yield node.lineno


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_dynamic_imports(path: Path):
    lines = list(_dynamic_imports(ast.parse(path.read_text(encoding="utf8"))))
    assert not lines, f"{_module_name(path)} imports dynamically at lines {lines}: use an import statement"


@pytest.mark.parametrize("text", [
    "import importlib\nimportlib.import_module('spacy_sparsecode.cli.app')\n",
    "from importlib import import_module\n",
    "def f(name):\n    return __import__(name)\n",
])
def test_the_check_catches_a_dynamic_import(text: str):
    assert list(_dynamic_imports(ast.parse(text)))
