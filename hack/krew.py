"""The krew plugin manifest and its archive, generated from incident_operator.__version__.

    python -m hack.krew [--out dist/krew] [--base-url URL]   # or: make krew

krew installs a plugin by unpacking its platform's archive into
~/.krew/store/incident/vX.Y.Z/ and linking ~/.krew/bin/kubectl-incident to the ``bin`` there.
The plugin is Python, so one archive serves Linux and macOS on every architecture:

    kubectl-incident     POSIX sh launcher (the bin); as kubectl_complete-incident, completion
    lib/                 the incident_operator package
    requirements.txt     its dependencies (pyproject.toml); constraints.txt: tested versions
    LICENSE              the repository's, else a notice of pyproject's license (krew asks)

The launcher runs the package with $KUBECTL_INCIDENT_PYTHON when set (a Python >= 3.11 that
has the dependencies), else with a virtualenv it makes beside itself on first use (python3 -m
venv, pip install). The archive is reproducible (sorted, fixed times and owners), so its
sha256 changes only with its content. The manifest's uri is --base-url plus the archive name;
:func:`problems` applies krew's own manifest validation before anything is written.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import sys
import tarfile
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from incident_operator import __version__
from incident_operator.cli.manifests import block_dumper

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "operator" / "incident_operator"
NAME = "incident"
HOMEPAGE = "https://github.com/incident-operator/incident-operator"
API_VERSION = "krew.googlecontainertools.github.com/v1alpha2"

LAUNCHER = r"""#!/bin/sh
# kubectl-incident as krew installs it (~/.krew/bin/kubectl-incident links here).
# Runs lib/incident_operator with $KUBECTL_INCIDENT_PYTHON when set (a Python >= 3.11 that
# has the dependencies), else with a virtualenv made here on first use from python3.
set -eu
self=$0
while [ -L "$self" ]; do
    link=$(readlink "$self")
    case $link in /*) self=$link ;; *) self=$(dirname "$self")/$link ;; esac
done
here=$(cd "$(dirname "$self")" && pwd -P)
case $(basename "$0") in
    kubectl_complete-*) entry=completion ;;
    *) entry=kubectl_plugin ;;
esac
python=${KUBECTL_INCIDENT_PYTHON:-}
if [ -z "$python" ]; then
    python=$here/venv/bin/python
    if [ ! -x "$python" ]; then
        base=$(command -v python3) ||
            { echo "kubectl-incident: needs python3 (>= 3.11)" >&2; exit 1; }
        "$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
            { echo "kubectl-incident: needs Python >= 3.11, $base is older" >&2; exit 1; }
        echo "kubectl-incident: first run, installing its dependencies into $here/venv" >&2
        tmp=$(mktemp -d "$here/venv.XXXXXX")
        if "$base" -m venv "$tmp" && "$tmp/bin/python" -m pip install --quiet \
            --disable-pip-version-check -r "$here/requirements.txt" -c "$here/constraints.txt" >&2
        then
            [ -e "$here/venv" ] || mv "$tmp" "$here/venv"
        fi
        rm -rf "$tmp"
        [ -x "$python" ] || exit 1
    fi
fi
PYTHONPATH="$here/lib${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
exec "$python" -c "import sys; from incident_operator.cli.$entry import main; sys.exit(main())" "$@"
"""

DESCRIPTION = """\
Runs SRE incidents managed by incident-operator from kubectl: declare, list
and watch incidents, acknowledge, assign roles, change severity and state,
follow the timeline, request mitigations, print postmortems; and offline,
replay an SLO's burn-rate policy or print it as Prometheus rules.
"""

CAVEATS = """\
Needs python3 (3.11 or later). On first use the plugin installs its
dependencies with pip into a virtualenv beside itself (your pip index);
set KUBECTL_INCIDENT_PYTHON to a Python that has them to skip that.
The cluster needs incident-operator's CRDs (and the operator running).
"""


def archive_name(version: str) -> str:
    return f"kubectl-{NAME}-v{version}.tar.gz"


def project() -> dict[str, Any]:
    return dict(tomllib.loads((REPO / "pyproject.toml").read_text())["project"])


def requirements() -> str:
    return "".join(f"{requirement}\n" for requirement in project()["dependencies"])


def license_text() -> bytes:
    if (REPO / "LICENSE").is_file():
        return (REPO / "LICENSE").read_bytes()
    spdx = project()["license"]
    return (
        f"incident-operator is licensed under {spdx} (SPDX identifier).\n"
        f"The license text: https://spdx.org/licenses/{spdx}.html\n"
    ).encode()


def contents() -> dict[str, tuple[bytes, int]]:
    """Archive path -> (bytes, mode)."""
    files = {
        f"kubectl-{NAME}": (LAUNCHER.encode(), 0o755),
        "requirements.txt": (requirements().encode(), 0o644),
        "constraints.txt": ((REPO / "constraints.txt").read_bytes(), 0o644),
        "LICENSE": (license_text(), 0o644),
    }
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[f"lib/{path.relative_to(PACKAGE.parent).as_posix()}"] = (path.read_bytes(), 0o644)
    return files


def archive(files: Mapping[str, tuple[bytes, int]]) -> bytes:
    """A reproducible .tar.gz: sorted names, time 0, owner root, no gzip name or time."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data, mode = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def manifest(version: str, uri: str, sha256: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Plugin",
        "metadata": {"name": NAME},
        "spec": {
            "version": f"v{version}",
            "homepage": HOMEPAGE,
            "shortDescription": "Run SRE incidents from kubectl (incident-operator)",
            "description": DESCRIPTION,
            "caveats": CAVEATS,
            "platforms": [
                {
                    "selector": {
                        "matchExpressions": [
                            {"key": "os", "operator": "In", "values": ["darwin", "linux"]}
                        ]
                    },
                    "uri": uri,
                    "sha256": sha256,
                    "bin": f"kubectl-{NAME}",
                    "files": [
                        {"from": f"kubectl-{NAME}", "to": "."},
                        {"from": "lib", "to": "."},
                        {"from": "requirements.txt", "to": "."},
                        {"from": "constraints.txt", "to": "."},
                        {"from": "LICENSE", "to": "."},
                    ],
                }
            ],
        },
    }


# krew's rules: internal/index/validation/validate.go and cmd/validate-krew-manifest.
SAFE_NAME = re.compile(r"^[\w-]+$")
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{d}{n}" for d in ("COM", "LPT") for n in range(1, 10)
}
SEMVER = re.compile(
    r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
SHA256 = re.compile(r"^[a-f0-9]{64}$")
KREW_PLATFORMS = [
    ("windows", "386"), ("windows", "amd64"), ("linux", "386"), ("linux", "amd64"),
    ("linux", "arm"), ("darwin", "386"), ("darwin", "amd64"),
]  # fmt: skip


def matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions) against ``labels``."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        value, values = labels.get(expr["key"]), expr.get("values") or []
        ok = {
            "In": value in values,
            "NotIn": value not in values,
            "Exists": value is not None,
            "DoesNotExist": value is None,
        }.get(expr.get("operator", ""), False)
        if not ok:
            return False
    return True


def _long_lines(text: str, limit: int) -> bool:
    return any(len(line) > limit and " " in line.strip() for line in text.split("\n"))


def _platform_problems(platform: Mapping[str, Any]) -> list[str]:
    found = [f"`{key}` has to be set" for key in ("uri", "sha256", "bin") if not platform.get(key)]
    if platform.get("sha256") and not SHA256.match(platform["sha256"]):
        found.append(f"`sha256` {platform['sha256']!r} must match {SHA256.pattern}")
    files = platform.get("files")
    if files is not None and not files:
        found.append("`files` has to be unspecified or non-empty")
    for op in files or []:
        if not op.get("from") or not op.get("to"):
            found.append("`files`: `from` and `to` have to be set")
        elif op["to"] != str(Path(op["to"])) or ".." in Path(op["to"]).parts:
            found.append(f"`files`: {op['to']!r} is not a clean path")
    selector = platform.get("selector")
    if not selector or (not selector.get("matchLabels") and not selector.get("matchExpressions")):
        return [*found, "an empty or missing selector is not supported"]
    keys = {
        *(selector.get("matchLabels") or {}),
        *(e["key"] for e in selector.get("matchExpressions") or []),
    }
    found += [f"selector key {k!r} not supported (os, arch)" for k in sorted(keys - {"os", "arch"})]
    if not any(matches(selector, {"os": o, "arch": a}) for o, a in KREW_PLATFORMS):
        found.append("the selector matches no platform krew supports")
    return found


def problems(plugin: Mapping[str, Any], filename: str) -> list[str]:
    """What krew (install, and the krew-index check) would refuse in ``plugin``; [] if none."""
    spec = plugin.get("spec") or {}
    return [
        *_identity_problems(plugin, filename),
        *_description_problems(spec),
        *_platforms_problems(spec.get("platforms") or []),
    ]


def _identity_problems(plugin: Mapping[str, Any], filename: str) -> list[str]:
    """The apiVersion, kind and name, and the file named after the plugin."""
    found = []
    if plugin.get("apiVersion") != API_VERSION:
        found.append(f"apiVersion {plugin.get('apiVersion')!r} is not {API_VERSION}")
    if plugin.get("kind") != "Plugin":
        found.append(f"kind {plugin.get('kind')!r} is not Plugin")
    name = (plugin.get("metadata") or {}).get("name", "")
    if not SAFE_NAME.match(name) or name.upper() in WINDOWS_RESERVED:
        found.append(f"name {name!r} is not allowed (must match {SAFE_NAME.pattern})")
    if filename != f"{name}.yaml":
        found.append(f"the file {filename!r} must be named {name}.yaml")
    return found


def _description_problems(spec: Mapping[str, Any]) -> list[str]:
    """The texts krew shows, and the version."""
    found = []
    short = spec.get("shortDescription", "")
    if not short or "\n" in short or "\r" in short or len(short) > 70:
        found.append("shortDescription must be one line of at most 70 characters")
    for key in ("description", "caveats"):
        if _long_lines(spec.get(key, ""), 80):
            found.append(f"{key} has lines over 80 characters")
    if not SEMVER.match(spec.get("version", "")):
        found.append(f"version {spec.get('version')!r} is not semver with a leading v")
    return found


def _platforms_problems(platforms: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each platform on its own, then no two selecting the same os/arch."""
    found = []
    if not platforms:
        found.append("should have a platform specified")
    for i, platform in enumerate(platforms):
        found += [f"platforms[{i}]: {p}" for p in _platform_problems(platform)]
    for os_, arch in KREW_PLATFORMS:
        selected = [
            i
            for i, p in enumerate(platforms)
            if matches(p.get("selector") or {}, {"os": os_, "arch": arch})
        ]
        if len(selected) > 1:
            found.append(f"platforms {selected} overlap on {os_}/{arch}")
    return found


def build(out: Path, base_url: str, version: str = __version__) -> Path:
    """Write the archive and ``incident.yaml`` into ``out``; the manifest's path."""
    data = archive(contents())
    name = archive_name(version)
    plugin = manifest(version, base_url.rstrip("/") + "/" + name, hashlib.sha256(data).hexdigest())
    path = out / f"{NAME}.yaml"
    if found := problems(plugin, path.name):
        raise SystemExit("krew manifest is invalid:\n  " + "\n  ".join(found))
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_bytes(data)
    path.write_text(yaml.dump(plugin, Dumper=block_dumper(), sort_keys=False, width=1 << 20))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.krew", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "krew")
    parser.add_argument(
        "--base-url",
        default=f"{HOMEPAGE}/releases/download/v{__version__}",
        help="where the archive will be published (default: the GitHub release)",
    )
    args = parser.parse_args(argv)
    path = build(args.out, args.base_url)
    print(f"wrote {path} and {path.parent / archive_name(__version__)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
