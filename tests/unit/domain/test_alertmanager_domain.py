"""Pure decisions for Alertmanager groups: identity, namespace, severity, timeline keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from incident_operator.domain.alertmanager import (
    MAX_REMEMBERED,
    Alert,
    AlertGroup,
    AlertStatus,
    GroupMemory,
    SeenAlert,
    SeverityChange,
    SeverityPolicy,
    alert_entries,
    alert_key,
    group_id,
    group_resolved_entry,
    incident_name,
    judge,
    latest,
    parse_severity_map,
    service_name,
    severity_change,
    target_namespace,
    truncated_entry,
)

T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
POLICY = parse_severity_map("critical=sev-1,warning=sev-3,*=sev-4")


def make_alert(
    fingerprint: str = "aaaaaaaaaaaaaaaa",
    status: AlertStatus = AlertStatus.FIRING,
    ends_at: datetime | None = None,
    **labels: str,
) -> Alert:
    return Alert(status, {"alertname": "Down", **labels}, {}, T0, ends_at, fingerprint)


def make_group(
    *alerts: Alert,
    group_labels: dict[str, str] | None = None,
    common_labels: dict[str, str] | None = None,
) -> AlertGroup:
    alerts = alerts or (make_alert(),)
    firing = any(a.status is AlertStatus.FIRING for a in alerts)
    return AlertGroup(
        group_key='{}:{alertname="Down"}',
        status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
        receiver="ops",
        group_labels=group_labels or {},
        common_labels=common_labels or {},
        common_annotations={},
        external_url="",
        alerts=alerts,
    )


def test_group_id_is_stable_short_and_label_safe() -> None:
    gid = group_id('{}/{severity="critical"}:{alertname="X"}')
    assert gid == group_id('{}/{severity="critical"}:{alertname="X"}')
    assert gid != group_id('{}/{severity="critical"}:{alertname="Y"}')
    assert len(gid) == 20
    assert gid.isalnum()
    assert gid == "996f61b35f9cc67a6614"  # sha256 prefix: changing it orphans open incidents


def test_incident_names_count_generations_of_the_group() -> None:
    gid = "0123456789abcdef0123"
    assert incident_name(gid, []) == f"am-{gid}"
    assert incident_name(gid, [f"am-{gid}"]) == f"am-{gid}-2"
    assert incident_name(gid, [f"am-{gid}", f"am-{gid}-2", "someone-elses"]) == f"am-{gid}-3"
    assert incident_name(gid, ["someone-elses"]) == f"am-{gid}"
    assert latest([f"am-{gid}-10", f"am-{gid}-9", f"am-{gid}"], gid) == f"am-{gid}-10"
    assert latest([], gid) is None


def test_namespace_prefers_group_labels_then_common_labels_then_the_default() -> None:
    both = make_group(group_labels={"namespace": "shop"}, common_labels={"namespace": "other"})
    assert target_namespace(both, "namespace", "ops") == "shop"
    common = make_group(common_labels={"namespace": "other"})
    assert target_namespace(common, "namespace", "ops") == "other"
    assert target_namespace(make_group(), "namespace", "ops") == "ops"
    invalid = make_group(group_labels={"namespace": "Not_A_Namespace"})
    assert target_namespace(invalid, "namespace", "ops") == "ops"


def test_service_name_is_a_dns_label_from_the_common_labels() -> None:
    assert service_name(make_group(common_labels={"job": "Node_Exporter"})) == "node-exporter"
    assert service_name(make_group(common_labels={"service": "checkout", "job": "x"})) == (
        "checkout"
    )
    assert service_name(make_group()) == "unknown"


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"severity": "critical"}, "sev-1"),
        ({"severity": "warning"}, "sev-3"),
        ({"severity": "page-me"}, "sev-4"),
        ({}, "sev-4"),
    ],
)
def test_severity_of_an_alert(labels: dict[str, str], expected: str) -> None:
    assert POLICY.severity_of(labels) == expected


def test_the_most_severe_firing_alert_decides() -> None:
    alerts = [make_alert(severity="warning"), make_alert(severity="critical"), make_alert()]
    assert POLICY.worst(alerts) == "sev-1"
    assert POLICY.worst(alerts[:1]) == "sev-3"
    assert POLICY.worst([]) is None


def test_a_custom_label_is_read() -> None:
    policy = parse_severity_map("P1=sev-1,P2=sev-2", label="priority")
    assert policy.severity_of({"priority": "P2", "severity": "critical"}) == "sev-2"
    assert policy.severity_of({"severity": "critical"}) == SeverityPolicy.default


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("critical", "severity map entry 'critical' is not <label value>=<severity>"),
        ("critical=", "severity map entry 'critical=' is not <label value>=<severity>"),
        ("critical=SEV_1", "severity map entry 'critical=SEV_1': 'SEV_1' is not a Severity name"),
        ("a=sev-1,a=sev-2", "severity map names 'a' twice"),
        ("*=sev-1", "severity map '*=sev-1' maps no label value"),
    ],
)
def test_bad_severity_maps_are_rejected_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_severity_map(text)


def test_severity_is_raised_only_upwards_and_never_over_a_human_choice() -> None:
    assert severity_change(POLICY, "sev-3", "sev-3", "sev-1") is SeverityChange.RAISE
    assert severity_change(POLICY, "sev-3", None, "sev-1") is SeverityChange.RAISE
    assert severity_change(POLICY, "sev-1", "sev-1", "sev-3") is None
    assert severity_change(POLICY, "sev-3", "sev-3", "sev-3") is None
    # A responder moved it from sev-3 to sev-4; critical alerts suggest, they do not override.
    assert severity_change(POLICY, "sev-4", "sev-3", "sev-1") is SeverityChange.SUGGEST
    # A severity outside the mapping ranks last: any mapped one is more severe.
    assert severity_change(POLICY, "sev-9", None, "sev-4") is SeverityChange.RAISE


def test_alert_keys_are_fingerprint_status_and_the_instant_of_the_transition() -> None:
    firing = make_alert("f00f00f00f00f00f")
    resolved = make_alert("f00f00f00f00f00f", AlertStatus.RESOLVED, T1)
    assert alert_key(firing) == "alertmanager/f00f00f00f00f00f/firing/2026-11-27T14:00:00Z"
    assert alert_key(resolved) == "alertmanager/f00f00f00f00f00f/resolved/2026-11-27T14:30:00Z"
    # The same instant sent with another offset is the same key (a redelivery stays one entry).
    shifted = Alert(
        AlertStatus.FIRING,
        {},
        {},
        datetime.fromisoformat("2026-11-27T15:00:00+01:00"),
        None,
        "f00f00f00f00f00f",
    )
    assert alert_key(shifted) == alert_key(firing)


def test_timeline_entries_for_a_resolved_group() -> None:
    group = make_group(make_alert("a" * 16, AlertStatus.RESOLVED, T1, instance="db-1"))
    (entry,) = alert_entries(group)
    assert entry.type == "alert-resolved"
    assert entry.at == T1
    assert entry.message == 'Alert Down resolved {instance="db-1"}'
    verdict = judge(group, GroupMemory({}))
    done = group_resolved_entry(group, verdict, auto_resolved=False)
    assert done is not None
    assert done.key == "alertmanager/group-resolved/2026-11-27T14:30:00Z"
    assert "stays open" in done.message
    firing = make_group()
    assert group_resolved_entry(firing, judge(firing, GroupMemory({})), auto_resolved=False) is None


# --- judged per alert: truncation and alerts seen earlier ------------------------------------

A, B, C = "a" * 16, "b" * 16, "c" * 16
T2 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def firing_at(at: datetime) -> SeenAlert:
    return SeenAlert(AlertStatus.FIRING, at)


def resolved_at(at: datetime) -> SeenAlert:
    return SeenAlert(AlertStatus.RESOLVED, at)


def group_of(*alerts: Alert, truncated: int = 0) -> AlertGroup:
    """As Alertmanager builds it: the status from the alerts shown (after truncation)."""
    group = make_group(*alerts)
    return AlertGroup(
        group.group_key,
        group.status,
        group.receiver,
        group.group_labels,
        group.common_labels,
        group.common_annotations,
        group.external_url,
        group.alerts,
        truncated_alerts=truncated,
    )


def res(fingerprint: str, at: datetime = T1) -> Alert:
    return make_alert(fingerprint, AlertStatus.RESOLVED, at)


@pytest.mark.parametrize(
    ("memory", "group", "over", "unresolved"),
    [
        pytest.param({}, group_of(res(A), res(B)), True, (), id="all shown, all resolved"),
        pytest.param(
            {}, group_of(res(A), res(B), truncated=1), False, (), id="resolved but truncated"
        ),
        pytest.param(
            {C: firing_at(T0)},
            group_of(res(A), res(B), truncated=1),
            False,
            (C,),
            id="truncated hides the firing alert seen before",
        ),
        pytest.param(
            {C: firing_at(T0)},
            group_of(res(A), res(B)),
            False,
            (C,),
            id="an alert seen firing and never seen resolved",
        ),
        pytest.param(
            {C: firing_at(T0)},
            group_of(res(A), res(B), res(C)),
            True,
            (),
            id="every alert ever seen resolved",
        ),
        pytest.param(
            {A: firing_at(T2)},
            group_of(res(A, T1)),
            False,
            (A,),
            id="a retried older resolution does not undo a later firing",
        ),
        pytest.param(
            {A: resolved_at(T1)},
            group_of(make_alert(A)),
            False,
            (),
            id="older firing redelivered after the resolution: firing group is not over",
        ),
        pytest.param({}, group_of(make_alert(A)), False, (A,), id="firing"),
    ],
)
def test_a_group_is_over_only_when_every_alert_ever_seen_is_resolved(
    memory: dict[str, SeenAlert], group: AlertGroup, over: bool, unresolved: tuple[str, ...]
) -> None:
    verdict = judge(group, GroupMemory(memory))
    assert verdict.over is over
    assert verdict.unresolved == unresolved
    assert set(verdict.memory.alerts) == set(memory) | {a.fingerprint for a in group.alerts}


def test_memory_keeps_the_later_transition_per_alert() -> None:
    verdict = judge(group_of(res(A, T1)), GroupMemory({A: firing_at(T0)}))
    assert verdict.memory.alerts[A] == resolved_at(T1)
    again = judge(group_of(make_alert(A)), GroupMemory({A: resolved_at(T0)}))
    assert again.memory.alerts[A] == firing_at(T0), "same instant: firing wins"


def test_a_full_memory_is_never_over() -> None:
    full = GroupMemory({f"{i:016x}": resolved_at(T1) for i in range(MAX_REMEMBERED)})
    verdict = judge(group_of(res(A)), full)
    assert verdict.memory.overflow
    assert A not in verdict.memory.alerts
    assert not verdict.over
    entry = group_resolved_entry(group_of(res(A)), verdict, auto_resolved=False)
    assert entry is not None
    assert "more than 500" in entry.message


def test_truncated_payloads_get_one_entry_per_distinct_payload() -> None:
    cut = group_of(res(A), res(B), truncated=1)
    entry = truncated_entry(cut)
    assert entry is not None
    assert entry.type == "alerts-truncated"
    assert "1 more not shown" in entry.message
    assert truncated_entry(group_of(res(A), res(B), truncated=1)) == entry, "redelivery: same key"
    other = truncated_entry(group_of(res(A), make_alert(B), truncated=1))
    assert other is not None
    assert other.key != entry.key
    assert truncated_entry(group_of(res(A))) is None
    resolved = group_resolved_entry(cut, judge(cut, GroupMemory({})), auto_resolved=False)
    assert resolved is not None
    assert "1 alert(s) were not shown (truncatedAlerts)" in resolved.message
