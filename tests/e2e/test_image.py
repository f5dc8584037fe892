"""The container image the chart deploys, built (``make image``: podman, no Docker) and run.

The image is built from the Dockerfile on a locally made Debian base (hack/build-image.sh; a
warm build reuses podman's layers). The Deployment the chart renders is translated into a
``podman run``: its command and args, its env, its user, read-only root, dropped capabilities
and no privilege escalation, /tmp as a size-limited tmpfs (the chart's emptyDir), and its
projected Secret volume as files on a read-only mount, owned as the kubelet leaves them with
fsGroup 65532. The local control plane's kubeconfig (flattened) stands in for the service
account. The container shares the host's network, so the chart's 0.0.0.0 ports are set to
free ones.

Checked: /healthz answers 200, an Incident is reconciled (status.phase set), /metrics serves
the operator's metrics, and the Alertmanager bearer token is read from the mounted Secret file
(a wrong token gets 401, the right one gets past authentication to payload validation). The
container stops cleanly on SIGTERM (exit 0).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from tests.chart.helm import find, template
from tests.cluster.controlplane import free_port
from tests.kube import REPO, Cluster, create_custom, get_custom, temporary_severity, wait_for

BUILD = REPO / "hack" / "build-image.sh"
CONTAINERS_CONF = REPO / "hack" / "image" / "containers.conf"
FS_GROUP = 65532


def podman(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def image() -> str:
    """The operator image, built now (cold: base + PyPI install; warm: cached layers), tagged
    for this checkout so that clones sharing the machine's podman storage test their own."""
    started = time.monotonic()
    tag = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    built = subprocess.run(
        [str(BUILD), "build"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "IMAGE": f"localhost/incident-operator:test-{tag}"},
    )
    sys.stdout.write(built.stderr[-3000:])
    ref = built.stdout.strip().splitlines()[-1]
    print(f"image {ref} built in {time.monotonic() - started:.1f}s")
    return ref


@dataclass(frozen=True)
class Deployment:
    """What `podman run` needs from the chart's rendered Deployment."""

    pod: dict[str, Any]
    container: dict[str, Any]
    health_port: int
    http_port: int
    secret_files: dict[str, str]  # file name under the secrets mount -> content


