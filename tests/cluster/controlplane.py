"""A real, local Kubernetes control plane for tests and the quick start.

etcd, kube-apiserver and kube-controller-manager are built from source once per machine by
``hack/build-binaries.sh`` into the user's cache directory; this module generates a CA, serving
certificate, service-account keys and bearer tokens, starts the three processes on loopback with
free ports, writes a kubeconfig and waits until the API server reports ready. Every process it
started is recorded by pid in ``state.json`` so that ``down`` stops exactly those processes.

Why not the Debian etcd or a fake API server: the operator's behaviour depends on the real
apiserver's validation (structural schemas, CEL) and on controllers (ReplicaSet revisions for
rollback), so nothing short of the real binaries proves it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "hack" / "build-binaries.sh"
CONTROLLERS = ",".join(
    [
        "deployment-controller",
        "replicaset-controller",
        "garbage-collector-controller",
        "namespace-controller",
        "serviceaccount-controller",
        "serviceaccount-token-controller",
        "root-ca-certificate-publisher-controller",
        # The chart's sre.dev roles for people are aggregated into the built-in edit/view/admin.
        "clusterrole-aggregation-controller",
    ]
)
ADMIN_USER = "incident-operator-admin"
# Requests by ServiceAccounts outside kube-system are audited (metadata only) to
# <state-dir>/audit.log: the RBAC proof compares what the operator did with what it may do.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    userGroups: ["system:serviceaccounts:kube-system"]
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
"""


class ControlPlaneError(RuntimeError):
    """The control plane could not be built, started or reached."""


@dataclass(frozen=True)
class ControlPlaneState:
    """What ``down`` needs to stop the processes, and what tests need to reach the server."""

    state_dir: str
    kubeconfig: str
    server: str
    pids: dict[str, int]
    binaries: dict[str, str]


def binary_dirs() -> tuple[Path, Path]:
    """Build (or reuse) the binaries and return the kubernetes and etcd cache directories."""
    try:
        subprocess.run([str(BUILD_SCRIPT), "all"], check=True)
        out = subprocess.run(
            [str(BUILD_SCRIPT), "print-dirs"], check=True, capture_output=True, text=True
        ).stdout.split()
    except subprocess.CalledProcessError as exc:
        raise ControlPlaneError(f"building the control-plane binaries failed: {exc}") from exc
    return Path(out[0]), Path(out[1])


