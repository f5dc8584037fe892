"""Reading ServiceLevelObjective manifests from files for the offline plugin commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from incident_operator.api.v1alpha1.documents import Source


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


def document_of_kind(path: Path, kind: str, name: str | None = None) -> dict[str, Any]:
    """The one ``kind`` document in ``path`` (by ``name`` when the file holds several).

    A document without ``kind`` counts as ``kind``, so a bare spec file works too.
    """
    article = "an" if kind[0] in "AEIOU" else "a"
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: cannot read the manifest: {exc}") from exc
    if not all(isinstance(d, dict) for d in documents):
        raise UsageError(f"{path}: expected {article} {kind} manifest with a spec")
    found = [d for d in documents if d.get("kind", kind) == kind]
    if name is not None:
        found = [d for d in found if (d.get("metadata") or {}).get("name") == name]
    if not found:
        kinds = ", ".join(sorted({str(d.get("kind")) for d in documents})) or "nothing"
        wanted = f" named {name!r}" if name else ""
        raise UsageError(f"{path}: no {kind}{wanted} (found {kinds})")
    if len(found) > 1:
        names = ", ".join(str((d.get("metadata") or {}).get("name")) for d in found)
        raise UsageError(f"{path}: holds {len(found)} {kind}s ({names}); pick one with --name")
    (document,) = found
    if not isinstance(document.get("spec"), dict):
        raise UsageError(f"{path}: expected {article} {kind} manifest with a spec")
    return dict(document)


def slo_document(path: Path, name: str | None = None) -> dict[str, Any]:
    """The one ServiceLevelObjective document in ``path``."""
    return document_of_kind(path, "ServiceLevelObjective", name)


def problems(path: Path, exc: ValidationError, prefix: str = "") -> UsageError:
    """Every validation error with its field path, on one line."""
    listed = "; ".join(
        f"{prefix}{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
        for e in exc.errors(include_url=False)
    )
    return UsageError(f"{path}: {listed}")


class _BlockDumper(yaml.SafeDumper):
    """Multi-line PromQL as ``|`` blocks, the way people write rule files."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def block_dumper() -> type[yaml.SafeDumper]:
    """The YAML dumper writing multi-line PromQL as ``|`` blocks."""
    return _BlockDumper


def read_sources(paths: list[Path]) -> list[Source]:
    """Every YAML document in ``paths``, named ``file`` or ``file#n`` for messages."""
    sources = []
    for path in paths:
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"{path}: cannot read: {exc}") from exc
        numbered = [d for d in documents if d is not None]
        for i, document in enumerate(numbered, 1):
            where = f"{path}#{i}" if len(numbered) > 1 else str(path)
            sources.append(Source(where, document))
    return sources
