"""The wheel ships no test doubles, and the doubles and the clock exist once each.

Product packages are the ones pyproject.toml puts in the wheel.  In them: no module named like a kit of doubles
(testing.py, fakes.py, mocks.py, stubs.py), no class or function named as one (Fake…, Stub…, Mock…, Dummy…,
fake_…), no import of the tests tree.  Doubles live in tests/kit only, one of each; one ``Clock`` protocol and
one ``VirtualClock``, in ivr/clock.py.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOUBLE_MODULES = {"testing.py", "fakes.py", "mocks.py", "stubs.py"}
DOUBLE_NAME = re.compile(r"^(Fake|Stub|Mock|Dummy)[A-Z_]|^fake_")


def product_packages(root: Path = ROOT) -> list[str]:
    """Top-level packages the wheel ships: ``[tool.setuptools] packages.find.include`` of pyproject.toml."""
    config = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(pattern.rstrip("*") for pattern in include)


def python_files(root: Path, packages: Iterable[str]) -> Iterator[Path]:
    for package in packages:
        yield from sorted((root / package).rglob("*.py"))


def doubles_in(root: Path, packages: Iterable[str]) -> list[str]:
    """Every double-like module, class, function and tests import in ``packages`` under ``root``."""
    found: list[str] = []
    for path in python_files(root, packages):
        where = path.relative_to(root).as_posix()
        if path.name in DOUBLE_MODULES:
            found.append(f"{where}: module named {path.name}")
        for node in ast.walk(ast.parse(path.read_text("utf-8"), where)):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and DOUBLE_NAME.match(
                    node.name):
                found.append(f"{where}:{node.lineno}: {node.name}")
            elif isinstance(node, ast.Import):
                found += [f"{where}:{node.lineno}: import {a.name}" for a in node.names
                          if a.name.split(".")[0] == "tests"]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "tests":
                found.append(f"{where}:{node.lineno}: from {node.module} import …")
    return sorted(found)


def class_definitions(root: Path, dirs: Iterable[str], names: set[str]) -> dict[str, list[str]]:
    """Where each class of ``names`` is defined (module paths relative to ``root``)."""
    out: dict[str, list[str]] = {}
    for path in python_files(root, dirs):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.ClassDef) and node.name in names:
                out.setdefault(node.name, []).append(path.relative_to(root).as_posix())
    return out


def test_the_wheel_ships_no_doubles() -> None:
    packages = product_packages()
    assert {"ivr", "asr", "flows", "prompts", "bridge", "config"} <= set(packages)
    assert doubles_in(ROOT, packages) == []


def test_the_scanner_finds_each_kind_of_double(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools]\npackages = { find = { include = ["shop*"] } }\n', "utf-8")
    pkg = tmp_path / "shop"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", "utf-8")
    (pkg / "testing.py").write_text("", "utf-8")
    (pkg / "sub" / "call.py").write_text(
        "class Call:\n    class FakeLeg:\n        pass\n\n\ndef fake_pcm() -> bytes:\n    return b''\n", "utf-8")
    (pkg / "app.py").write_text("import tests.kit.call\nfrom tests.kit import prompts\nfrom .tests import x\n", "utf-8")
    (pkg / "clean.py").write_text(
        "# a fake call would be a double\nclass Fakir:\n    '''FakeCall'''\n\n\ndef make_fake() -> str:\n"
        "    return 'FakeCall'\n", "utf-8")
    assert product_packages(tmp_path) == ["shop"]
    assert doubles_in(tmp_path, ["shop"]) == [
        "shop/app.py:1: import tests.kit.call",
        "shop/app.py:2: from tests.kit import …",
        "shop/sub/call.py:2: FakeLeg",
        "shop/sub/call.py:6: fake_pcm",
        "shop/testing.py: module named testing.py",
    ]


def test_one_double_of_each_interface_all_in_the_test_kit() -> None:
    doubles: dict[str, list[str]] = {}
    for path in python_files(ROOT, ["tests", "bench"]):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.ClassDef) and re.match(r"^(Fake|Stub|Mock|Dummy|Spy)[A-Z]", node.name):
                doubles.setdefault(node.name, []).append(path.relative_to(ROOT).as_posix())
    assert {"FakeCall", "FakePrompts", "FakeEngine", "FakeClassifier", "FakeHandoff", "FakeSpeech"} <= set(doubles)
    misplaced = {name: where for name, where in doubles.items()
                 if len(where) != 1 or not where[0].startswith("tests/kit/")}
    assert misplaced == {}


def test_one_clock_protocol_and_one_virtual_clock() -> None:
    dirs = [*product_packages(), "tests", "bench"]
    assert class_definitions(ROOT, dirs, {"Clock", "LoopClock", "VirtualClock"}) == {
        "Clock": ["ivr/clock.py"], "LoopClock": ["ivr/clock.py"], "VirtualClock": ["ivr/clock.py"]}