def render(alertmanager_token: str) -> Deployment:
    health_port, http_port = free_port(), free_port()
    docs = template(
        {
            "health.port": health_port,
            "service.port": http_port,
            "alertmanager.tokenSecret.name": "alertmanager",
        }
    )
    pod = find(docs, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # The projected volume's items, filled with the values the Secrets would hold.
    (secret_volume,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
    files = {
        item["path"]: alertmanager_token
        for source in secret_volume["projected"]["sources"]
        for item in source["secret"]["items"]
        if source["secret"]["name"] == "alertmanager"
    }
    assert files == {"alertmanager-token": alertmanager_token}, secret_volume
    return Deployment(pod, container, health_port, http_port, files)


def podman_run_args(deployment: Deployment, tmp_path: Path, kubeconfig: Path) -> list[str]:
    """The Deployment's container as `podman run` options (fails on anything not mapped)."""
    pod, container = deployment.pod, deployment.container
    pod_security, security = pod["securityContext"], container["securityContext"]
    assert pod_security["runAsNonRoot"]
    assert security["runAsNonRoot"]
    assert pod_security["fsGroup"] == FS_GROUP
    args = [
        f"--user={pod_security['runAsUser']}:{pod_security['runAsGroup']}",
        f"--group-add={pod_security['fsGroup']}",
        "--network=host",
    ]
    assert security["readOnlyRootFilesystem"] is True
    args.append("--read-only")
    assert security["allowPrivilegeEscalation"] is False
    args.append("--security-opt=no-new-privileges")
    assert security["capabilities"] == {"drop": ["ALL"]}
    args.append("--cap-drop=ALL")
    for env in container["env"]:
        if "value" in env:
            args.append(f"--env={env['name']}={env['value']}")
        else:
            assert env["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}, env
            args.append(f"--env={env['name']}=incident-operator-image-test")
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            size = volume["emptyDir"]["sizeLimit"].removesuffix("i").lower()
            args.append(f"--tmpfs={mount['mountPath']}:rw,size={size},mode=1777")
        else:
            assert mount.get("readOnly") is True, mount
            assert "projected" in volume, volume
            secrets_dir = tmp_path / "secrets"
            secrets_dir.mkdir()
            mode = volume["projected"]["defaultMode"]
            for name, content in deployment.secret_files.items():
                path = secrets_dir / name
                path.write_text(content + "\n")
                # The kubelet's ownership for fsGroup: group-owned, group-readable.
                os.chown(path, 0, FS_GROUP)
                path.chmod(mode | 0o040)
            os.chown(secrets_dir, 0, FS_GROUP)
            secrets_dir.chmod(0o750)
            args.append(f"--volume={secrets_dir}:{mount['mountPath']}:ro")
    # The service account's stand-in: the control plane's kubeconfig, read-only.
    args += [f"--volume={kubeconfig}:/etc/incident-operator/kube:ro",
             "--env=KUBECONFIG=/etc/incident-operator/kube/config"]  # fmt: skip
    return args


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def post_alert(port: int, token: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/alertmanager",
        data=b"{}",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@dataclass(frozen=True)
class Running:
    name: str
    deployment: Deployment
    token: str


@pytest.fixture
def container(crds: Cluster, image: str, tmp_path: Path) -> Iterator[Running]:
    token = secrets.token_urlsafe(24)
    deployment = render(token)
    kube_dir = tmp_path / "kube"
    kube_dir.mkdir()
    flat = crds.kubectl("config", "view", "--flatten", "--minify", "--raw").stdout
    (kube_dir / "config").write_text(flat)
    (kube_dir / "config").chmod(0o444)
    name = f"incident-operator-test-{uuid.uuid4().hex[:8]}"
    command = deployment.container["command"]
    started = time.monotonic()
    podman(
        "run", "--detach", f"--name={name}",
        *podman_run_args(deployment, tmp_path, kube_dir),
        f"--entrypoint={command[0]}", image, *command[1:], *deployment.container["args"],
    )  # fmt: skip
    try:
        wait_for(
            "the container's /healthz",
            lambda: get(f"http://127.0.0.1:{deployment.health_port}/healthz")[0] == 200,
            timeout=90,
        )
        print(f"container start -> /healthz 200: {time.monotonic() - started:.1f}s")
        yield Running(name, deployment, token)
    finally:
        podman("stop", "--time=20", name, check=False)
        code = podman("wait", name, check=False).stdout.strip()
        logs = podman("logs", name, check=False)
        sys.stdout.write((logs.stdout + logs.stderr)[-5000:])
        podman("rm", "--force", name, check=False)
        assert code == "0", f"the operator's container exited with {code}"


def test_image_runs_the_chart_deployment(
    container: Running, api: client.ApiClient, namespace: str
) -> None:
    started = time.monotonic()
    health_port, http_port = container.deployment.health_port, container.deployment.http_port
    with temporary_severity(api, "sev-image", {"level": 3, "displayName": "SEV-3 (image)"}) as sev:
        create_custom(
            api,
            {
                "apiVersion": "sre.dev/v1alpha1",
                "kind": "Incident",
                "metadata": {"name": "from-the-image"},
                "spec": {"title": "Checkout is down", "service": "checkout", "severityRef": sev},
            },
            namespace,
        )

        def phase() -> str | None:
            found = get_custom(api, "Incident", "from-the-image", namespace)
            return (found.get("status") or {}).get("phase")

        assert wait_for("the incident's phase", phase, timeout=60) == "triage"
        print(f"incident created -> status.phase: {time.monotonic() - started:.1f}s")

        status, body = get(f"http://127.0.0.1:{health_port}/healthz")
        assert status == 200, body

        open_incident = {"phase": "triage", "service": "checkout", "severity": sev, "team": ""}

        def scraped() -> dict[str, Any] | None:
            status, body = get(f"http://127.0.0.1:{http_port}/metrics")
            families = {f.name: f for f in text_string_to_metric_families(body.decode())}
            gauge = families.get("incident_operator_open_incidents")
            found = gauge and any(s.labels == open_incident and s.value == 1 for s in gauge.samples)
            return families if status == 200 and found else None

        families = wait_for("the open incident on /metrics", scraped)
        assert families["incident_operator_incident_transitions"].type == "counter"

    # The bearer token comes from the Secret mounted as a file: only it authenticates.
    assert post_alert(http_port, container.token + "x") == 401
    assert post_alert(http_port, container.token) == 422  # authenticated; {} is no payload
    logs = podman("logs", container.name)
    assert container.token not in logs.stdout + logs.stderr, "the token was logged"


def test_chart_command_is_the_image_entrypoint(image: str) -> None:
    entrypoint = podman("image", "inspect", "--format", "{{json .Config.Entrypoint}}", image)
    assert json.loads(entrypoint.stdout) == render("unused").container["command"]


CHART_SNIPPET = """
import sys
from datetime import datetime, timedelta, timezone
from incident_operator.adapters.postmortem_chart import MatplotlibCharts
from incident_operator.domain.postmortem import ChartData
t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
points = tuple((t0 + timedelta(minutes=m), m / 1000) for m in range(60))
png = MatplotlibCharts().render(ChartData(
    "checkout-availability", 0.999, t0 + timedelta(minutes=10), t0 + timedelta(minutes=40),
    points, tuple((t, 1 - v) for t, v in points), (("detected", t0 + timedelta(minutes=12)),),
))
assert png is not None and png.startswith(b"\\x89PNG"), png
print(len(png))
"""


def test_postmortem_charts_render_on_the_read_only_root(image: str, tmp_path: Path) -> None:
    """matplotlib (the plot extra) works as the chart runs it: its caches go to /tmp only."""
    deployment = render("unused")
    kube_dir = tmp_path / "kube"
    kube_dir.mkdir()
    result = podman(
        "run", "--rm", *podman_run_args(deployment, tmp_path, kube_dir),
        "--entrypoint=python", image, "-c", CHART_SNIPPET,
    )  # fmt: skip
    assert int(result.stdout.strip()) > 10_000, result.stderr
