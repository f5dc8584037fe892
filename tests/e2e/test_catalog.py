"""Routing by ownership, end to end: the real operator as the chart's ServiceAccount, the
local API server, the Slack and PagerDuty fakes.

Two teams, each with its own routing key in a Secret in the operator's catalog Secret
namespace, and a Service owned by each: an incident on service A (also touching B) pages team
A's key, involves both teams, invites team A's members and announces in team A's channel; an
unknown service gets ``ServiceResolved=False, reason=UnknownService`` and the global key; a
Service in namespace X is never used by an incident in namespace Y, and a Service in Y naming
a team that admits only X is not routed to it. The routing keys never appear in the
operator's log, in status or in Events. An SLO on service A burning in a real Prometheus
declares an incident that is paged on team A's key and involves team A: its listed member
and the members of its Slack user group are invited.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.builders.objects import incident_manifest
from tests.chart.helm import CHART, helm, set_args
from tests.e2e.test_rbac_serviceaccount import chart_args, service_account_kubeconfig
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.threaded import serving
from tests.kube import (
    Cluster,
    as_dict,
    create_custom,
    delete_namespace,
    get_custom,
    pod_spec,
    temporary_severity,
    token_of,
    wait_for,
)
from tests.operator_process import OperatorProcess, running_operator
from tests.services.burn import Burn

TOKEN = "xoxb-e2e-" + uuid.uuid4().hex
GLOBAL_KEY = uuid.uuid4().hex
KEY_A = uuid.uuid4().hex
KEY_B = uuid.uuid4().hex
MEMBER_A = "U0DORA0001"
GROUP_MEMBER_A = "U0GRETA001"
"""In team A's Slack user group only (not a listed member)."""
TEAM_A_CHANNEL = f"team-a-{uuid.uuid4().hex[:6]}"


class World:
    def __init__(self, slack: FakeSlack, pd: FakePagerDuty, op: OperatorProcess, keys: str) -> None:
        self.slack, self.pd, self.op, self.keys = slack, pd, op, keys


@pytest.fixture
def namespaces(api: client.ApiClient) -> Iterator[tuple[str, str, str]]:
    """Tenant X, tenant Y and the operator's catalog Secret namespace."""
    core = client.CoreV1Api(api)
    names = tuple(f"cat-{role}-{uuid.uuid4().hex[:6]}" for role in ("x", "y", "keys"))
    for name in names:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield names[0], names[1], names[2]
    finally:
        for name in names:
            delete_namespace(api, name)


@pytest.fixture
def world(
    crds: Cluster,
    api: client.ApiClient,
    tmp_path: Path,
    namespaces: tuple[str, str, str],
    request: pytest.FixtureRequest,
) -> Iterator[World]:
    """The operator as the chart's ServiceAccount (installed with catalog.secretNamespace), so
    the catalog works with exactly the chart's RBAC: Secrets are read in ``keys`` only. A test
    that also asks for ``burning`` gets the operator evaluating SLOs on that Prometheus."""
    keys = namespaces[2]
    flags = []
    if "burning" in request.fixturenames:
        burn: Burn = request.getfixturevalue("burning")
        flags = [f"--prometheus-url={burn.prometheus.url}", "--evaluation-interval=2s"]
    release = f"catalog-{uuid.uuid4().hex[:6]}"
    slack = FakeSlack(TOKEN)
    pd = FakePagerDuty([GLOBAL_KEY, KEY_A, KEY_B])
    with serving(slack, slack.start) as (slack_url, slack_t), serving(pd, pd.start) as (_, _pd_t):
        slack_t.call(slack.add_channel, TEAM_A_CHANNEL)
        slack_t.call(slack.add_usergroup, "S0TEAMA", GROUP_MEMBER_A)
        helm(
            "install", release, str(CHART), "--namespace", keys,
            *set_args({
                "crds.install": False,
                "catalog.secretNamespace": keys,
                "slack.tokenSecret.name": "slack",
                "slack.apiUrl": slack_url,
                "pagerduty.routingKeySecret.name": "pagerduty",
                "pagerduty.url": pd.url,
            }),
            kubeconfig=crds.kubeconfig,
        )  # fmt: skip
        try:
            deployment = client.AppsV1Api(api).read_namespaced_deployment(
                f"{release}-incident-operator", keys
            )
            sa = pod_spec(deployment).service_account_name
            assert sa is not None
            token = token_of(
                client.CoreV1Api(api).create_namespaced_service_account_token(
                    sa, keys, client.AuthenticationV1TokenRequest(spec={"expirationSeconds": 3600})
                )
            )
            secrets = tmp_path / "secrets"
            secrets.mkdir()
            (secrets / "slack-token").write_text(TOKEN + "\n")
            (secrets / "pagerduty-routing-key").write_text(GLOBAL_KEY + "\n")
            as_sa = Cluster(
                kubeconfig=str(service_account_kubeconfig(crds, token, tmp_path / "sa.kubeconfig")),
                existing=crds.existing,
            )
            args = chart_args(deployment, secrets)
            assert f"--catalog-secret-namespace={keys}" in args
            with running_operator(as_sa, tmp_path / "operator.log", *args, *flags) as op:
                yield World(slack, pd, op, keys)
                # Nothing refused in this test's namespaces (a cluster-wide operator also meets
                # earlier tests' objects in namespaces being deleted, where writes are refused).
                refused = [
                    line
                    for line in op.log.read_text(errors="replace").splitlines()
                    if "Forbidden" in line and any(ns in line for ns in namespaces)
                ]
                assert not refused
        finally:
            helm("uninstall", release, "-n", keys, kubeconfig=crds.kubeconfig, check=False)


