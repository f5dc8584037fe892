"""The chaos run: incident flows driven like users drive them, faults injected meanwhile.

One *round* is four flows in a fresh namespace, run concurrently:

- ``slo``: a Deployment rolled to v2 and an SLO whose service starts failing; the operator must
  declare one incident, roll the Deployment back (auto mitigation), and — once the harness
  heals the service and the burn is over — a human resolves it and a postmortem is drafted;
- ``alertmanager``: an alert fires in Prometheus, real Alertmanager delivers it to the
  operator's webhook; a human investigates, the alert stops, the human resolves;
- ``kubectl``: an Incident applied with kubectl, then investigating → mitigated → resolved,
  an action item added to its postmortem (a Jira ticket), the postmortem published and the
  incident closed;
- ``calm``: an SLO on a healthy service, which must never declare anything.

Meanwhile one thread ``kill -9``\\ s the operator at random moments (it is restarted at
once) and another injects the other faults. Rounds start in waves until the run has its
kills. Then faults stop, the run waits for the world to settle, records the
:class:`~tests.chaos.invariants.History` and checks the invariants.

The seed (``CHAOS_SEED``) fixes the fault schedule (kinds, parameters, gaps) and every random
choice of the harness; the machine's timing still varies, so the same seed replays the same
schedule, not the same interleaving.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client

from incident_operator.domain import mitigation as m
from tests.chaos.invariants import Expected, History, Observation, check
from tests.chaos.world import SEVERITY, World
from tests.cluster import controlplane
from tests.kube import REPO, Cluster, api_client, as_dict, create_custom, name_of, pod_spec

T = TypeVar("T")
GROUP, VERSION = "sre.dev", "v1alpha1"
ROTATION = REPO / "examples" / "20-oncallrotation.yaml"
CLOCK_JUMP = "clock-jump"
QUIET_FOR = 12.0
"""Seconds a drained status must stay drained to count as settled: longer than the
adapters' 10 s call timeout, so no call that was in flight can still record a retry."""
CLOCK_JUMP_SKIPPED = "libfaketime is not installed (Debian package faketime: `make deps`)"


@dataclass(frozen=True)
class Settings:
    seed: int
    min_kills: int
    rounds_per_wave: int
    max_rounds: int
    control_plane_restarts: int = 3
    """At most this many restarts of the kube-apiserver and of etcd each (0: none)."""
    flows: tuple[str, ...] = ("slo", "alertmanager", "kubectl", "calm")
    bound: float = 300.0
    """Seconds within which each step must converge."""
    kill_gap: tuple[float, float] = (4.0, 12.0)
    cleanup: bool = False
    """Delete the run's namespaces and Severity (while the operator still runs) at the end."""
    fault_gap: tuple[float, float] = (4.0, 12.0)
    minutes: float = 0.0
    """Run length: no new wave of rounds starts after this many minutes (0: no limit). Waves
    in flight finish and the run settles afterwards (each step within ``bound``)."""
    clock_jump: tuple[int, int] = (300, 7200)
    """Seconds by which one clock jump moves the operator's clocks forward."""

    @classmethod
    def full(cls, seed: int, minutes: float = 15.0) -> Settings:
        return cls(
            seed,
            min_kills=50,
            rounds_per_wave=2,
            max_rounds=8,
            control_plane_restarts=4,
            kill_gap=(3.0, 9.0),
            fault_gap=(3.0, 9.0),
            minutes=minutes,
        )

    @classmethod
    def smoke(cls, seed: int) -> Settings:
        return cls(
            seed,
            min_kills=3,
            rounds_per_wave=1,
            max_rounds=1,
            flows=("alertmanager", "kubectl", "calm"),
            kill_gap=(3.0, 8.0),
            control_plane_restarts=1,
            cleanup=True,
        )


def machine() -> str:
    memory = next(
        (
            int(line.split()[1]) / 2**20
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        0.0,
    )
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load {load:.1f} at the end"
    )


def minutes_from_env(default: float = 15.0) -> float:
    """``CHAOS_MINUTES``: how long the full run starts new rounds (see Settings.minutes)."""
    value = os.environ.get("CHAOS_MINUTES", "")
    return float(value) if value else default


