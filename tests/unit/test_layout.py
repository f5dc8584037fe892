"""The source root must never shadow the standard library."""

from __future__ import annotations

import importlib
import subprocess
import sys

from tests.kube import REPO


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
