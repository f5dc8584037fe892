"""The table of docs/security.md: what the chart's ServiceAccount may do, per values mode.

For each mode the chart's RBAC is rendered with helm, applied, and the API server asked
(`kubectl auth can-i --list`, impersonating the ServiceAccount) in a namespace the operator
watches and in one it does not. The table in the docs must be exactly that; run with
``UPDATE_DOCS=1`` to rewrite it.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from tests.chart.helm import template
from tests.kube import REPO, Cluster, api_client

DOC = REPO / "docs" / "security.md"
START, END = "<!-- can-i:start -->", "<!-- can-i:end -->"
WATCHED = "watched"
# (column title, values, namespace asked about: watched or not)
COLUMNS: list[tuple[str, dict[str, Any], bool]] = [
    ("defaults (cluster-wide)", {}, True),
    ("`rbac.mitigations`", {"rbac.mitigations": True}, True),
    ("`watchNamespaces`: watched", {"watchNamespaces": [WATCHED]}, True),
    ("`watchNamespaces`: other", {"watchNamespaces": [WATCHED]}, False),
    (
        "`watchNamespaces` + `rbac.mitigations`: watched",
        {"watchNamespaces": [WATCHED], "rbac.mitigations": True},
        True,
    ),
    (
        "`watchNamespaces` + `rbac.mitigations`: other",
        {"watchNamespaces": [WATCHED], "rbac.mitigations": True},
        False,
    ),
    ("`rbac.secretMetadata`", {"rbac.secretMetadata": True}, True),
]
LINE = re.compile(r"^(\S+)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*$")


def can_i(cluster: Cluster, values: dict[str, Any], watched: bool) -> dict[str, str]:
    """resource -> verbs the chart's ServiceAccount has, in a watched namespace or another."""
    suffix = uuid.uuid4().hex[:6]
    release, release_ns = f"cani-{suffix}", f"cani-op-{suffix}"
    watched_ns, other_ns = f"cani-watched-{suffix}", f"cani-other-{suffix}"
    values = {
        **values,
        "rbac.userRoles": False,
        **(
            {"watchNamespaces": [watched_ns for _ in values["watchNamespaces"]]}
            if "watchNamespaces" in values
            else {}
        ),
    }
    docs = [
        d
        for d in template(values, release=release, namespace=release_ns)
        if d["kind"] in {"ClusterRole", "ClusterRoleBinding", "RoleBinding"}
    ]
    core = client.CoreV1Api(_api(cluster))
    for ns in (watched_ns, other_ns):
        core.create_namespace(client.V1Namespace.model_validate({"metadata": {"name": ns}}))
    manifest = Path(cluster.kubeconfig).parent / f"cani-{suffix}.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    try:
        cluster.kubectl("apply", "-f", str(manifest))
        ns = watched_ns if watched else other_ns
        ours = listed(
            cluster, ns, f"system:serviceaccount:{release_ns}:{release}-incident-operator"
        )
        # What every ServiceAccount has (self reviews, ClusterTrustBundles, ...) is not ours.
        everyone = listed(cluster, ns, f"system:serviceaccount:{release_ns}:nobody")
    finally:
        cluster.kubectl("delete", "--ignore-not-found", "-f", str(manifest), check=False)
        manifest.unlink()
        for ns in (watched_ns, other_ns):
            core.delete_namespace(ns)
    return {
        r: ", ".join(sorted(v - everyone.get(r, set())))
        for r, v in ours.items()
        if v - everyone.get(r, set())
    }


def listed(cluster: Cluster, namespace: str, user: str) -> dict[str, set[str]]:
    """`kubectl auth can-i --list` as ``user``: resource -> verbs (non-resource URLs left out)."""
    out = cluster.kubectl("auth", "can-i", "--list", "-n", namespace, "--as", user).stdout
    rows: dict[str, set[str]] = {}
    for line in out.splitlines()[1:]:
        match = LINE.match(line)
        if match is None:
            continue  # non-resource URLs (discovery) start with a bracket
        resource, _, names, verbs = match.groups()
        assert not names, f"resourceNames are not expected: {line}"
        rows.setdefault(resource, set()).update(verbs.split())
    return rows


def _api(cluster: Cluster) -> client.ApiClient:
    return api_client(cluster.kubeconfig)


def render(columns: list[dict[str, str]]) -> str:
    resources = sorted({r for c in columns for r in c}, key=lambda r: (r.partition(".")[2], r))
    head = "| resource | " + " | ".join(title for title, _, _ in COLUMNS) + " |"
    rule = "|---" * (len(COLUMNS) + 1) + "|"
    body = [f"| `{r}` | " + " | ".join(c.get(r, "—") for c in columns) + " |" for r in resources]
    return "\n".join([head, rule, *body])


def test_the_documented_service_account_permissions_are_the_charts(crds: Cluster) -> None:
    table = render([can_i(crds, values, watched) for _, values, watched in COLUMNS])
    text = DOC.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    wanted = f"{before}{START}\n{table}\n{END}{after}"
    if os.environ.get("UPDATE_DOCS") == "1":
        DOC.write_text(wanted)
    assert text == wanted, (
        f"{DOC.relative_to(REPO)} is out of date; regenerate with UPDATE_DOCS=1:\n{table}"
    )
