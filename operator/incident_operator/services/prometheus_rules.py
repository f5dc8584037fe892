"""Use case: keep a PrometheusRule in step with an SLO, for teams that alert through Prometheus.

The rules are the burn-rate policy the operator evaluates itself (domain.rules), so both
paths agree. Optional (``--manage-prometheus-rules``) and only where the prometheus-operator
CRD exists; the object is owned by the SLO, so deleting the SLO removes its rules.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from incident_operator.adapters.ports import Body, RuleStore
from incident_operator.api.v1alpha1.slo import ServiceLevelObjective
from incident_operator.domain.durations import parse_duration
from incident_operator.domain.names import bounded, label_value
from incident_operator.domain.rules import SloIdentity, rule_groups
from incident_operator.errors import InvalidSpecError

log = logging.getLogger(__name__)
MANAGED_BY = "incident-operator"
PROMETHEUS_RULE_API = "monitoring.coreos.com/v1"


class SyncResult(StrEnum):
    APPLIED = "applied"
    UNSUPPORTED = "unsupported"


def prometheus_rule(
    slo: ServiceLevelObjective,
    labels: dict[str, str] | None = None,
    *,
    managed_by: str = MANAGED_BY,
    owner: Body | None = None,
) -> Body:
    """The PrometheusRule holding the SLO's recording and alert rules."""
    metadata = slo.metadata
    identity = SloIdentity(service=slo.spec.service, name=str(metadata["name"]))
    try:
        groups = rule_groups(
            identity,
            slo.spec.to_domain(),
            slo.spec.sli(),
            labels,
            no_data_after=parse_duration(slo.spec.alerting.no_data_after),
        )
    except ValueError as exc:
        raise InvalidSpecError(f"{identity.name}: {exc}") from exc
    rule_metadata: dict[str, Any] = {
        "name": bounded(f"sloth-slo-{identity.name}", 253),
        "labels": {
            "app.kubernetes.io/component": "SLO",
            "app.kubernetes.io/managed-by": managed_by,
            "sre.dev/slo": label_value(identity.name),
        },
    }
    if metadata.get("namespace"):
        rule_metadata["namespace"] = metadata["namespace"]
    if owner is not None:
        rule_metadata["ownerReferences"] = [
            {
                "apiVersion": owner["apiVersion"],
                "kind": owner["kind"],
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ]
    return {
        "apiVersion": PROMETHEUS_RULE_API,
        "kind": "PrometheusRule",
        "metadata": rule_metadata,
        "spec": {"groups": groups},
    }


class PrometheusRuleSync:
    def __init__(self, store: RuleStore) -> None:
        self._store = store

    async def sync(self, body: Body) -> SyncResult:
        if not await self._store.prometheus_rules_supported():
            return SyncResult.UNSUPPORTED
        slo = ServiceLevelObjective.model_validate({k: v for k, v in body.items() if k != "status"})
        rule = prometheus_rule(slo, owner=body)
        await self._store.apply_prometheus_rule(rule["metadata"]["namespace"], rule)
        log.info(
            "PrometheusRule %s/%s applied", rule["metadata"]["namespace"], rule["metadata"]["name"]
        )
        return SyncResult.APPLIED
