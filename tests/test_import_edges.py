"""Package edges: the sans-IO cores load no Twisted, no component imports the composition root (``hotline``), and
each component imports only the components its rule allows (see hotline/README.md).

The static checks read every ``.py`` file of a package with ``ast``: imports at the top, inside functions, under
``if TYPE_CHECKING:`` and ``importlib.import_module("...")`` with a literal name all count.  The checkers are
tested on small synthetic package trees first, so a rule that passes has been seen to fail.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPOSITION_ROOT = "hotline"
COMPONENTS = ("config", "audio", "ivr", "asr", "prompts", "bridge", "flows")

# What each component may import of the others (a module name or a package prefix); anything else of the project
# is refused.  hotline/ is in no list: only the composition root knows the application.
RULES: dict[str, tuple[str, ...]] = {
    "config": (),
    "audio": (),
    "ivr": ("config", "audio"),  # the telephony knows no flows, bridge, prompts, speech
    "asr": ("config", "audio"),
    "prompts": ("config", "audio"),  # no ivr: G.711 and the frame format are audio/
    # the engine only through its contract (ivr.app) and the one clock (ivr.clock, standard library only), no ivr.net
    "bridge": ("config", "audio", "ivr.app", "ivr.clock", "prompts.api"),
    "flows": ("config", "audio", "ivr.app", "ivr.clock", "asr", "prompts.api", "bridge.api"),
}

# Modules that must import without loading Twisted: the sans-IO protocol cores and the pure state machines.
SANS_IO = (
    sorted(f"ivr.sip.{p.stem}" for p in (ROOT / "ivr" / "sip").glob("*.py") if p.stem != "__init__")
    + ["ivr.sip", "ivr.sdp", "ivr.app", "ivr.clock"]
    + [f"ivr.engine.{m}" for m in ("core", "callsm", "model", "indialog", "callops", "uac", "negotiate", "sipmsg")]
    + [f"ivr.media.{m}" for m in ("codecs", "rtp", "rtcp", "dtmf", "jitter", "reception")]
    + ["audio.g711", "audio.pcm", "flows.runner", "bridge.transfer_sm"]
)


@dataclass(frozen=True)
class Import:
    file: Path
    line: int
    target: str  # dotted; for ``from a import b`` it is ``a.b`` (b may be a submodule or a name)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: imports {self.target}"


def _module_name(root: Path, file: Path) -> tuple[str, bool]:
    parts = list(file.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def imports_in(root: Path, file: Path) -> Iterator[Import]:
    """Every import in ``file`` (a module under ``root``), wherever it is written."""
    module, is_package = _module_name(root, file)
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(file, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            for alias in node.names:
                yield Import(file, node.lineno, base if alias.name == "*" else f"{base}.{alias.name}")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield Import(file, node.lineno, node.args[0].value)


def package_imports(root: Path, package: str) -> Iterator[Import]:
    for file in sorted((root / package).rglob("*.py")):
        yield from imports_in(root, file)


def _matches(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


def imports_of_root(root: Path, packages: tuple[str, ...], composition_root: str) -> list[Import]:
    return [i for p in packages for i in package_imports(root, p) if _matches(i.target, composition_root)]


def rule_violations(root: Path, rules: Mapping[str, tuple[str, ...]], project: tuple[str, ...]) -> list[Import]:
    """Imports of another project package that the importing package's rule does not allow."""
    bad = []
    for package, allowed in rules.items():
        for imp in package_imports(root, package):
            top = imp.target.split(".")[0]
            if top in project and top != package and not any(_matches(imp.target, a) for a in allowed):
                bad.append(imp)
    return bad


_PROBE = """
import builtins, json, sys
first = []
real_import = builtins.__import__
def spy(name, globals=None, locals=None, fromlist=(), level=0):
    if name.split(".")[0] == "twisted" and not first:
        frame = sys._getframe(1)
        while frame is not None:  # the modules being executed, outermost first
            if frame.f_code.co_name == "<module>" and "__name__" in frame.f_globals:
                first.insert(0, frame.f_globals["__name__"])
            frame = frame.f_back
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = spy
import importlib
importlib.import_module(sys.argv[1])
print(json.dumps({"twisted": sorted(m for m in sys.modules if m.split(".")[0] == "twisted"), "by": first}))
"""


