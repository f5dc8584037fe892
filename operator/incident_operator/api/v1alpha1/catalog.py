"""Service (namespaced) and Team (cluster-scoped): the catalog incidents are routed through.

On whose authority: a Team is cluster-scoped and written by cluster admins; it alone names
the Secret holding its PagerDuty routing key (by name and key, in the namespace the operator is
configured to read catalog Secrets from), and it alone says which namespaces' Services may name
it as their owner. A Service is written by the namespace tenant; it names its owner team and,
at most, which of that team's routes to page: it never names a Secret, so a tenant can neither
read a routing key nor point paging at a key the owning team did not declare.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from incident_operator.domain import catalog

from .common import (
    ApiModel,
    CommonStatus,
    Labels,
    Name,
    Resource,
    ShortText,
    cel,
    cel_rule,
)
from .severity import ChannelName

Url = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^https?://\S+$")]
"""An http(s) link."""

SlackId = Annotated[str, Field(min_length=2, max_length=32, pattern=r"^[A-Z0-9]+$")]
"""A Slack user or user-group id, e.g. U0AAAAAAA or S0123ABCD."""


class Tier(StrEnum):
    """How critical a service is: tier-1 (customer-facing, most critical) to tier-3."""

    TIER_1 = "tier-1"
    TIER_2 = "tier-2"
    TIER_3 = "tier-3"


class Link(ApiModel):
    """A labelled link, e.g. a runbook or a dashboard."""

    title: Annotated[str, Field(min_length=1, max_length=100)]
    """What the link shows, e.g. Checkout runbook."""
    url: Url
    """Where it is, e.g. https://runbooks.example.com/checkout."""


class MaintenanceWindow(ApiModel):
    """Planned work on the service, announced on the status page (Statuspage's scheduled
    maintenance): listed while upcoming, the component shows under maintenance while it
    runs, and it stays in the page's history for 90 days after its end."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": cel(
            cel_rule(
                "self.end > self.start",
                "end must be after start",
                field_path=".end",
            ),
        )
    }

    name: Annotated[str, Field(min_length=1, max_length=100)]
    """What customers read, e.g. Database upgrade."""
    description: ShortText = ""
    """What to expect, in customers' words, e.g. Checkout may be slow for a few minutes."""
    start: datetime
    """When the work begins (RFC 3339, e.g. 2026-12-10T02:00:00Z)."""
    end: datetime
    """When it is planned to be over."""


class StatusPageComponent(ApiModel):
    """How the service appears on the status page. A public component is listed only once the
    owner Team admits this namespace (the Service's owner resolved): the admin's consent for
    what a namespace puts on the public page."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    """Component name shown to users, e.g. Checkout."""
    group: Annotated[str, Field(max_length=100)] = ""
    """Component group, e.g. Payments; empty: no group."""
    public: bool = False
    """Show the component on the public status page (off: internal only)."""
    show_dependencies: bool = False
    """Incidents on the services this one depends on (spec.dependencies, transitively) colour
    this component too, as they would colour the dependency's own."""
    maintenance: Annotated[list[MaintenanceWindow], Field(max_length=16)] = []
    """Scheduled maintenance windows (shown only when the component is public)."""


class ServicePaging(ApiModel):
    """Which of the owning team's paging routes incidents on this service use."""

    route: Name | None = None
    """A route the owning Team declares in spec.paging.routes (e.g. checkout-critical);
    empty: the team's default routing key. A route the team does not declare is reported in
    the OwnerResolved condition and the team's default is used."""


