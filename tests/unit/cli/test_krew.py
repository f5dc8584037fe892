"""hack/krew.py: a manifest valid by krew's rules, and a plugin that runs as krew installs it."""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from hack import krew
from incident_operator import __version__

VERSION = f"v{__version__}"
# The interpreter this venv was made from, without the venv's packages (CPython sets it for
# every interpreter; typeshed does not declare it).
BASE_PYTHON: str = sys._base_executable  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("krew")
    path = krew.build(out, "https://example.invalid/releases")
    return out, yaml.safe_load(path.read_text())


def test_the_manifest_is_what_krew_expects(built: tuple[Path, dict[str, Any]]) -> None:
    out, plugin = built
    assert krew.problems(plugin, "incident.yaml") == []
    assert plugin["metadata"]["name"] == "incident"
    assert plugin["spec"]["version"] == VERSION
    (platform,) = plugin["spec"]["platforms"]
    archive = out / f"kubectl-incident-{VERSION}.tar.gz"
    assert platform["uri"] == f"https://example.invalid/releases/{archive.name}"
    assert platform["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert platform["bin"] == "kubectl-incident"
    # krew's index check also wants a license file among the installed files
    with tarfile.open(archive) as tar:
        assert "LICENSE" in tar.getnames()
    assert {"from": "LICENSE", "to": "."} in platform["files"]


def test_the_archive_is_reproducible() -> None:
    files = krew.contents()  # once: others may be editing the working tree meanwhile
    assert krew.archive(files) == krew.archive(dict(reversed(files.items())))


BREAKAGES: dict[str, Any] = {
    "version without v": lambda p, s, pl: s.update(version=__version__),
    "version not semver": lambda p, s, pl: s.update(version="v0.1"),
    "bad sha256": lambda p, s, pl: pl.update(sha256="A" * 64),
    "no bin": lambda p, s, pl: pl.pop("bin"),
    "unsafe name": lambda p, s, pl: p["metadata"].update(name="in cident"),
    "reserved name": lambda p, s, pl: p["metadata"].update(name="con"),
    "two-line short description": lambda p, s, pl: s.update(shortDescription="one\ntwo"),
    "selector key": lambda p, s, pl: pl.update(selector={"matchLabels": {"distro": "debian"}}),
    "empty selector": lambda p, s, pl: pl.update(selector={}),
    "selector matches nothing": lambda p, s, pl: pl.update(selector={"matchLabels": {"os": "x"}}),
    "overlap": lambda p, s, pl: s["platforms"].append(copy.deepcopy(pl)),
    "empty files": lambda p, s, pl: pl.update(files=[]),
    "unclean files target": lambda p, s, pl: pl["files"].append({"from": "x", "to": "a/../b"}),
    "wrong kind": lambda p, s, pl: p.update(kind="Plugins"),
    "old apiVersion": lambda p, s, pl: p.update(
        apiVersion="krew.googlecontainertools.github.com/v1alpha1"
    ),
}


@pytest.mark.parametrize("change", sorted(BREAKAGES))
def test_the_validation_catches_what_krew_refuses(change: str) -> None:
    plugin = krew.manifest(__version__, "https://example.invalid/a.tar.gz", "a" * 64)
    BREAKAGES[change](plugin, plugin["spec"], plugin["spec"]["platforms"][0])
    assert krew.problems(plugin, f"{plugin['metadata']['name']}.yaml") != []


def test_the_file_must_be_named_after_the_plugin() -> None:
    plugin = krew.manifest(__version__, "https://example.invalid/a.tar.gz", "a" * 64)
    assert krew.problems(plugin, "kubectl-incident.yaml") == [
        "the file 'kubectl-incident.yaml' must be named incident.yaml"
    ]


def install_like_krew(archive: Path, plugin: dict[str, Any], root: Path) -> Path:
    """What `kubectl krew install` does: unpack, apply `files`, link bin; the bin dir."""
    staging, (platform,) = root / "staging", plugin["spec"]["platforms"]
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    store = root / "store" / "incident" / plugin["spec"]["version"]
    store.mkdir(parents=True)
    for op in platform["files"]:
        shutil.move(staging / op["from"], store / op["to"] / Path(op["from"]).name)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    target = os.path.relpath(store / platform["bin"], bin_dir)
    (bin_dir / "kubectl-incident").symlink_to(target)
    (bin_dir / "kubectl_complete-incident").symlink_to(target)  # by hand: krew links one bin
    return bin_dir


def test_the_plugin_runs_from_where_krew_installs_it(
    built: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, plugin = built
    bin_dir = install_like_krew(out / f"kubectl-incident-{VERSION}.tar.gz", plugin, tmp_path)
    # A Python without incident_operator: the dependencies only, so the code runs from lib/.
    env = {
        "PATH": os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path),
        "KUBECONFIG": os.devnull,
        "KUBECTL_INCIDENT_PYTHON": BASE_PYTHON,
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
    }

    def run(*argv: str) -> tuple[int, str, str]:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        return done.returncode, done.stdout, done.stderr

    assert run("kubectl-incident", "--version") == (0, f"{__version__}\n", "")
    code, out_text, err = run(str(Path(sys.executable).parent / "kubectl"), "incident", "--help")
    assert (code, err) == (0, "")
    assert out_text.startswith("usage: kubectl incident")
    assert run("kubectl_complete-incident", "time") == (0, "timeline\n:4\n", "")
    code, _, err = run(BASE_PYTHON, "-c", "import incident_operator")
    assert code == 1
    assert "No module named 'incident_operator'" in err  # so --version above came from lib/