def seed_from_env() -> int:
    value = os.environ.get("CHAOS_SEED", "")
    return int(value) if value else random.SystemRandom().randrange(1, 2**31)


@dataclass
class Report:
    seed: int
    settings: Settings
    rounds: int = 0
    flows: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, str] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(default_factory=dict)
    convergence: list[tuple[str, float | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)
    """Exit codes of operator processes that stopped without being killed (restarted)."""
    seconds: float = 0.0

    @property
    def violation_count(self) -> int:
        return sum(len(v) for v in self.violations.values()) + len(self.errors)

    def figures(self) -> str:
        times = sorted(s for _, s in self.convergence if s is not None)

        def pct(p: float) -> str:
            if not times:
                return "n/a"
            return f"{times[min(len(times) - 1, int(p * len(times)))]:.1f} s"

        lines = [
            f"command: CHAOS_SEED={self.seed} CHAOS_MINUTES={self.settings.minutes:g} make chaos"
            " (the seed replays this fault schedule)",
            f"machine: {machine()}",
            f"duration: {self.seconds / 60:.1f} min",
            f"rounds: {self.rounds}; incident flows: {sum(self.flows.values())} "
            + "("
            + ", ".join(f"{k} {v}" for k, v in sorted(self.flows.items()))
            + ")",
            "faults injected: "
            + str(sum(self.faults.values()))
            + " ("
            + ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
            + ")",
        ]
        lines += [f"faults skipped: {k}: {why}" for k, why in self.skipped.items()]
        lines.append(
            f"operator exits without a kill: {len(self.exits)}"
            + (f" (codes {sorted(set(self.exits))})" if self.exits else "")
        )
        lines.append(f"invariant violations: {self.violation_count}")
        for name, found in self.violations.items():
            lines.append(f"  {name}: {len(found)}")
            lines += [f"    - {v}" for v in found[:20]]
        lines += [f"  harness error: {e}" for e in self.errors]
        missing = sum(1 for _, s in self.convergence if s is None)
        lines.append(
            f"convergence ({len(times)} steps, {missing} never): p50 {pct(0.5)}, "
            f"p95 {pct(0.95)}, max {f'{times[-1]:.1f} s' if times else 'n/a'}"
            f" (bound {self.settings.bound:.0f} s)"
        )
        return "\n".join(lines)


class Kube:
    """Thread-local API clients that retry through API server and etcd restarts."""

    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig
        self.local = threading.local()

    @property
    def api(self) -> client.ApiClient:
        if not hasattr(self.local, "api"):
            self.local.api = api_client(self.kubeconfig)
        return self.local.api  # type: ignore[no-any-return]

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def retry(self, what: str, fn: Callable[[], T], timeout: float = 180) -> T:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return fn()
            except Exception as exc:
                if isinstance(exc, client.ApiException) and exc.status in (400, 403, 422):
                    raise
                if isinstance(exc, client.ApiException) and exc.status == 409:
                    raise
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what}: {exc}") from exc
                time.sleep(1)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            try:
                return as_dict(
                    self.custom.get_namespaced_custom_object(
                        GROUP, VERSION, namespace, plural, name
                    )
                )
            except client.ApiException as exc:
                if exc.status == 404:
                    return None
                raise

        return self.retry(f"get {plural}/{name}", read)

    def items(self, plural: str, namespace: str) -> list[dict[str, Any]]:
        return self.retry(
            f"list {plural}",
            lambda: list(
                as_dict(
                    self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)
                )["items"]
            ),
        )

    def patch(self, plural: str, namespace: str, name: str, body: Any) -> None:
        self.retry(
            f"patch {plural}/{name}",
            lambda: self.custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, name, body
            ),
        )

    def create(self, manifest: dict[str, Any], namespace: str) -> None:
        def create() -> None:
            try:
                create_custom(self.api, manifest, namespace)
            except client.ApiException as exc:
                if exc.status != 409:  # created before a restart cut the answer off
                    raise

        self.retry(f"create {manifest['kind']}", create)


