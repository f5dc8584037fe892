"""CEL transition rules on the real API server: the moves it refuses, with their message."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.builders.objects import incident_manifest
from tests.kube import Cluster, api_error_message, create_custom


def transition_check(state: str, **spec: Any) -> dict[str, Any]:
    return incident_manifest("inc", title="Transition check", state=state, **spec)


def patch_spec(api: client.ApiClient, namespace: str, name: str, spec: dict[str, Any]) -> None:
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "sre.dev", "v1alpha1", namespace, "incidents", name, {"spec": spec}
    )


REFUSED = [
    ("closed", {"state": "investigating"}, "a closed incident cannot change state"),
    ("declined", {"state": "investigating"}, "a declined incident cannot change state"),
    (
        "merged",
        {"state": "investigating", "mergedInto": None},
        "a merged incident cannot change state",
    ),
    ("mitigated", {"state": "declined"}, "only an incident in triage or investigating"),
    ("resolved", {"state": "declined"}, "only an incident in triage or investigating"),
    ("investigating", {"state": "triage"}, "cannot go back to triage once acknowledged"),
]


@pytest.mark.parametrize(("start", "change", "message"), REFUSED, ids=lambda v: str(v)[:20])
def test_illegal_transition_is_rejected_with_its_reason(
    crds: Cluster,
    api: client.ApiClient,
    namespace: str,
    start: str,
    change: dict[str, Any],
    message: str,
) -> None:
    extra = {"mergedInto": "survivor"} if start == "merged" else {}
    create_custom(api, transition_check(start, **extra), namespace)
    with pytest.raises(ApiException) as rejected:
        patch_spec(api, namespace, "inc", change)
    assert rejected.value.status == 422
    text = api_error_message(rejected.value)
    assert message in text, text
    assert "spec.state" in text, text


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("triage", "closed"),
        ("resolved", "investigating"),
        ("investigating", "declined"),
        ("mitigated", "resolved"),
        ("closed", "closed"),
    ],
)
def test_legal_transition_is_accepted(
    crds: Cluster, api: client.ApiClient, namespace: str, start: str, target: str
) -> None:
    create_custom(api, transition_check(start), namespace)
    patch_spec(api, namespace, "inc", {"state": target, "summary": "changed"})
