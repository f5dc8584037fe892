"""Incidents, Severities, rotations and SLOs kept in Git: no tug of war with the operator.

The GitOps stand-in behaves like Argo CD / Flux with self-heal: every two seconds it
server-side applies the Git version of every object with its own field manager
(``argocd-controller``; later ``kustomize-controller`` with ``--force-conflicts``, as Flux
does). Argo CD and Flux controllers themselves are not built here: both are large Go
programs (and Flux also needs a source-controller serving an artifact); the behaviour that
matters to the operator, a repeated server-side apply under a field manager, is what the
stand-in does with the same kubectl the API server's tests use.

A full incident runs through it with the real operator, real Prometheus and the Slack and
PagerDuty fakes: the SLO burns, the operator declares, the incident is exported into Git,
the auto rollback is verified (mitigated), and a Git commit resolves it. Nothing flips: the
spec changes exactly once (the commit), no timeline entry, page or chat post is repeated,
and the final state is Git's.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from incident_operator.adapters.kubernetes import KubernetesStore
from incident_operator.domain.simulation import Trace, TraceRow
from incident_operator.errors import FieldOwnedElsewhere
from tests.cluster.controlplane import free_port
from tests.e2e.test_incident_lifecycle import plugin
from tests.e2e.test_mitigation import (  # noqa: F401 - fixtures
    first_incident,
    image_of,
    rolled_to_v2,
    slo_manifest,
    target_crds,
)
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.threaded import serving
from tests.kube import Cluster, get_custom, wait_for
from tests.operator_process import running_operator
from tests.services.burn import Burn

REPO = Path(__file__).parents[2]
TOKEN = "xoxb-e2e-" + uuid.uuid4().hex
ROUTING_KEY = uuid.uuid4().hex
ARGO, FLUX = "argocd-controller", "kustomize-controller"


class GitOps:
    """Self-heal: apply the repository's manifests every ``period`` seconds, for ever."""

    def __init__(self, cluster: Cluster, repo: Path, period: float = 2.0) -> None:
        self.cluster, self.repo, self.period = cluster, repo, period
        self.syncs = 0
        self.failures: list[str] = []
        self._flux = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gitops", daemon=True)

    def sync(self) -> None:
        manager, force = (FLUX, ["--force-conflicts"]) if self._flux else (ARGO, [])
        done = self.cluster.kubectl(
            "apply", "--server-side", f"--field-manager={manager}", *force, "-f", str(self.repo),
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            self.failures.append(done.stderr)
        self.syncs += 1

    def switch_to_flux(self) -> None:
        """From the next sync on, Flux's way: another manager, conflicts forced.

        (Two tools applying different values of one field would conflict with each other
        whatever the operator does, so the repository moves from one tool to the other.)
        """
        self._flux = True

    def wait_syncs(self, n: int) -> None:
        target = self.syncs + n
        wait_for(f"{n} more GitOps syncs", lambda: self.syncs >= target, timeout=30 + 5 * n)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.sync()

    def __enter__(self) -> GitOps:
        self.sync()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class Sampler:
    """Every version of an object's fields that matter, as a reader polling it sees them."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str) -> None:
        self.api, self.namespace, self.name = api, namespace, name
        self.seen: list[tuple[str, Any, Any, Any, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            body = get_custom(self.api, "Incident", self.name, self.namespace)
            spec, status = body["spec"], body.get("status") or {}
            version = body["metadata"]["resourceVersion"]
            if not self.seen or self.seen[-1][0] != version:
                self.seen.append(
                    (version, spec.get("state"), spec.get("severityRef"),
                     status.get("phase"), body["metadata"]["generation"])
                )  # fmt: skip

    def values(self, index: int) -> list[Any]:
        """The successive distinct values of one field (a flip shows as a repeat)."""
        out: list[Any] = []
        for sample in self.seen:
            if sample[index] is not None and (not out or out[-1] != sample[index]):
                out.append(sample[index])
        return out

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def write(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))


def generation(api: client.ApiClient, kind: str, name: str, namespace: str = "") -> int:
    return int(get_custom(api, kind, name, namespace)["metadata"]["generation"])


def applied_by(body: dict[str, Any]) -> dict[str, set[str]]:
    """Manager -> top-level spec fields it applied (operation Apply)."""
    out: dict[str, set[str]] = {}
    for entry in body["metadata"].get("managedFields") or []:
        if entry.get("operation") == "Apply":
            spec = (entry.get("fieldsV1") or {}).get("f:spec") or {}
            out.setdefault(entry["manager"], set()).update(k[2:] for k in spec)
    return out


def handling_passes(log: Path) -> int:
    """How many times the operator's kopf finished handling an Incident's change."""
    return sum(
        1
        for line in log.read_text(errors="replace").splitlines()
        if "is processed" in line and '"kind": "Incident"' in line
    )


def test_git_and_the_operator_never_fight_over_an_incident(  # noqa: PLR0915 - one story
    target_crds: Cluster,  # noqa: F811
    api: client.ApiClient,
    namespace: str,
    burning: Burn,
    tmp_path: Path,
) -> None:
    prometheus, exporter, trace = burning
    repo = tmp_path / "git"
    repo.mkdir()
    severity = f"sev-git-{uuid.uuid4().hex[:6]}"
    rotation = yaml.safe_load((REPO / "examples" / "20-oncallrotation.yaml").read_text())
    rotation["metadata"]["namespace"] = namespace
    write(repo / "10-rotation.yaml", rotation)
    write(
        repo / "00-severity.yaml",
        {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Severity",
            "metadata": {"name": severity},
            "spec": {
                "level": 2,
                "displayName": "SEV-2 (Git)",
                "rotationRef": rotation["metadata"]["name"],
                "paging": {"page": True},
                "chat": {"createChannel": True, "announceChannels": ["#incidents"]},
                "mitigation": {"autoAllowed": True},
            },
        },
    )
    slo = slo_manifest(severity)
    slo["metadata"]["namespace"] = namespace
    write(repo / "20-slo.yaml", slo)
    rolled_to_v2(api, namespace, "checkout")  # the workload is not in this repository

    slack, pd = FakeSlack(TOKEN), FakePagerDuty([ROUTING_KEY])
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "slack-token").write_text(TOKEN)
    (secrets / "slack-signing-secret").write_text("signing-" + uuid.uuid4().hex)
    (secrets / "routing-key").write_text(ROUTING_KEY)
    store = KubernetesStore(api)
    try:
        with (
            serving(slack, slack.start) as (slack_url, slack_t),
            serving(pd, pd.start),
            GitOps(target_crds, repo) as gitops,
        ):
            slack_t.call(slack.add_channel, "incidents")
            generations = {
                ("Severity", severity, ""): generation(api, "Severity", severity),
                ("OnCallRotation", rotation["metadata"]["name"], namespace): generation(
                    api, "OnCallRotation", rotation["metadata"]["name"], namespace
                ),
                ("ServiceLevelObjective", "checkout", namespace): generation(
                    api, "ServiceLevelObjective", "checkout", namespace
                ),
            }
            with running_operator(
                target_crds,
                tmp_path / "operator.log",
                f"--prometheus-url={prometheus.url}",
                "--evaluation-interval=2s",
                f"--http-listen=127.0.0.1:{free_port()}",
                f"--slack-token-file={secrets / 'slack-token'}",
                f"--slack-signing-secret-file={secrets / 'slack-signing-secret'}",
                f"--slack-api-url={slack_url}",
                f"--pagerduty-routing-key-file={secrets / 'routing-key'}",
                f"--pagerduty-url={pd.url}",
            ):
                name = wait_for(
                    "the declared incident", lambda: first_incident(api, namespace), timeout=120
                )
                with Sampler(api, namespace, name) as sampler:
                    # The operator's incident goes into Git as `kubectl incident export` wrote it.
                    exported = plugin(target_crds, namespace, "export", name)
                    assert exported.returncode == 0, exported.stderr
                    manifest = yaml.safe_load(exported.stdout)
                    assert set(manifest) == {"apiVersion", "kind", "metadata", "spec"}
                    before = get_custom(api, "Incident", name, namespace)
                    (repo / "30-incident.yaml").write_text(exported.stdout)
                    gitops.wait_syncs(2)
                    adopted = get_custom(api, "Incident", name, namespace)
                    # Applied back, the export changed nothing but who owns the fields.
                    assert adopted["spec"] == before["spec"]
                    assert adopted["metadata"]["generation"] == before["metadata"]["generation"]
                    assert "state" in applied_by(adopted)[ARGO]
                    managers = {e["manager"] for e in adopted["metadata"]["managedFields"]}
                    assert "incident-operator" in managers, managers  # one stable name

                    wait_for(
                        "the template back at v1",
                        lambda: (
                            image_of(client.AppsV1Api(api), namespace, "checkout") == "checkout:v1"
                        ),
                        timeout=90,
                    )
                    exporter.set_trace(Trace((*trace.rows, TraceRow(time.time(), 100.0, 0.0))))
                    wait_for(
                        "the incident mitigated (the operator's conclusion)",
                        lambda: (
                            get_custom(api, "Incident", name, namespace)
                            .get("status", {})
                            .get("phase")
                            == "mitigated"
                        ),
                        timeout=180,
                    )
                    gitops.wait_syncs(3)
                    mitigated = get_custom(api, "Incident", name, namespace)
                    assert mitigated["spec"]["state"] == "triage", "Git's value, untouched"
                    assert mitigated["status"]["phase"] == "mitigated", "and it holds"
                    conclusion = mitigated["status"]["conclusions"]["state"]
                    assert (conclusion["value"], conclusion["over"]) == ("mitigated", "triage")

                    # What Git declares cannot be changed on someone's behalf (Slack): the
                    # real managedFields say argocd-controller applied it; refused, not forced.
                    with pytest.raises(FieldOwnedElsewhere) as refused:
                        asyncio.run(
                            store.edit_incident(
                                namespace, name, {"spec": {"state": "investigating"}}
                            )
                        )
                    assert refused.value.fields == {".spec.state": ARGO}
                    # The same from `kubectl incident` (a person's own credentials).
                    plugin_refused = plugin(target_crds, namespace, "resolve", name, "--wait", "0")
                    assert plugin_refused.returncode == 1
                    assert f".spec.state is declared by {ARGO}" in plugin_refused.stderr
                    # Flux's way from here: another manager, conflicts forced; nothing changes.
                    gitops.switch_to_flux()
                    gitops.wait_syncs(2)
                    assert get_custom(api, "Incident", name, namespace)["spec"] == before["spec"]

                    # The commit that resolves it.
                    manifest["spec"]["state"] = "resolved"
                    write(repo / "30-incident.yaml", manifest)
                    wait_for(
                        "the incident resolved by the Git commit",
                        lambda: (
                            get_custom(api, "Incident", name, namespace)
                            .get("status", {})
                            .get("phase")
                            == "resolved"
                        ),
                        timeout=60,
                    )
                    wait_for(
                        "the page resolved",
                        lambda: (
                            (alerts := pd.alerts_for(f"incident-operator/{namespace}/{name}"))
                            and alerts[-1].state == "resolved"
                        ),
                        timeout=60,
                    )
                    gitops.wait_syncs(4)  # self-heal keeps applying: still nothing moves
                    final = get_custom(api, "Incident", name, namespace)
                    handled = handling_passes(tmp_path / "operator.log")
                    gitops.wait_syncs(3)
                    # Idempotent under re-apply: not even the status churns.
                    assert get_custom(api, "Incident", name, namespace)["status"] == final["status"]
                    # Nor does kopf handle the same change again: Git holds none of its
                    # bookkeeping (an exported diff base, put back on every sync, was a
                    # change kopf handled every 2 s).
                    assert handling_passes(tmp_path / "operator.log") == handled
                    now_generations = {key: generation(api, *key) for key in generations}
    finally:
        client.CustomObjectsApi(api).delete_cluster_custom_object(
            "sre.dev", "v1alpha1", "severities", severity
        )

    assert gitops.failures == [], gitops.failures  # never a conflict with the operator
    # No field flipped: the spec changed once (the commit), the phase only went forward.
    assert sampler.values(1) == ["triage", "resolved"], sampler.seen
    assert sampler.values(2) == [before["spec"]["severityRef"]], sampler.seen
    assert sampler.values(3)[-2:] == ["mitigated", "resolved"], sampler.seen
    assert sampler.values(4) == [before["metadata"]["generation"], final["metadata"]["generation"]]
    assert final["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert final["spec"]["state"] == "resolved" == final["status"]["phase"]
    # The operator never wrote a spec Git holds: the other objects' specs never moved.
    assert now_generations == generations, "a Git-managed spec was rewritten"
    # No duplicate timeline entry, page or chat post.
    timeline = final["status"]["timeline"]
    keys = [e["key"] for e in timeline]
    assert len(keys) == len(set(keys))
    states = [e["message"] for e in timeline if e["type"] == "state-changed"]
    assert len(states) == 2, states
    assert "-> mitigated" in states[0], states
    assert "-> resolved" in states[1], states
    assert len(pd.alerts_for(f"incident-operator/{namespace}/{name}")) == 1
    triggers = [
        e for e in pd.events
        if e.get("dedup_key") == f"incident-operator/{namespace}/{name}"
        and e.get("event_action") == "trigger"
    ]  # fmt: skip
    assert len(triggers) == 1, triggers
    created = [c for c in slack.channels.values() if c.name != "incidents"]
    assert len(created) == 1, [c.name for c in slack.channels.values()]
    assert created[0].id == final["status"]["chat"]["channelId"]
    posts = Counter(str(m.get("text", "")) for m in created[0].messages)
    assert all(n == 1 for n in posts.values()), posts
    announced = next(c for c in slack.channels.values() if c.name == "incidents")
    assert len(announced.messages) == 1, [m.get("text") for m in announced.messages]