_HANDED_OUT: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A loopback port that is free now and that the kernel will not hand out by itself.

    The port is released before the caller's process binds it. A port from the kernel's
    ephemeral range (what binding port 0 returns) can be taken in that gap by any outgoing
    connection on the machine, and was (CI: the operator's liveness port "already in use").
    So the port is drawn at random from below that range, which the kernel never picks for
    outgoing connections, is checked free by binding it, and is not handed out twice by this
    process.
    """
    low, _ = _ephemeral_range()
    first, last = (10000, low - 1) if low > 11000 else (low, 65535)
    rng = secrets.SystemRandom()
    for _ in range(200):
        port = rng.randint(first, last)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {first}-{last} after 200 tries")


def _write_private_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def generate_pki(pki: Path) -> None:
    """A CA, the apiserver's serving certificate and the service-account signing key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "incident-operator-test-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes"),
                    x509.DNSName("kubernetes.default.svc"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (pki / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_private_key(pki / "ca.key", ca_key)
    (pki / "apiserver.crt").write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_private_key(pki / "apiserver.key", server_key)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private_key(pki / "sa.key", sa_key)
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def kubeconfig_text(server: str, ca_file: Path, user: str, token: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {"server": server, "certificate-authority": str(ca_file)},
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
            "current-context": "local",
        },
        indent=2,
    )


def _spawn(name: str, argv: list[str], state_dir: Path) -> subprocess.Popen[bytes]:
    log = (state_dir / f"{name}.log").open("ab")
    # A new session: the processes survive the `make cluster-up` shell and are stopped by pid.
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _get(url: str, token: str, ca_file: Path, timeout: float = 2.0) -> tuple[int, str]:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode(errors="replace")


def _wait_until(
    what: str, check: object, procs: dict[str, subprocess.Popen[bytes]], timeout: float, logs: Path
) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise ControlPlaneError(f"{name} exited with {proc.returncode}:\n{tail}")
        try:
            ok, last = check()  # type: ignore[operator]
            if ok:
                return
        except OSError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise ControlPlaneError(f"timed out after {timeout}s waiting for {what}: {last[-2000:]}")


def running(state_dir: Path) -> ControlPlaneState | None:
    """The control plane recorded in ``state_dir`` if all of its processes still run."""
    state_file = state_dir / "state.json"
    if not state_file.exists():
        return None
    state = ControlPlaneState(**json.loads(state_file.read_text()))
    alive = all(
        _is_ours(pid, state.binaries.get(name)) and not _is_zombie(pid)
        for name, pid in state.pids.items()
    )
    return state if alive else None


def up(state_dir: Path, timeout: float = 180.0) -> ControlPlaneState:
    """Start etcd, kube-apiserver and kube-controller-manager; return once ready.

    A control plane already running from ``state_dir`` is reused; one that died is cleaned up
    (its leftover processes stopped, its data removed) and started afresh.
    """
    k8s_dir, etcd_dir = binary_dirs()
    if (existing := running(state_dir)) is not None:
        return existing
    down(state_dir)
    if state_dir.exists():
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    pki = state_dir / "pki"
    generate_pki(pki)
    admin_token = secrets.token_hex(24)
    kcm_token = secrets.token_hex(24)
    (pki / "tokens.csv").write_text(
        f'{admin_token},{ADMIN_USER},uid-admin,"system:masters"\n'
        f"{kcm_token},system:kube-controller-manager,uid-kcm\n"
    )
    (pki / "tokens.csv").chmod(0o600)
    (state_dir / "audit-policy.yaml").write_text(AUDIT_POLICY)
    etcd_client, etcd_peer, api_port, kcm_port = (free_port() for _ in range(4))
    server = f"https://127.0.0.1:{api_port}"
    kubeconfig = state_dir / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text(server, pki / "ca.crt", ADMIN_USER, admin_token))
    kubeconfig.chmod(0o600)
    kcm_kubeconfig = state_dir / "kube-controller-manager.kubeconfig"
    kcm_kubeconfig.write_text(
        kubeconfig_text(server, pki / "ca.crt", "system:kube-controller-manager", kcm_token)
    )
    binaries = {
        "etcd": str(etcd_dir / "etcd"),
        "kube-apiserver": str(k8s_dir / "kube-apiserver"),
        "kube-controller-manager": str(k8s_dir / "kube-controller-manager"),
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs["etcd"] = _spawn(
            "etcd",
            [
                binaries["etcd"],
                "--name=default",
                f"--data-dir={state_dir / 'etcd-data'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                "--unsafe-no-fsync=true",  # throwaway test data; fsync only slows the suite
                "--log-level=warn",
            ],
            state_dir,
        )
        procs["kube-apiserver"] = _spawn(
            "kube-apiserver",
            [
                binaries["kube-apiserver"],
                f"--etcd-servers=http://127.0.0.1:{etcd_client}",
                f"--secure-port={api_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--cert-dir={state_dir / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=false",
                "--endpoint-reconciler-type=none",  # loopback may not be advertised
                f"--audit-policy-file={state_dir / 'audit-policy.yaml'}",
                f"--audit-log-path={state_dir / 'audit.log'}",
                "--audit-log-format=json",
                "--v=1",
            ],
            state_dir,
        )

        def apiserver_ready() -> tuple[bool, str]:
            status, body = _get(f"{server}/readyz", admin_token, pki / "ca.crt")
            return status == 200, body

        _wait_until("kube-apiserver /readyz", apiserver_ready, procs, timeout, state_dir)
        procs["kube-controller-manager"] = _spawn(
            "kube-controller-manager",
            [
                binaries["kube-controller-manager"],
                f"--kubeconfig={kcm_kubeconfig}",
                f"--authentication-kubeconfig={kcm_kubeconfig}",
                f"--authorization-kubeconfig={kcm_kubeconfig}",
                f"--controllers={CONTROLLERS}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--use-service-account-credentials=true",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={kcm_port}",
                "--v=1",
            ],
            state_dir,
        )

        def default_service_account() -> tuple[bool, str]:
            status, body = _get(
                f"{server}/api/v1/namespaces/default/serviceaccounts/default",
                admin_token,
                pki / "ca.crt",
            )
            return status == 200, body

        # The serviceaccount controller creating `default` proves the controller manager runs.
        _wait_until("the default ServiceAccount", default_service_account, procs, 90, state_dir)
    except BaseException:
        for proc in procs.values():
            _terminate(proc.pid)
        raise
    state = ControlPlaneState(
        state_dir=str(state_dir),
        kubeconfig=str(kubeconfig),
        server=server,
        pids={name: proc.pid for name, proc in procs.items()},
        binaries=binaries,
    )
    (state_dir / "state.json").write_text(json.dumps(asdict(state), indent=2))
    return state


def _is_ours(pid: int, binary: str | None) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return False
    return binary is None or cmdline == binary


def _terminate(pid: int, binary: str | None = None, grace: float = 15.0) -> None:
    if not _is_ours(pid, binary):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not _is_ours(pid, binary) or _is_zombie(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (OSError, IndexError):
        return True


def down(state_dir: Path) -> None:
    """Stop, in reverse start order, exactly the processes ``up`` recorded."""
    state_file = state_dir / "state.json"
    if not state_file.exists():
        return
    state = json.loads(state_file.read_text())
    for name in reversed(list(state["pids"])):
        _terminate(state["pids"][name], state["binaries"].get(name))
    state_file.unlink()
    # Keep the logs for post-mortem reading; the next `up` wipes the directory.


def restart(state_dir: Path, name: str, *, kill: bool = False, timeout: float = 120.0) -> int:
    """Stop one recorded process (``kill``: SIGKILL, else SIGTERM) and start it again with the
    same command line and data; returns the new pid. For fault injection (tests/chaos).

    The restarted process keeps its ports and data directory, so clients reconnect to the same
    address; ``state.json`` records the new pid so that ``down`` still stops exactly it. Waits
    until the API server answers ``/readyz`` again.
    """
    state_file = state_dir / "state.json"
    state = ControlPlaneState(**json.loads(state_file.read_text()))
    pid, binary = state.pids[name], state.binaries.get(name)
    if not _is_ours(pid, binary):
        raise ControlPlaneError(f"{name} (pid {pid}) is not running")
    argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _terminate(pid, binary, grace=0.0 if kill else 15.0)
    deadline = time.monotonic() + 15
    while _is_ours(pid, binary) and not _is_zombie(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    proc = _spawn(name, argv, state_dir)
    pids = {**state.pids, name: proc.pid}
    state_file.write_text(json.dumps({**asdict(state), "pids": pids}, indent=2))
    token = next(
        line.split(",")[0]
        for line in (state_dir / "pki" / "tokens.csv").read_text().splitlines()
        if ADMIN_USER in line
    )

    def apiserver_ready() -> tuple[bool, str]:
        status, body = _get(f"{state.server}/readyz", token, state_dir / "pki" / "ca.crt")
        return status == 200, body

    _wait_until(
        f"kube-apiserver /readyz after restarting {name}",
        apiserver_ready,
        {name: proc},
        timeout,
        state_dir,
    )
    return proc.pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["up", "down", "build"])
    parser.add_argument("--state-dir", type=Path, default=REPO / ".cluster")
    args = parser.parse_args(argv)
    if args.command == "build":
        print("\n".join(str(d) for d in binary_dirs()))
    elif args.command == "up":
        try:
            state = up(args.state_dir.resolve())
        except ControlPlaneError as exc:
            print(f"cluster-up failed: {exc}", file=sys.stderr)
            return 1
        print(f"control plane ready at {state.server}")
        print(f"export KUBECONFIG={state.kubeconfig}")
    else:
        down(args.state_dir.resolve())
        print("control plane stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
