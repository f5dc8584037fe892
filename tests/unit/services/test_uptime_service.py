"""Which SLOs measure which public component (the admin's namespaces, never a tenant's
label alone), the refresh cadence, and what is kept when Prometheus fails."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from incident_operator.domain.sli import RatioSli
from incident_operator.domain.uptime import DayMeasure, UptimeComponent
from incident_operator.errors import InvalidIndicator, MetricsUnavailable, QueryRejected
from incident_operator.services.uptime import UptimeService
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore
from tests.fakes.ports.uptime import FakeDailyHistory

NOW = datetime(2026, 12, 7, 3, 20, tzinfo=UTC)
TODAY = date(2026, 12, 7)
CHECKOUT = UptimeComponent("checkout", ("shop",))


def sli(job: str) -> RatioSli:
    return RatioSli(
        errors=f'rate(http_requests_total{{job="{job}",code="500"}}[{{{{window}}}}])',
        total=f'rate(http_requests_total{{job="{job}"}}[{{{{window}}}}])',
    )


def slo(name: str, namespace: str, service: str, job: str, **spec: Any) -> dict[str, Any]:
    the_sli = sli(job)
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "service": service,
            "target": 99.5,
            "indicator": {"ratio": {"errors": the_sli.errors, "total": the_sli.total}},
            **spec,
        },
    }


def world(*bodies: dict[str, Any]) -> tuple[FakeStore, FakeDailyHistory, FakeClock]:
    store = FakeStore()
    for body in bodies:
        store.slos[(body["metadata"]["namespace"], body["metadata"]["name"])] = body
    history = FakeDailyHistory()
    for job in ("a", "b", "c", "evil"):
        history.days[sli(job)] = {TODAY: DayMeasure(0.01 if job == "evil" else 0.0, 100)}
    return store, history, FakeClock(NOW)


def service(
    store: FakeStore, history: FakeDailyHistory, clock: FakeClock, *components: UptimeComponent
) -> UptimeService:
    return UptimeService(store.list_slos, history, clock, components or (CHECKOUT,), days=3)


async def test_a_component_is_measured_by_its_services_slos_in_the_admins_namespaces() -> None:
    store, history, clock = world(
        slo("avail", "shop", "checkout", "a"),
        slo("latency", "shop", "checkout", "b"),
        slo("other-service", "shop", "search", "c"),
        slo("squatter", "tenant-b", "checkout", "evil"),  # another tenant names our service
    )
    uptime = service(store, history, clock)
    snapshot = await uptime.snapshot()
    assert snapshot.measured_at == NOW
    assert list(snapshot.histories) == ["checkout"]
    [first, _] = snapshot.histories["checkout"]
    assert first.days == {TODAY: DayMeasure(0.0, 100)}
    assert first.target == pytest.approx(0.995)
    assert {c[0] for c in history.calls} == {sli("a"), sli("b")}
    assert history.calls[0][1] == (date(2026, 12, 5), date(2026, 12, 6), TODAY)
    assert uptime.names == ("checkout",)


async def test_figures_are_read_at_most_every_refresh_in_the_background() -> None:
    store, history, clock = world(slo("avail", "shop", "checkout", "a"))
    uptime = service(store, history, clock)
    await uptime.snapshot()
    assert len(history.calls) == 1
    clock.advance(timedelta(minutes=4))
    await uptime.snapshot()
    assert len(history.calls) == 1
    clock.advance(timedelta(minutes=1))
    stale = await uptime.snapshot()  # served at once, the reading runs behind it
    assert stale.measured_at == NOW
    await uptime.idle()
    assert len(history.calls) == 2
    assert (await uptime.snapshot()).measured_at == NOW + timedelta(minutes=5)
    assert uptime.version == 2


async def test_prometheus_down_keeps_the_last_figures_and_without_any_has_no_data() -> None:
    store, history, clock = world(slo("avail", "shop", "checkout", "a"))
    history.fail[sli("a")] = MetricsUnavailable("connection refused")
    uptime = service(store, history, clock)
    snapshot = await uptime.snapshot()
    assert snapshot.measured_at is None
    assert snapshot.histories == {}
    await uptime.snapshot()
    assert len(history.calls) == 1  # not retried on every page view
    del history.fail[sli("a")]
    clock.advance(timedelta(minutes=5))
    await uptime.snapshot()
    await uptime.idle()
    assert (await uptime.snapshot()).measured_at == clock.now()
    history.fail[sli("a")] = MetricsUnavailable("connection refused")
    clock.advance(timedelta(minutes=5))
    await uptime.snapshot()
    await uptime.idle()
    kept = await uptime.snapshot()
    assert kept.measured_at == clock.now() - timedelta(minutes=5)
    assert kept.histories["checkout"][0].days == {TODAY: DayMeasure(0.0, 100)}


async def test_a_refused_or_unreadable_slo_is_left_out_alone() -> None:
    store, history, clock = world(
        slo("avail", "shop", "checkout", "a"),
        slo("refused", "shop", "checkout", "b"),
        slo("invalid", "shop", "checkout", "c"),
        slo("unreadable", "shop", "checkout", "a", target="high"),
    )
    history.fail[sli("b")] = QueryRejected("bad_data")
    history.fail[sli("c")] = InvalidIndicator("parse error")
    snapshot = await service(store, history, clock).snapshot()
    assert [h.days for h in snapshot.histories["checkout"]] == [{TODAY: DayMeasure(0.0, 100)}]


async def test_no_public_component_reads_nothing() -> None:
    store, history, clock = world(slo("avail", "shop", "checkout", "a"))
    uptime = UptimeService(store.list_slos, history, clock, ())
    assert (await uptime.snapshot()).histories == {}
    assert history.calls == []
