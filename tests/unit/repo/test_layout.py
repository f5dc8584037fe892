"""The source tree's shape: no shadowing of the standard library, no test doubles shipped."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys

from tests.kube import REPO

PACKAGE = REPO / "operator" / "incident_operator"


def test_import_operator_is_the_standard_library() -> None:
    import operator  # noqa: PLC0415 - the import under test

    assert operator.__file__ is not None
    assert "site-packages" not in operator.__file__
    assert not operator.__file__.startswith(str(REPO))
    assert hasattr(operator, "itemgetter")


def test_source_root_is_not_a_package() -> None:
    assert not (REPO / "operator" / "__init__.py").exists()


def test_package_imports_from_the_source_root() -> None:
    module = importlib.import_module("incident_operator")
    assert module.__file__ is not None
    assert module.__file__.startswith(str(REPO / "operator" / "incident_operator"))


def test_console_scripts_run() -> None:
    bin_dir = REPO / ".venv" / "bin"
    version = subprocess.run(
        [sys.executable, "-m", "incident_operator.app", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert version.stdout.strip() == "0.1.0"
    plugin = subprocess.run(
        [str(bin_dir / "kubectl-incident"), "--help"], capture_output=True, text=True, check=True
    )
    assert "kubectl incident" in plugin.stdout


def test_the_package_holds_no_fake_modules() -> None:
    # In-memory port fakes live in tests/fakes/ports/ (wheel and image carry no test doubles);
    # the import-linter contract "The package does not depend on tests ..." keeps the package
    # from importing them back.
    assert PACKAGE.is_dir()
    fakes = sorted(
        str(path.relative_to(REPO))
        for path in PACKAGE.rglob("*")
        if path.name.lower().startswith("fake") or "_fake" in path.name.lower()
    )
    assert fakes == []


def test_the_package_defines_no_fake_classes() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 50
    fakes = sorted(
        f"{path.relative_to(REPO)}:{node.lineno} {node.name}"
        for path in sources
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ClassDef) and node.name.lower().startswith("fake")
    )
    assert fakes == []