def custom(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture
def teams(
    api: client.ApiClient, world: World, namespaces: tuple[str, str, str]
) -> Iterator[tuple[str, str]]:
    """team A (member dora) and team B, both admitting namespace X only, each with its key."""
    tenant_x = namespaces[0]
    suffix = uuid.uuid4().hex[:6]
    core = client.CoreV1Api(api)
    created = []
    for team, key, members, slack in (
        (
            "a",
            KEY_A,
            [{"name": "dora", "slackUserId": MEMBER_A}],
            {"channel": TEAM_A_CHANNEL, "userGroup": "S0TEAMA"},
        ),
        ("b", KEY_B, [], {}),
    ):
        secret = f"pd-{team}"
        core.create_namespaced_secret(
            world.keys,
            client.V1Secret(
                metadata=client.V1ObjectMeta(name=secret),
                data={"routing-key": base64.b64encode(key.encode()).decode()},
            ),
        )
        name = f"team-{team}-{suffix}"
        spec = {
            "namespaces": [tenant_x],
            "members": members,
            "slack": slack,
            "paging": {"routingKey": {"name": secret, "key": "routing-key"}},
        }
        create_custom(api, custom("Team", name, spec), "")
        created.append(name)
    try:
        yield created[0], created[1]
    finally:
        for name in created:
            client.CustomObjectsApi(api).delete_cluster_custom_object(
                "sre.dev", "v1alpha1", "teams", name
            )


@pytest.fixture
def severity(api: client.ApiClient) -> Iterator[str]:
    with temporary_severity(
        api,
        "sev-catalog",
        {"level": 2, "displayName": "SEV-2", "paging": {"page": True},
         "chat": {"createChannel": True}},
    ) as name:  # fmt: skip
        yield name


def condition(body: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for found in (body.get("status") or {}).get("conditions") or []:
        if found["type"] == type_:
            return dict(found)
    return None


def services_resolve(api: client.ApiClient, tenant_x: str, tenant_y: str, team_a: str) -> None:
    """svc-a in X resolves to team A; svc-a in Y, claiming team A too, does not."""

    def service(namespace: str, name: str) -> dict[str, Any] | None:
        body = get_custom(api, "Service", name, namespace)
        found = condition(body, "OwnerResolved")
        return body if found else None

    owned = wait_for("svc-a's owner resolved in X", lambda: service(tenant_x, "svc-a"))
    assert owned["status"]["owner"] == team_a
    assert (condition(owned, "OwnerResolved") or {}).get("status") == "True"
    claimed = wait_for("svc-a's owner checked in Y", lambda: service(tenant_y, "svc-a"))
    assert (condition(claimed, "OwnerResolved") or {}).get("reason") == "TeamNotAdmitted"
    assert claimed["status"].get("owner") is None


def test_incidents_page_and_involve_the_owning_teams(
    crds: Cluster,
    api: client.ApiClient,
    world: World,
    namespaces: tuple[str, str, str],
    teams: tuple[str, str],
    severity: str,
) -> None:
    tenant_x, tenant_y, _ = namespaces
    team_a, team_b = teams
    create_custom(api, custom("Service", "svc-a", {"owner": team_a, "tier": "tier-1"}), tenant_x)
    create_custom(api, custom("Service", "svc-b", {"owner": team_b}), tenant_x)
    # The same name in Y, claiming team A, which admits only X.
    create_custom(api, custom("Service", "svc-a", {"owner": team_a}), tenant_y)

    services_resolve(api, tenant_x, tenant_y, team_a)

    # An incident on A that also touches B: A's key is paged, both teams are involved.
    create_custom(
        api,
        incident_manifest("on-a", service="svc-a", services=["svc-b"], severityRef=severity),
        tenant_x,
    )

    def paged(namespace: str, name: str) -> dict[str, Any] | None:
        body = get_custom(api, "Incident", name, namespace)
        pager = (body.get("status") or {}).get("pager") or {}
        return (
            body
            if pager.get("state") == "triggered" and condition(body, "ServiceResolved")
            else None
        )

    body = wait_for("the incident on svc-a paged", lambda: paged(tenant_x, "on-a"), timeout=90)
    alert = world.pd.open_alert(f"incident-operator/{tenant_x}/on-a")
    assert alert is not None
    assert alert.routing_key == KEY_A
    resolved = condition(body, "ServiceResolved")
    assert resolved is not None
    assert (resolved["status"], resolved["reason"]) == ("True", "Resolved")
    assert body["status"]["catalog"]["teams"] == [team_a, team_b]
    assert body["status"]["catalog"]["pagingTeam"] == team_a
    channel_id = wait_for(
        "the incident channel", lambda: ((get_custom(api, "Incident", "on-a", tenant_x)
                                          .get("status") or {}).get("chat") or {}).get("channelId")
    )  # fmt: skip
    wait_for(
        "team A's member invited",
        lambda: MEMBER_A in world.slack.channels[channel_id].members,
    )
    team_channel = next(c for c in world.slack.channels.values() if c.name == TEAM_A_CHANNEL)
    wait_for(
        "the announcement in team A's channel",
        lambda: any(
            f"<#{channel_id}>" in str(m.get("text")) and "<!subteam^S0TEAMA>" in str(m.get("text"))
            for m in team_channel.messages
        ),
    )

    # An unknown service: a visible condition, and the global key.
    create_custom(api, incident_manifest("unknown", service="nope", severityRef=severity), tenant_x)
    body = wait_for("the unknown incident paged", lambda: paged(tenant_x, "unknown"), timeout=90)
    unknown = condition(body, "ServiceResolved")
    assert unknown is not None
    assert (unknown["status"], unknown["reason"]) == ("False", "UnknownService")
    alert = world.pd.open_alert(f"incident-operator/{tenant_x}/unknown")
    assert alert is not None
    assert alert.routing_key == GLOBAL_KEY

    # Y's incident on svc-a: X's Service is never used; Y's own does not reach team A.
    create_custom(api, incident_manifest("on-y", service="svc-a", severityRef=severity), tenant_y)
    body = wait_for("Y's incident paged", lambda: paged(tenant_y, "on-y"), timeout=90)
    crossed = condition(body, "ServiceResolved")
    assert crossed is not None
    assert (crossed["status"], crossed["reason"]) == ("False", "OwnerUnresolved")
    assert "does not admit" in crossed["message"]
    assert (body["status"].get("catalog") or {}).get("teams") in (None, [])
    alert = world.pd.open_alert(f"incident-operator/{tenant_y}/on-y")
    assert alert is not None
    assert alert.routing_key == GLOBAL_KEY

    # The keys never leave the pager requests.
    shown = json.dumps(
        [get_custom(api, "Incident", n, ns) for ns, n in
         ((tenant_x, "on-a"), (tenant_x, "unknown"), (tenant_y, "on-y"))]
    )  # fmt: skip
    events = client.CoreV1Api(api).list_namespaced_event(tenant_x).to_dict()
    log = world.op.log.read_text(errors="replace")
    for key in (KEY_A, KEY_B, GLOBAL_KEY):
        assert key not in shown
        assert key not in json.dumps(events, default=str)
        assert key not in log


def test_an_slo_shows_whether_its_service_resolves(
    crds: Cluster,
    api: client.ApiClient,
    world: World,
    namespaces: tuple[str, str, str],
    teams: tuple[str, str],
) -> None:
    tenant_x = namespaces[0]
    create_custom(api, custom("Service", "svc-a", {"owner": teams[0]}), tenant_x)
    for name, service in (("on-a", "svc-a"), ("on-nothing", "nope"), ("on-late", "svc-late")):
        slo = custom(
            "ServiceLevelObjective",
            name,
            {
                "service": service,
                "target": 99.9,
                "indicator": {"ratio": {"errors": "e[{{window}}]", "total": "t[{{window}}]"}},
            },
        )
        create_custom(api, slo, tenant_x)

    def resolved(name: str) -> dict[str, Any] | None:
        return condition(
            get_custom(api, "ServiceLevelObjective", name, tenant_x), "ServiceResolved"
        )

    assert wait_for("svc-a's SLO resolved", lambda: resolved("on-a"))["status"] == "True"
    unknown = wait_for("the other SLO's condition", lambda: resolved("on-nothing"))
    assert (unknown["status"], unknown["reason"]) == ("False", "UnknownService")
    late = wait_for("the late SLO's condition", lambda: resolved("on-late"))
    assert (late["status"], late["reason"]) == ("False", "UnknownService")
    # The Service comes later (a GitOps apply in the wrong order): the SLO resolves soon after,
    # woken by the Service's watch event, not after the 60 s retry interval.
    create_custom(api, custom("Service", "svc-late", {"owner": teams[0]}), tenant_x)
    wait_for(
        "the late SLO resolved after its Service was created",
        lambda: (found := resolved("on-late")) and found["status"] == "True",
        timeout=20,
    )


def test_an_slo_burn_on_a_service_pages_and_involves_its_team(
    crds: Cluster,
    api: client.ApiClient,
    burning: Burn,
    world: World,
    namespaces: tuple[str, str, str],
    teams: tuple[str, str],
    severity: str,
) -> None:
    """The SLO of svc-a (owned by team A) burns in the real Prometheus: the incident it
    declares is paged on team A's key, and team A's member is invited and its channel told."""
    tenant_x = namespaces[0]
    team_a = teams[0]
    create_custom(api, custom("Service", "svc-a", {"owner": team_a}), tenant_x)
    windows = [
        {"long": "1h", "short": "5m", "factor": 14.4, "severity": severity},
        {"long": "6h", "short": "30m", "factor": 6, "severity": severity},
    ]
    slo = custom(
        "ServiceLevelObjective",
        "checkout",
        {
            "service": "svc-a",
            "target": 99.9,
            "indicator": {
                "ratio": {
                    "errors": 'rate(http_requests_total{job="demo",code="500"}[{{window}}])',
                    "total": 'rate(http_requests_total{job="demo"}[{{window}}])',
                }
            },
            "alerting": {"minRequests": 100, "windows": windows},
            "declare": {"enabled": True},
        },
    )
    create_custom(api, slo, tenant_x)

    def declared_and_paged() -> dict[str, Any] | None:
        found = client.CustomObjectsApi(api).list_namespaced_custom_object(
            "sre.dev", "v1alpha1", tenant_x, "incidents", label_selector="sre.dev/slo=checkout"
        )
        for body in as_dict(found)["items"]:
            status = body.get("status") or {}
            if (status.get("pager") or {}).get("state") == "triggered":
                return dict(body)
        return None

    body = wait_for("the SLO's incident paged", declared_and_paged, timeout=120)
    name = body["metadata"]["name"]
    assert body["spec"]["service"] == "svc-a"
    assert body["spec"]["source"]["type"] == "slo"
    alert = world.pd.open_alert(f"incident-operator/{tenant_x}/{name}")
    assert alert is not None
    assert alert.routing_key == KEY_A
    assert body["status"]["catalog"]["teams"] == [team_a]
    channel_id = wait_for(
        "the incident channel",
        lambda: ((get_custom(api, "Incident", name, tenant_x).get("status") or {})
                 .get("chat") or {}).get("channelId"),
    )  # fmt: skip
    wait_for(
        "team A's member and its user group's member invited",
        lambda: {MEMBER_A, GROUP_MEMBER_A} <= world.slack.channels[channel_id].members,
    )
    team_channel = next(c for c in world.slack.channels.values() if c.name == TEAM_A_CHANNEL)
    wait_for(
        "the announcement in team A's channel, mentioning its group",
        lambda: any(
            f"<#{channel_id}>" in str(m.get("text")) and "<!subteam^S0TEAMA>" in str(m.get("text"))
            for m in team_channel.messages
        ),
    )
