"""Alertmanager webhook payloads (version 4) shaped like the ones Alertmanager 0.25 sends."""

from __future__ import annotations

import copy
from typing import Any

GROUP_KEY = '{}/{namespace="shop"}:{alertname="CheckoutErrors"}'
ZERO = "0001-01-01T00:00:00Z"


def alert(
    fingerprint: str = "1a2b3c4d5e6f7a8b",
    *,
    status: str = "firing",
    severity: str | None = "critical",
    starts_at: str = "2026-11-27T14:00:00.123456789Z",
    ends_at: str = ZERO,
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {
            "alertname": "CheckoutErrors",
            "namespace": "shop",
            "service": "checkout",
            **({"severity": severity} if severity else {}),
            **labels,
        },
        "annotations": {"summary": "Checkout returns 5xx"},
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=vector%281%29",
        "fingerprint": fingerprint,
    }


def payload(*alerts: dict[str, Any], status: str | None = None, **fields: Any) -> dict[str, Any]:
    alerts = alerts or (alert(),)
    if status is None:
        status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "version": "4",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "incident-operator",
        "groupLabels": {"alertname": "CheckoutErrors", "namespace": "shop"},
        "commonLabels": {"alertname": "CheckoutErrors", "namespace": "shop", "service": "checkout"},
        "commonAnnotations": {"summary": "Checkout returns 5xx"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [copy.deepcopy(a) for a in alerts],
        **fields,
    }


def resolved(a: dict[str, Any], ends_at: str = "2026-11-27T14:30:00Z") -> dict[str, Any]:
    return {**a, "status": "resolved", "endsAt": ends_at}