class Run:
    def __init__(self, cluster: Cluster, state_dir: Path | None, settings: Settings) -> None:
        self.cluster = cluster
        self.state_dir = state_dir
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.kube = Kube(cluster.kubeconfig)
        self.report = Report(settings.seed, settings)
        self.expected: dict[tuple[str, str], Expected] = {}
        self._converged: list[tuple[str, float | None]] = []
        self.observations: list[Observation] = []
        self.namespaces: list[str] = []
        self.clock_jumps: list[float] = []
        """When each clock jump was made (wall time of the harness)."""
        self.stop_faults = threading.Event()
        self.stop_observer = threading.Event()
        self.lock = threading.Lock()
        self.world: World

    # -- the run ------------------------------------------------------------------------

    def execute(self, workdir: Path) -> Report:
        self.workdir = workdir
        started = time.monotonic()
        s = self.settings
        jobs = [f"burn-{i}" for i in range(s.max_rounds)] + ["calm"]
        self._cluster_setup()
        with World(self.cluster, workdir, jobs) as world:
            self.world = world
            observer = threading.Thread(target=self._observe, daemon=True)
            observer.start()
            killer = threading.Thread(target=self._killer, daemon=True)
            faulter = threading.Thread(target=self._faulter, daemon=True)
            killer.start()
            faulter.start()
            try:
                rounds = 0
                budget = started + s.minutes * 60 if s.minutes else float("inf")
                while rounds < s.max_rounds and time.monotonic() < budget:
                    wave = [
                        rounds + k for k in range(min(s.rounds_per_wave, s.max_rounds - rounds))
                    ]
                    rounds += len(wave)
                    self._wave(wave)
                    if self.report.faults["operator-kill"] >= s.min_kills:
                        break
                # Too few kills yet (fast flows): keep killing the idle operator.
                while self.report.faults["operator-kill"] < s.min_kills:
                    time.sleep(1)
            finally:
                self.stop_faults.set()
                killer.join(timeout=300)
                faulter.join(timeout=300)
            self.report.rounds = rounds
            self._settle()
            self.stop_observer.set()
            observer.join(timeout=10)
            history = self._history()
            self.report.violations = check(history)
            self.report.convergence = history.converged
            if s.cleanup:
                self._cleanup()
        self.report.seconds = time.monotonic() - started
        if self.world.operator.clock_file is None:
            self.report.skipped[CLOCK_JUMP] = CLOCK_JUMP_SKIPPED
        if not s.control_plane_restarts or self.state_dir is None:
            self.report.skipped["apiserver-restart, etcd-restart"] = (
                "not on an existing cluster" if self.state_dir is None else "off for this run"
            )
        return self.report

    def _cluster_setup(self) -> None:
        self.kube.retry(
            "install the CRDs",
            lambda: self.cluster.kubectl(
                "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds")
            ),
        )
        self.cluster.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds")
        )
        severity = {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Severity",
            "metadata": {"name": SEVERITY},
            "spec": {
                "level": 2,
                "displayName": "SEV-2 (chaos)",
                "paging": {"page": True},
                "chat": {"createChannel": True, "announceChannels": ["#incidents"]},
                "rotationRef": "checkout-oncall",
                "postmortem": {"required": True},
                "mitigation": {"autoAllowed": True},
            },
        }
        self.kube.create(severity, "")

    def _wave(self, rounds: list[int]) -> None:
        threads = []
        for index in rounds:
            namespace = f"chaos-{self.settings.seed % 100000}-{index}-{uuid.uuid4().hex[:4]}"
            self._namespace(namespace)
            for flow in self.settings.flows:
                self.report.flows[flow] += 1
                target = getattr(self, f"_flow_{flow}")
                thread = threading.Thread(
                    target=self._guarded, args=(flow, target, namespace, index), daemon=True
                )
                thread.start()
                threads.append(thread)
        for thread in threads:
            thread.join()

    def _guarded(self, flow: str, target: Callable[[str, int], None], ns: str, i: int) -> None:
        try:
            target(ns, i)
        except Exception as exc:  # a flow that cannot go on is a finding, not a crash
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            with self.lock:
                self.report.errors.append(f"{flow} flow in {ns}: {detail}")

    def _namespace(self, namespace: str) -> None:
        core = client.CoreV1Api(self.kube.api)

        def create() -> None:
            try:
                core.create_namespace(
                    client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
                )
            except client.ApiException as exc:
                if exc.status != 409:
                    raise

        self.kube.retry(f"namespace {namespace}", create)
        self.namespaces.append(namespace)
        rotation = yaml.safe_load(ROTATION.read_text())
        rotation["metadata"]["namespace"] = namespace
        self.kube.create(rotation, namespace)

    # -- waiting and measuring ------------------------------------------------------------

    def _await(self, what: str, probe: Callable[[], T | None], since: float | None = None) -> T:
        """Poll until ``probe`` is truthy; record the time since ``since`` (or now)."""
        start = time.time() if since is None else since
        deadline = time.time() + self.settings.bound
        while time.time() < deadline:
            try:
                found = probe()
            except Exception:
                found = None
            if found:
                self._converged.append((what, time.time() - start))
                return found
            time.sleep(1)
        self._converged.append((what, None))
        raise TimeoutError(f"{what}: not within {self.settings.bound:.0f} s")

    def _phase(self, namespace: str, name: str, phase: str) -> Callable[[], bool]:
        def probe() -> bool:
            found = self.kube.get("incidents", namespace, name)
            return bool(found and (found.get("status") or {}).get("phase") == phase)

        return probe

    def _by_source(self, namespace: str, kind: str) -> Callable[[], dict[str, Any] | None]:
        def probe() -> dict[str, Any] | None:
            return next(
                (
                    i
                    for i in self.kube.items("incidents", namespace)
                    if (i["spec"].get("source") or {}).get("type") == kind
                ),
                None,
            )

        return probe

    def _expect(self, exp: Expected, **changes: Any) -> None:
        """Record (or update) what the inputs of a flow imply so far."""
        key = (exp.namespace, exp.flow)
        with self.lock:
            self.expected[key] = replace(self.expected.get(key, exp), **changes)

    def _human(self, exp: Expected, name: str, state: str, *, kubectl: bool = False) -> float:
        """A human sets ``spec.state`` (with kubectl or the API); returns when."""
        at = time.time()
        states = (*self.expected[(exp.namespace, exp.flow)].states, state)
        resolved = {"resolved_by_human_at": at} if state == "resolved" else {}
        self._expect(exp, states=states, final_phase=state, **resolved)
        if kubectl:
            patch = json.dumps({"spec": {"state": state}})
            self.kube.retry(
                f"kubectl patch {state}",
                lambda: self.cluster.kubectl(
                    "patch", "incident", name, "-n", exp.namespace, "--type=merge", "-p", patch
                ),
            )
        else:
            self.kube.patch("incidents", exp.namespace, name, {"spec": {"state": state}})
        return at

    # -- the flows -----------------------------------------------------------------------

    def _flow_calm(self, namespace: str, index: int) -> None:
        self._expect(Expected(namespace, "calm"))
        self.kube.create(self._slo("calm", "calm"), namespace)

    def _flow_slo(self, namespace: str, index: int) -> None:
        apps = client.AppsV1Api(self.kube.api)
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "checkout",
                "annotations": {m.OPT_IN_ANNOTATION: m.OPT_IN_VALUE},
            },
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "checkout"}},
                "template": {
                    "metadata": {"labels": {"app": "checkout"}},
                    "spec": {"containers": [{"name": "app", "image": "checkout:v1"}]},
                },
            },
        }

        def create_deployment() -> None:
            with contextlib.suppress(client.ApiException):
                apps.create_namespaced_deployment(
                    namespace, client.V1Deployment.model_validate(deployment)
                )

        self.kube.retry("create the Deployment", create_deployment)

        def image() -> str:
            dep = self.kube.retry(
                "read the Deployment",
                lambda: apps.read_namespaced_deployment("checkout", namespace),
            )
            return str(pod_spec(dep).containers[0].image)

        def revisions() -> int:
            sets = self.kube.retry(
                "list ReplicaSets", lambda: apps.list_namespaced_replica_set(namespace).items
            )
            return len(sets)

        self._await("deployment revision 1", lambda: revisions() >= 1)
        self.kube.retry(
            "roll out v2",
            lambda: apps.patch_namespaced_deployment(
                "checkout",
                namespace,
                {
                    "spec": {
                        "template": {
                            "spec": {"containers": [{"name": "app", "image": "checkout:v2"}]}
                        }
                    }
                },
            ),
        )
        self._await("deployment revision 2", lambda: revisions() >= 2)
        service = self.world.services[f"burn-{index}"]
        slo = self._slo("checkout", service.job)
        slo["spec"]["mitigations"] = [{"rollback": {"deployment": "checkout"}}]
        slo["spec"]["mitigationPolicy"] = {
            "mode": "auto",
            "cooldown": "1s",
            "maxActions": 1,
            "verifyWithin": "10m",
        }
        self.kube.create(slo, namespace)
        began = time.time()
        service.burn()
        exp = Expected(
            namespace,
            "slo",
            source_type="slo",
            source_ref="checkout",
            final_phase="triage",
            mitigation="rollback-checkout",
            timeline=("declared", "state-changed", "mitigation"),
        )
        self._expect(exp)
        incident = self._await(
            "slo: burn -> incident declared", self._by_source(namespace, "slo"), began
        )
        name = incident["metadata"]["name"]
        at = self._human(exp, name, "investigating")
        self._await("slo: investigating", self._phase(namespace, name, "investigating"), at)
        self._await("slo: rollback to v1", lambda: image() == "checkout:v1", began)
        healed = time.time()
        service.heal()

        def burn_over() -> bool:
            slo_now = self.kube.get("servicelevelobjectives", namespace, "checkout") or {}
            conditions = {
                c["type"]: c["status"] for c in (slo_now.get("status") or {}).get("conditions", [])
            }
            return conditions.get("Burning") == "False"

        self._await("slo: healed -> burn over", burn_over, healed)

        # The operator verifies its rollback (the burn stopped) and moves the incident to
        # mitigated, as a human would; the human resolves after that. A clock jump while it
        # verifies may carry the operator past verifyWithin with no data at the jumped instant
        # (Prometheus has none from the future): then the verification fails, the mitigation
        # is recorded failed and the responders are paged again, and the human moves the
        # incident to mitigated. Only with a jump is a failed verification accepted.
        def verified_or_failed() -> str | None:
            status = (self.kube.get("incidents", namespace, name) or {}).get("status") or {}
            if status.get("phase") == "mitigated":
                return "verified"
            with self.lock:
                jumped = any(at >= began for at in self.clock_jumps)
            failed = any(m.get("state") == "failed" for m in status.get("mitigations") or [])
            return "failed" if jumped and failed else None

        states = (*self.expected[(namespace, "slo")].states, "mitigated")
        self._expect(exp, states=states, final_phase="mitigated")
        outcome = self._await("slo: verified -> mitigated", verified_or_failed, healed)
        if outcome == "failed":
            self._expect(exp, states=states[:-1])
            at = self._human(exp, name, "mitigated")
            self._await("slo: mitigated by hand", self._phase(namespace, name, "mitigated"), at)
        at = self._human(exp, name, "resolved")
        self._await("slo: resolved", self._phase(namespace, name, "resolved"), at)
        self._expect(exp, postmortem=True)
        self._await(
            "slo: postmortem drafted", lambda: self.kube.get("postmortems", namespace, name), at
        )

    def _flow_alertmanager(self, namespace: str, index: int) -> None:
        began = time.time()
        self.world.alerts.active[namespace] = 1
        exp = Expected(
            namespace,
            "alertmanager",
            source_type="alertmanager",
            final_phase="triage",
            timeline=("declared", "alert-firing", "state-changed"),
        )
        self._expect(exp)
        incident = self._await(
            "alertmanager: alert -> incident declared",
            self._by_source(namespace, "alertmanager"),
            began,
        )
        name = incident["metadata"]["name"]
        at = self._human(exp, name, "investigating")
        self._await(
            "alertmanager: investigating", self._phase(namespace, name, "investigating"), at
        )
        self.world.alerts.active[namespace] = 0

        def alert_resolved() -> bool:
            found = self.kube.get("incidents", namespace, name) or {}
            timeline = (found.get("status") or {}).get("timeline") or []
            return any(e.get("type") == "alerts-resolved" for e in timeline)

        self._await("alertmanager: alert resolved in the timeline", alert_resolved)
        at = self._human(exp, name, "resolved")
        self._await("alertmanager: resolved", self._phase(namespace, name, "resolved"), at)
        self._expect(exp, postmortem=True)
        self._await(
            "alertmanager: postmortem drafted",
            lambda: self.kube.get("postmortems", namespace, name),
            at,
        )

    def _flow_kubectl(self, namespace: str, index: int) -> None:
        name = f"manual-{index}"
        manifest = {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "Incident",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "title": f"Checkout errors (chaos round {index})",
                "service": "checkout",
                "severityRef": SEVERITY,
                "roles": {"commander": "alice"},
            },
        }
        path = self.workdir / f"{namespace}-incident.yaml"
        path.write_text(yaml.safe_dump(manifest))
        title = f"Chaos action item {namespace}"
        exp = Expected(
            namespace,
            "kubectl",
            source_ref=name,
            final_phase="triage",
            # A kubectl-created incident has no "declared" entry (only SLO/Alertmanager ones).
            timeline=("state-changed",),
        )
        self._expect(exp)
        began = time.time()
        self.kube.retry("kubectl apply", lambda: self.cluster.kubectl("apply", "-f", str(path)))
        self._await("kubectl: declared", self._phase(namespace, name, "triage"), began)
        for state in ("investigating", "mitigated", "resolved"):
            at = self._human(exp, name, state, kubectl=True)
            self._await(f"kubectl: {state}", self._phase(namespace, name, state), at)
        self._expect(exp, postmortem=True)
        self._await(
            "kubectl: postmortem drafted", lambda: self.kube.get("postmortems", namespace, name), at
        )
        self._expect(exp, tickets=(title,))
        at = time.time()
        self.kube.patch(
            "postmortems",
            namespace,
            name,
            {"spec": {"actionItems": [{"title": title, "owner": "bob"}]}},
        )

        def ticketed() -> bool:
            pm = self.kube.get("postmortems", namespace, name) or {}
            return bool((pm.get("status") or {}).get("tickets"))

        self._await("kubectl: action item ticket", ticketed, at)
        self.kube.patch("postmortems", namespace, name, {"spec": {"state": "published"}})
        at = self._human(exp, name, "closed", kubectl=True)
        self._await("kubectl: closed", self._phase(namespace, name, "closed"), at)

    def _slo(self, name: str, job: str) -> dict[str, Any]:
        series, window = f'http_requests_total{{job="{job}"', "{{window}}"
        return {
            "apiVersion": "sre.dev/v1alpha1",
            "kind": "ServiceLevelObjective",
            "metadata": {"name": name},
            "spec": {
                "service": name,
                "target": 99.9,
                "indicator": {
                    "ratio": {
                        "errors": f'sum(rate({series},code="500"}}[{window}]))',
                        "total": f"sum(rate({series}}}[{window}]))",
                    }
                },
                # A 30 s short window: a stopped burn shows within a minute.
                "alerting": {
                    "minRequests": 100,
                    "windows": [
                        {"long": "1h", "short": "30s", "factor": 14.4, "severity": SEVERITY}
                    ],
                },
                "declare": {"enabled": True},
            },
        }

    # -- faults --------------------------------------------------------------------------

    def _count(self, kind: str) -> None:
        with self.lock:
            self.report.faults[kind] += 1

    def _killer(self) -> None:
        rng = random.Random(self.settings.seed * 7 + 1)
        while not self.stop_faults.wait(rng.uniform(*self.settings.kill_gap)):
            self.world.operator.kill()
            self._count("operator-kill")

    def _faulter(self) -> None:
        rng = random.Random(self.settings.seed * 7 + 2)
        kinds = [
            "prometheus-down",
            "prometheus-slow",
            "prometheus-flap",
            "slack-429",
            "slack-5xx",
            "slack-timeout",
            "pagerduty-429",
            "pagerduty-5xx",
            "pagerduty-timeout",
        ]
        if self.settings.control_plane_restarts and self.state_dir is not None:
            kinds += ["apiserver-restart", "etcd-restart"]
        if self.world.operator.clock_file is not None:
            kinds.append(CLOCK_JUMP)
        while not self.stop_faults.wait(rng.uniform(*self.settings.fault_gap)):
            kind = rng.choice(kinds)
            if kind.endswith("-restart") and self.report.faults[kind] >= (
                self.settings.control_plane_restarts
            ):
                kinds.remove(kind)
                continue
            try:
                self._inject(kind, rng)
            except Exception as exc:
                with self.lock:
                    self.report.errors.append(f"injecting {kind}: {exc}")
            self._count(kind)

    def _inject(self, kind: str, rng: random.Random) -> None:
        w = self.world
        if kind == "apiserver-restart":
            assert self.state_dir is not None
            controlplane.restart(self.state_dir, "kube-apiserver")
        elif kind == "etcd-restart":
            assert self.state_dir is not None
            controlplane.restart(self.state_dir, "etcd", kill=True)
        elif kind == "prometheus-down":
            w.prom_proxy.set("down")
            self.stop_faults.wait(rng.uniform(5, 20))
            w.prom_proxy.set("pass")
        elif kind == "prometheus-slow":
            w.prom_proxy.set("delay", rng.uniform(2, 8))
            self.stop_faults.wait(rng.uniform(10, 20))
            w.prom_proxy.set("pass")
        elif kind == "prometheus-flap":
            for _ in range(rng.randint(3, 6)):
                w.prom_proxy.set("down")
                time.sleep(rng.uniform(1, 3))
                w.prom_proxy.set("pass")
                time.sleep(rng.uniform(1, 3))
        elif kind.startswith(("slack-", "pagerduty-")):
            self._inject_saas(kind, rng)
        elif kind == CLOCK_JUMP:
            # Forward only, for the running operator: its timers (asyncio's monotonic clock)
            # fire early and wall-clock deadlines (ack, escalation, updates, cooldowns) fall
            # due; Prometheus is asked about a future instant (no data). It lasts until the
            # next kill, whose restart begins at the true time.
            w.operator.jump(rng.randint(*self.settings.clock_jump))
            with self.lock:
                self.clock_jumps.append(time.time())
        else:
            raise ValueError(kind)

    def _inject_saas(self, kind: str, rng: random.Random) -> None:
        w = self.world
        if kind == "slack-429":
            w.slack_t.call(w.slack.throttle_next, rng.randint(1, 5), rng.randint(1, 3))
        elif kind == "slack-5xx":
            w.slack_t.call(w.slack.fail_next, rng.randint(1, 5), rng.choice([500, 502, 503]))
        elif kind == "pagerduty-429":
            w.pd_t.call(w.pd.throttle_next, rng.randint(1, 3), float(rng.randint(1, 3)))
        elif kind == "pagerduty-5xx":
            w.pd_t.call(w.pd.fail_next, rng.randint(1, 3), rng.choice([500, 502, 503]))
        elif kind in ("slack-timeout", "pagerduty-timeout"):
            proxy = w.slack_proxy if kind == "slack-timeout" else w.pd_proxy
            proxy.set("stall")  # the adapters time out after 10 s
            self.stop_faults.wait(rng.uniform(11, 15))
            proxy.set("pass")
        else:
            raise ValueError(kind)

    # -- observing and settling ---------------------------------------------------------

    def _observe(self) -> None:
        last: dict[tuple[str, str], tuple[str, str]] = {}
        while not self.stop_observer.wait(1):
            if (code := self.world.operator.revive()) is not None:
                with self.lock:
                    self.report.exits.append(code)
            for namespace in list(self.namespaces):
                try:
                    items = as_dict(
                        self.kube.custom.list_namespaced_custom_object(
                            GROUP, VERSION, namespace, "incidents"
                        )
                    )["items"]
                except Exception:
                    continue
                now = time.time()
                for incident in items:
                    status = incident.get("status") or {}
                    seen = (status.get("phase", ""), (status.get("pager") or {}).get("state", ""))
                    key = (namespace, incident["metadata"]["name"])
                    if last.get(key) != seen:
                        last[key] = seen
                        self.observations.append(Observation(now, *key, *seen))

    def _settle(self) -> None:
        """Faults are over: wait (within the bound) until nothing is owed any more.

        One quiet look is not enough: a repeatable call (``chat.update``) has no attempt on
        record while it is in flight, so a status can look drained while that call is still
        waiting on a stalled connection, fail when the fault ends, and record its retry a
        moment later. Every call ends within the adapters' timeout, so quiet that lasts
        longer than :data:`QUIET_FOR` is settled."""
        self.world.operator.wait_live()
        quiet_since: list[float] = []

        def settled() -> bool:
            if not quiet():
                quiet_since.clear()
                return False
            if not quiet_since:
                quiet_since.append(time.monotonic())
            return time.monotonic() - quiet_since[0] >= QUIET_FOR

        def quiet() -> bool:
            for namespace in self.namespaces:
                for incident in self.kube.items("incidents", namespace):
                    status = incident.get("status") or {}
                    if status.get("outbox"):
                        return False
                    pager = (status.get("pager") or {}).get("state")
                    phase = status.get("phase")
                    if phase in ("resolved", "closed") and pager not in ("resolved", None):
                        return False
            return True

        with contextlib.suppress(TimeoutError):
            self._await(f"settle: outboxes drained (and stay so {QUIET_FOR:.0f} s)", settled)

    def _cleanup(self) -> None:
        """Leave a shared cluster as found: other tests list incidents cluster-wide."""
        core = client.CoreV1Api(self.kube.api)
        for namespace in self.namespaces:
            with contextlib.suppress(client.ApiException):
                core.delete_namespace(namespace)
        with contextlib.suppress(client.ApiException):
            self.kube.custom.delete_cluster_custom_object(GROUP, VERSION, "severities", SEVERITY)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            names = {name_of(n) for n in core.list_namespace().items}
            if not names & set(self.namespaces):
                return
            time.sleep(1)

    def _history(self) -> History:
        incidents, postmortems = [], []
        for namespace in self.namespaces:
            incidents += self.kube.items("incidents", namespace)
            postmortems += self.kube.items("postmortems", namespace)
        return History(
            incidents=incidents,
            expected=list(self.expected.values()),
            observations=list(self.observations),
            channels=self.world.slack_channels(),
            pages=self.world.pages(),
            postmortems=postmortems,
            tickets=self.world.tickets(),
            converged=list(self._converged),
            bound=self.settings.bound,
        )


