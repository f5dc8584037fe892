"""The client's heavy API modules are imported when first used, not when the operator starts."""

from __future__ import annotations

import subprocess
import sys

from incident_operator.adapters.kubernetes import OnFirstUse


def test_built_once_on_first_call() -> None:
    built: list[object] = []

    def build() -> object:
        built.append(object())
        return built[-1]

    lazy = OnFirstUse(build)
    assert built == []
    first = lazy()
    assert lazy() is first
    assert len(built) == 1


ADAPTERS = """
import sys
from kubernetes import client
from incident_operator.adapters.catalog import SecretPagers, SecretWebhooks
from incident_operator.adapters.kubernetes import KubernetesStore
from incident_operator.adapters.postmortem_store import KubernetesPostmortems
from incident_operator.adapters.subscriber_secret import (
    SecretSubscriberList,
)
from incident_operator.adapters.workloads import KubernetesWorkloads
import httpx
api = client.ApiClient()
store = KubernetesStore(api)
http = httpx.AsyncClient()
built = [
    SecretPagers(api, http, "ns"),
    SecretWebhooks(api, http, "ns"),
    KubernetesPostmortems(api),
    SecretSubscriberList(api, "ns", "name"),
    KubernetesWorkloads(api),
]
heavy = ("kubernetes.client.api.core_v1_api", "kubernetes.client.api.events_v1_api")
print(",".join(m for m in heavy if m in sys.modules))
built[2]._core()
store._events()
print(",".join(m for m in heavy if m in sys.modules))
"""


def test_building_the_adapters_imports_no_core_or_events_api() -> None:
    """CoreV1Api's module alone is ~21 MB resident (issue 15): built, the adapters have not
    imported it; used, they have."""
    out = subprocess.run(
        [sys.executable, "-c", ADAPTERS], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["", "kubernetes.client.api.core_v1_api,kubernetes.client.api.events_v1_api"]