class ServiceSpec(ApiModel):
    """A service of this namespace: who owns it, how critical it is, what it depends on, and
    where responders find its runbooks and dashboards. Incidents and SLOs in this namespace
    whose service field names this object are routed to its owner team."""

    owner: Name
    """The Team (cluster-scoped) that owns the service; it must list this namespace in its
    spec.namespaces."""
    description: ShortText = ""
    """What the service does, in one line."""
    tier: Tier = Tier.TIER_2
    """How critical the service is (tier-1 most)."""
    dependencies: Annotated[
        list[Name], Field(max_length=32, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = []
    """Services (in this namespace) this one depends on."""
    runbooks: Annotated[list[Link], Field(max_length=16)] = []
    """Runbooks responders should read."""
    dashboards: Annotated[list[Link], Field(max_length=16)] = []
    """Dashboards responders should look at."""
    status_page: StatusPageComponent | None = None
    """The status page component; empty: not on the status page."""
    slo_selector: Labels = {}
    """Labels selecting this service's ServiceLevelObjectives (in this namespace); empty:
    SLOs whose spec.service names this service."""
    paging: ServicePaging = ServicePaging()


class ServiceStatus(CommonStatus):
    """The operator's view of the service: whether its owner team resolves (condition
    OwnerResolved)."""

    owner: Name | None = None
    """The owner team the operator resolved, when it exists and admits this namespace."""


class Service(Resource):
    """A service in the catalog (namespaced): owner team, tier, dependencies, runbooks and
    dashboards, status page component and SLOs."""

    api_version: Literal["sre.dev/v1alpha1"] = "sre.dev/v1alpha1"
    kind: Literal["Service"] = "Service"
    spec: ServiceSpec
    status: ServiceStatus = ServiceStatus()

    def to_domain(self) -> catalog.ServiceEntry:
        meta = self.metadata
        spec = self.spec
        return catalog.ServiceEntry(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            owner=spec.owner,
            tier=spec.tier.value,
            dependencies=tuple(spec.dependencies),
            route=spec.paging.route,
        )


class SecretKeyRef(ApiModel):
    """A key of a Secret in the namespace the operator reads catalog Secrets from (its
    --catalog-secret-namespace, by default its own). The value is never shown anywhere."""

    name: Name
    """Name of the Secret."""
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]
    """Key within the Secret, e.g. routing-key."""


class PagingRoute(ApiModel):
    """A named PagerDuty routing key a Service of this team may choose."""

    name: Name
    """Route name a Service names in spec.paging.route."""
    routing_key: SecretKeyRef
    """The PagerDuty Events v2 routing (integration) key."""


class TeamPaging(ApiModel):
    """Where pages for the team's services go."""

    routing_key: SecretKeyRef | None = None
    """The team's default PagerDuty Events v2 routing key; empty: the operator's global
    key."""
    routes: Annotated[
        list[PagingRoute],
        Field(
            max_length=16,
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
        ),
    ] = []
    """Further routing keys, chosen per Service (spec.paging.route)."""


class TeamSlack(ApiModel):
    """The team's Slack presence."""

    channel: ChannelName | None = None
    """The team's channel, e.g. #team-payments."""
    user_group: SlackId | None = None
    """The team's Slack user group id (S...), mentioned when the team is involved."""


class TeamWebhookSpec(ApiModel):
    """A webhook workflows may call (sendWebhook): a signed HTTP POST of the incident summary.
    Only cluster admins write Teams, so only they choose where the operator POSTs; a workflow
    names the webhook, never a URL or a Secret."""

    name: Name
    """Name a sendWebhook step names (with the team)."""
    url: Annotated[str, Field(min_length=9, max_length=2048, pattern=r"^https://\S+$")]
    """Where to POST, https only, e.g. https://hooks.payments.example.com/incidents."""
    secret_ref: SecretKeyRef
    """The HMAC-SHA256 signing secret, in the operator's catalog Secret namespace (as the
    routing keys): X-Incident-Operator-Signature: sha256=HMAC(secret, "<timestamp>." + body)."""
    include_private: bool = False
    """Also send private incidents' summaries here (default: a private incident's step fails)."""


class Member(ApiModel):
    """A person in the team."""

    name: Name
    """Participant name, as used in OnCallRotation participants and incident roles."""
    slack_user_id: SlackId | None = None
    """Slack user id, invited to the incident channel when the team is involved."""
    email: Annotated[str, Field(max_length=254)] = ""
    """E-mail address."""


NamespacePattern = Annotated[
    str, Field(min_length=1, max_length=63, pattern=r"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$")
]


class RotationRef(ApiModel):
    """An OnCallRotation by namespace and name."""

    namespace: Name
    """Namespace of the OnCallRotation."""
    name: Name
    """Name of the OnCallRotation."""


class TeamSpec(ApiModel):
    """A team that owns services: its members, on-call rotation, Slack channel and user group,
    paging target and default severity. Written by cluster admins."""

    display_name: Annotated[str, Field(max_length=100)] = ""
    """Name shown to people, e.g. Payments."""
    namespaces: Annotated[
        list[NamespacePattern],
        Field(max_length=64, json_schema_extra={"x-kubernetes-list-type": "set"}),
    ] = []
    """Namespaces whose Services may name this team as owner; "*" admits every namespace.
    A Service elsewhere naming the team is not routed to it (condition OwnerResolved=False,
    reason TeamNotAdmitted): a tenant cannot page a team that did not admit it."""
    members: Annotated[
        list[Member],
        Field(
            max_length=128,
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
        ),
    ] = []
    """The team's people."""
    rotation_ref: RotationRef | None = None
    """The team's on-call rotation."""
    slack: TeamSlack = TeamSlack()
    paging: TeamPaging = TeamPaging()
    webhooks: Annotated[
        list[TeamWebhookSpec],
        Field(
            max_length=16,
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
        ),
    ] = []
    """Webhooks the workflows of admitted namespaces (and cluster workflows) may call."""
    default_severity: Name | None = None
    """Severity for incidents declared from chat on the team's services."""


class TeamStatus(CommonStatus):
    """Room for the operator's observations; the operator only reads Teams (its RBAC has no
    write on them) and writes nothing here yet."""


class Team(Resource):
    """A team that owns services (cluster-scoped): members, on-call rotation, Slack, paging
    target and default severity."""

    api_version: Literal["sre.dev/v1alpha1"] = "sre.dev/v1alpha1"
    kind: Literal["Team"] = "Team"
    spec: TeamSpec
    status: TeamStatus = TeamStatus()

    def to_domain(self) -> catalog.TeamEntry:
        spec = self.spec
        paging = spec.paging
        return catalog.TeamEntry(
            name=str(self.metadata.get("name", "")),
            namespaces=frozenset(spec.namespaces),
            routing_key=_secret(paging.routing_key),
            routes={r.name: _secret(r.routing_key) for r in paging.routes},
            slack_channel=spec.slack.channel,
            slack_user_group=spec.slack.user_group,
            slack_members=tuple(m.slack_user_id for m in spec.members if m.slack_user_id),
            webhooks={
                w.name: catalog.TeamWebhook(
                    name_of,
                    w.name,
                    w.url,
                    catalog.SecretRef(w.secret_ref.name, w.secret_ref.key),
                    w.include_private,
                )
                for w in spec.webhooks
                for name_of in (str(self.metadata.get("name", "")),)
            },
        )


def _secret(ref: SecretKeyRef | None) -> catalog.SecretRef | None:
    return None if ref is None else catalog.SecretRef(ref.name, ref.key)