RELIABILITY = REPO / "docs" / "reliability.md"
BEGIN, END = "<!-- chaos:begin (generated by make chaos) -->", "<!-- chaos:end -->"


def write_reliability(report: Report, path: Path = RELIABILITY) -> None:
    text = path.read_text() if path.exists() else f"# Reliability\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = (
        f"{BEGIN}\nLast full run ({stamp}, `make chaos`):\n\n```\n{report.figures()}\n```\n{END}"
    )
    path.write_text(head + block + tail)


@contextlib.contextmanager
def own_control_plane() -> Iterator[tuple[Cluster, Path]]:
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        state_dir = Path(tmp) / "control-plane"
        state = controlplane.up(state_dir)
        try:
            yield Cluster(kubeconfig=state.kubeconfig, existing=False), state_dir
        finally:
            controlplane.down(state_dir)


def main() -> int:
    seed = seed_from_env()
    settings = Settings.full(seed, minutes_from_env())
    print(f"chaos: seed {seed} (set CHAOS_SEED={seed} to replay)", flush=True)
    with (
        own_control_plane() as (cluster, state_dir),
        tempfile.TemporaryDirectory(prefix="chaos-world-") as workdir,
    ):
        report = Run(cluster, state_dir, settings).execute(Path(workdir))
        print(report.figures(), flush=True)
        if report.violation_count:
            keep = REPO / ".chaos-last-operator.log"
            keep.write_bytes((Path(workdir) / "operator.log").read_bytes())
            print(f"operator log kept in {keep}", flush=True)
    write_reliability(report)
    print(f"figures written to {RELIABILITY}", flush=True)
    return 1 if report.violation_count else 0


if __name__ == "__main__":
    sys.exit(main())
