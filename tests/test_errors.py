"""errors.py: one catalogue, each message once, errors and warnings apart."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import spacy_sparsecode
from spacy_sparsecode.errors import Errors, Warnings

PACKAGE = Path(spacy_sparsecode.__file__).parent


def _codes(catalogue: type) -> dict:
    return {code: getattr(catalogue, code) for code in vars(catalogue) if not code.startswith("_")}


def test_errors_and_warnings_are_apart():
    assert all(code.startswith("E") for code in _codes(Errors))
    assert all(code.startswith("W") for code in _codes(Warnings))


def test_each_message_is_in_the_catalogue_once():
    texts = Counter(message.split("] ", 1)[1] for message in {**_codes(Errors), **_codes(Warnings)}.values())
    assert [text for text, n in texts.items() if n > 1] == []


def test_every_code_the_package_uses_exists():
    used = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("Errors", "Warnings"):
                used.add((node.value.id, node.attr))
    missing = [f"{owner}.{code}" for owner, code in sorted(used) if code not in vars(Errors if owner == "Errors" else Warnings)]
    assert missing == []


def test_no_code_is_defined_twice():
    tree = ast.parse((PACKAGE / "errors.py").read_text(encoding="utf8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in ("Errors", "Warnings"):
            codes = Counter(target.id for item in node.body if isinstance(item, ast.Assign) for target in item.targets
                            if isinstance(target, ast.Name))
            assert [code for code, n in codes.items() if n > 1] == [], node.name