def twisted_after_import(module: str, path: Path) -> dict[str, list[str]]:
    """Import ``module`` alone in a fresh interpreter (``path`` first on sys.path): the Twisted modules it loaded
    (``twisted``) and the chain of modules whose import first reached Twisted (``by``, outermost first)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(path), str(ROOT)]))
    out = subprocess.run([sys.executable, "-c", _PROBE, module], cwd=path, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, f"import {module} failed:\n{out.stderr}"
    result: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- the checkers, on synthetic trees


def _tree(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_the_import_reader_sees_lazy_relative_type_checking_and_importlib_imports(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "comp/__init__.py": "",
        "comp/sub/__init__.py": "from . import leaf\n",
        "comp/sub/leaf.py": """
            from typing import TYPE_CHECKING
            import importlib
            from ..other import thing
            if TYPE_CHECKING:
                from root_pkg.types import T
            def later():
                from root_pkg import wiring
                import root_pkg.cli as cli
                importlib.import_module("root_pkg.serve")
            """,
    })
    targets = {i.target for i in package_imports(root, "comp")}
    assert {"comp.sub.leaf", "comp.other.thing", "root_pkg.types.T", "root_pkg.wiring", "root_pkg.cli",
            "root_pkg.serve"} <= targets


def test_the_composition_root_check_fails_on_a_lazy_import_of_it(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "comp/__init__.py": "",
        "comp/ok.py": "import json\nfrom comp import ok\nfrom root_pkg_x import y  # another name that starts alike\n",
        "comp/bad.py": "def handler():\n    from root_pkg.wiring import build\n    return build\n",
    })
    found = imports_of_root(root, ("comp",), "root_pkg")
    assert [(i.file.name, i.line, i.target) for i in found] == [("bad.py", 2, "root_pkg.wiring.build")]


def test_the_rule_check_allows_the_listed_edges_and_fails_on_any_other(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "tel/__init__.py": "", "tel/app.py": "", "tel/net.py": "import twisted\n",
        "web/__init__.py": "", "web/ok.py": "from tel.app import Call\nimport twisted\n",
        "web/bad.py": "def start():\n    from tel.net import reactor\n",
        "web/bad2.py": "from tel import net\n",
    })
    rules = {"tel": (), "web": ("tel.app",)}
    found = rule_violations(root, rules, ("tel", "web"))
    assert sorted((i.file.name, i.target) for i in found) == [("bad.py", "tel.net.reactor"), ("bad2.py", "tel.net")]
    assert rule_violations(root, {"tel": (), "web": ("tel",)}, ("tel", "web")) == []


def test_the_twisted_probe_fails_on_a_module_that_loads_twisted_indirectly(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "probe_pkg/__init__.py": "",
        "probe_pkg/core.py": "from probe_pkg import shell\n",
        "probe_pkg/shell.py": "from twisted.internet import protocol\n",
        "probe_pkg/pure.py": "import json\n",
    })
    loaded = twisted_after_import("probe_pkg.core", tmp_path)
    assert "twisted.internet.protocol" in loaded["twisted"]
    assert loaded["by"] == ["__main__", "probe_pkg.core", "probe_pkg.shell"]
    assert twisted_after_import("probe_pkg.pure", tmp_path) == {"twisted": [], "by": []}


# ---------------------------------------------------------------- the project's edges


@pytest.mark.parametrize("module", SANS_IO)
def test_sans_io_core_imports_without_twisted(module: str) -> None:
    loaded = twisted_after_import(module, ROOT)
    assert loaded["twisted"] == [], f"import {module} loads Twisted via {' -> '.join(loaded['by'])}"


def test_no_component_imports_the_composition_root() -> None:
    found = imports_of_root(ROOT, COMPONENTS, COMPOSITION_ROOT)
    assert found == [], "\n".join(map(str, found))


def test_components_import_only_what_their_rule_allows() -> None:
    assert set(RULES) == set(COMPONENTS)
    found = rule_violations(ROOT, RULES, (*COMPONENTS, COMPOSITION_ROOT))
    assert found == [], "\n".join(map(str, found))


def test_the_composition_root_wires_every_component() -> None:
    tops = {i.target.split(".")[0] for i in package_imports(ROOT, COMPOSITION_ROOT)}
    assert {"config", "ivr", "asr", "prompts", "bridge", "flows"} <= tops


def test_the_policy_does_not_import_the_classifier() -> None:
    """flows.classifier reads flows.policy; the policy's keyword syntax is flows/terms.py (no lazy cycle back)."""
    found = [i for i in imports_in(ROOT, ROOT / "flows" / "policy.py") if _matches(i.target, "flows.classifier")]
    assert found == [], "\n".join(map(str, found))
