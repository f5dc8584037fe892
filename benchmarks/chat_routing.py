"""Chat routing: what finding a channel's incident costs per /incident command or 📌 reaction.

Before (label routing): every command listed incidents in all namespaces with the label
selector ``sre.dev/chat-channel=<id>`` — the API server reads every incident to filter, so the
cost grows with the cluster's incidents. After (services/chat_channels.py): the watch-fed
index answers in memory and the command GETs its one incident.

``--incidents`` Incidents (spread over 10 namespaces) each with ``status.chat.channelId`` and
the old label, on the local control plane; then ``--lookups`` lookups of random channels each
way, timed with the real adapter (KubernetesStore).

    .venv/bin/python -m benchmarks.chat_routing [--incidents 1000] [--lookups 50]

Measured here (2 shared cores, 1000 incidents, 50 lookups):

    label LIST in all namespaces (before): p50    2.2 ms  p95    2.6 ms  1 cluster-wide LIST each
    index + GET (after):                   p50    1.9 ms  p95    2.6 ms  1 GET each
    one-time seeding LIST (first command before the watch): 73 ms

The API server's watch cache answers a label-selected LIST almost as fast as a GET at this
size, so latency barely moves; what changes is that no command needs a cluster-wide LIST (and
the index lookup itself is in memory), and that the answer rests on status, not on a label.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from kubernetes import client

from incident_operator.adapters.kubernetes import KubernetesStore
from incident_operator.services.chat_channels import ChannelIndex
from tests.cluster.signals import interrupt_on_termination

from .common import cluster_with_crds

LABEL = "sre.dev/chat-channel"
NAMESPACES = 10


def channel(n: int) -> str:
    return f"C{n:09d}"


def populate(api: client.ApiClient, count: int) -> None:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    for ns in range(NAMESPACES):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=f"t{ns}")))
    for n in range(count):
        namespace, name = f"t{n % NAMESPACES}", f"inc-{n:05d}"
        custom.create_namespaced_custom_object(
            "sre.dev", "v1alpha1", namespace, "incidents",
            {"apiVersion": "sre.dev/v1alpha1", "kind": "Incident",
             "metadata": {"name": name, "labels": {LABEL: channel(n)}},
             "spec": {"title": f"Incident {n}", "service": "svc", "severityRef": "sev-2"}},
        )  # fmt: skip
        custom.patch_namespaced_custom_object_status(
            "sre.dev", "v1alpha1", namespace, "incidents", name,
            {"status": {"chat": {"channelId": channel(n)}}},
        )  # fmt: skip


async def measure(api: client.ApiClient, count: int, lookups: int) -> None:
    store = KubernetesStore(api)
    picks = [random.randrange(count) for _ in range(lookups)]
    before = []
    for n in picks:
        started = time.perf_counter()
        found = await store.find_incidents("", {LABEL: channel(n)})
        before.append(time.perf_counter() - started)
        assert len(found) == 1
    index = ChannelIndex()
    started = time.perf_counter()
    index.seed(await store.find_incidents("", {}))
    seeded = time.perf_counter() - started
    after = []
    for n in picks:
        started = time.perf_counter()
        (key,) = index.incidents(channel(n))
        assert await store.get_incident(*key) is not None
        after.append(time.perf_counter() - started)

    def p95(values: list[float]) -> float:
        return sorted(values)[int(0.95 * (len(values) - 1))] * 1000

    def ms(values: list[float]) -> str:
        return f"p50 {statistics.median(values) * 1000:6.1f} ms  p95 {p95(values):6.1f} ms"

    print(f"incidents={count} lookups={lookups}")
    print(f"  label LIST in all namespaces (before): {ms(before)}  1 cluster-wide LIST each")
    print(f"  index + GET (after):                   {ms(after)}  1 GET each")
    print(f"  one-time seeding LIST (first command before the watch): {seeded * 1000:.0f} ms")
    print(
        f"label_list_p95_ms={p95(before):.1f} index_get_p95_ms={p95(after):.1f} "
        f"seeding_ms={seeded * 1000:.0f}"
    )


def main() -> None:
    interrupt_on_termination()  # a kill or closed terminal stops what we started
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=50)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as work,
        cluster_with_crds(Path(work), "chat-routing") as (_, api),
    ):
        populate(api, args.incidents)
        asyncio.run(measure(api, args.incidents, args.lookups))


if __name__ == "__main__":
    main()
