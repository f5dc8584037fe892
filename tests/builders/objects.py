"""Incident and Severity bodies as the API server returns them, for any test to start from.

The defaults describe one incident on the ``checkout`` service in namespace ``shop`` at SEV-2.
Keyword arguments that are not parameters go into ``spec`` as written (``state="triage"``,
``severityRef="sev-1"``, ``roles={...}``) and override the defaults; a test names only what it
is about.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

API_VERSION = "sre.dev/v1alpha1"
NS = "shop"
CREATED = "2026-11-27T14:00:00Z"


def incident(
    name: str = "checkout-errors",
    namespace: str | None = NS,
    *,
    created: str | None = CREATED,
    metadata: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """An Incident. ``None`` leaves out the namespace (for a body sent to a namespaced URL),
    ``creationTimestamp`` or the status; ``metadata`` adds to (or overrides) the rest."""
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if created is not None:
        meta["creationTimestamp"] = created
    meta.update(copy.deepcopy(dict(metadata or {})))
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Incident",
        "metadata": meta,
        "spec": {
            "title": "Checkout returns 5xx",
            "service": "checkout",
            "severityRef": "sev-2",
            **spec,
        },
    }
    if status is not None:
        body["status"] = copy.deepcopy(dict(status))
    return body


def incident_manifest(name: str, **spec: Any) -> dict[str, Any]:
    """An Incident as a person applies it: no namespace (the request names it), nothing the
    API server sets."""
    return incident(name, None, created=None, **spec)


def severity(
    name: str = "sev-2",
    level: int = 2,
    *,
    metadata: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A (cluster-scoped) Severity; ``displayName`` defaults to the name in capitals."""
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Severity",
        "metadata": {"name": name, **copy.deepcopy(dict(metadata or {}))},
        "spec": {"level": level, "displayName": name.upper(), **spec},
    }
    if status is not None:
        body["status"] = copy.deepcopy(dict(status))
    return body
