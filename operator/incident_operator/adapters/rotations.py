"""Read one OnCallRotation from the cluster (current kubeconfig) for the kubectl plugin.

A plain synchronous call: the plugin is a one-shot command line, not the operator's loop.
API errors are translated into our exceptions here, like every adapter does.
"""

from __future__ import annotations

import os
from typing import Any

from kubernetes import client, config

from incident_operator import GROUP, VERSION
from incident_operator.errors import NotFound, PermanentError

from .kubernetes import call, translate


def _kubeconfig() -> str | None:
    """KUBECONFIG as it is now: the client reads it once at import, which is too early."""
    return os.environ.get("KUBECONFIG") or None


class RotationNotFound(PermanentError):
    """No OnCallRotation by that name in that namespace."""


def current_namespace() -> str:
    """The namespace of the kubeconfig's current context, as kubectl uses it."""
    try:
        _, context = config.list_kube_config_contexts(config_file=_kubeconfig())  # type: ignore[no-untyped-call]
    except (config.ConfigException, OSError):
        return "default"
    return str((context or {}).get("context", {}).get("namespace") or "default")


def read_rotation(name: str, namespace: str | None = None) -> dict[str, Any]:
    """The OnCallRotation object as the API server returns it."""
    namespace = namespace or current_namespace()
    what = f"get oncallrotation {namespace}/{name}"
    try:
        config.load_kube_config(config_file=_kubeconfig())  # type: ignore[no-untyped-call]
    except config.ConfigException as exc:
        raise PermanentError(f"{what}: no usable kubeconfig: {exc}") from exc
    except OSError as exc:
        raise translate(exc, what) from exc
    api = client.CustomObjectsApi(client.ApiClient())
    try:
        result = call(
            what,
            api.get_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "oncallrotations",
            name,
        )
    except NotFound as exc:
        raise RotationNotFound(f"OnCallRotation {namespace}/{name} not found") from exc
    return dict(result) if isinstance(result, dict) else {}
