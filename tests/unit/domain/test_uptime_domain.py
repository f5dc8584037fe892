"""Daily availability per public component (domain/uptime.py), figures computed by hand:
UTC day boundaries, the partial day today, no-data days, worst SLO per day, event-weighted
period uptime, incidents of each day, and the JSON shape."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from incident_operator.domain.comms import Impact
from incident_operator.domain.status_page import (
    IncidentStatus,
    Page,
    PageIncident,
    PageUpdate,
    Site,
)
from incident_operator.domain.uptime import (
    DAYS,
    DayMeasure,
    SloHistory,
    UptimeComponent,
    component_uptime,
    midnight,
    parse_component,
    period,
    slo_uptime,
    uptime_json,
)

NOW = datetime(2026, 12, 7, 3, 20, tzinfo=UTC)
D5, D6, D7 = date(2026, 12, 5), date(2026, 12, 6), date(2026, 12, 7)
SITE = Site("acme", "Acme Status", "https://status.example.com/status")

# Availability SLO: 99.9 % on the 5th, 100 % on the 6th, 99 % so far today.
A_DAYS = {
    D5: DayMeasure(0.001, 1_000_000),
    D6: DayMeasure(0.0, 3_000_000),
    D7: DayMeasure(0.01, 100_000),
}
A = SloHistory(A_DAYS, 0.999)
# Latency SLO with data on the 6th only: 99.8 %, below its 99.9 % objective.
B_DAYS = {D6: DayMeasure(0.002, 1_000)}
B = SloHistory(B_DAYS, 0.999)


def incident(
    id: str,
    created: datetime,
    resolved: datetime | None,
    *,
    service: str = "checkout",
    impact: Impact = Impact.MAJOR,
) -> PageIncident:
    status = IncidentStatus.RESOLVED if resolved else IncidentStatus.INVESTIGATING
    update = PageUpdate(resolved or created, status, "x")
    return PageIncident(
        id=id,
        name=f"Incident {id}",
        service=service,
        impact=impact,
        status=status,
        created=created,
        updated=resolved or created,
        resolved=resolved,
        updates=(update,),
        components=(service,),
    )


def test_the_period_is_utc_days_ending_today() -> None:
    assert period(NOW, 3) == (D5, D6, D7)
    assert len(period(NOW)) == DAYS == 90
    assert period(NOW)[0] == date(2026, 9, 9)
    # 23:30 at UTC-5 on the 6th is already the 7th in UTC: the day boundary is UTC's.
    late = datetime(2026, 12, 6, 23, 30, tzinfo=UTC) + timedelta(hours=5)
    assert period(late.astimezone(UTC), 1) == (D7,)
    assert midnight(D7) == datetime(2026, 12, 7, tzinfo=UTC)
    for bad in (0, 91):
        with pytest.raises(ValueError, match="1 to 90 days"):
            period(NOW, bad)


def test_worst_slo_per_day_and_event_weighted_period() -> None:
    uptime = component_uptime("checkout", [A, B], [], NOW, 3)
    assert [d.day for d in uptime.days] == [D5, D6, D7]
    assert [d.availability for d in uptime.days] == pytest.approx([0.999, 0.998, 0.99])
    assert [d.partial for d in uptime.days] == [False, False, True]
    # A: (1,000 + 0 + 1,000) errors in 4,100,000 events; B: 2 in 1,000. The lower one.
    assert [d.below for d in uptime.days] == [False, True, True]
    assert slo_uptime(A_DAYS, (D5, D6, D7)) == pytest.approx(1 - 2_000 / 4_100_000)
    assert slo_uptime(B_DAYS, (D5, D6, D7)) == pytest.approx(0.998)
    assert uptime.uptime == pytest.approx(0.998)
    assert uptime.days_with_data == 3


def test_a_day_without_data_is_no_data_never_healthy() -> None:
    only_today = SloHistory({D7: DayMeasure(0.0, 10)}, 0.99)
    uptime = component_uptime("checkout", [only_today], [], NOW, 3)
    assert [d.availability for d in uptime.days] == [None, None, 1.0]
    assert uptime.days_with_data == 1
    assert uptime.uptime == 1.0  # over the one day with data, not 3 days of "up"
    nothing = component_uptime("checkout", [SloHistory({}, 0.9)] * 2, [], NOW, 3)
    assert [d.availability for d in nothing.days] == [None, None, None]
    assert nothing.uptime is None
    assert nothing.days_with_data == 0
    assert component_uptime("checkout", [], [], NOW, 3).uptime is None


def test_days_outside_the_period_do_not_count() -> None:
    old = SloHistory({D5 - timedelta(days=1): DayMeasure(0.5, 100), D6: DayMeasure(0.0, 100)}, 0.9)
    uptime = component_uptime("checkout", [old], [], NOW, 2)
    assert [d.day for d in uptime.days] == [D6, D7]
    assert uptime.uptime == 1.0


def test_ratios_without_events_are_averaged_per_day() -> None:
    recorded = {D5: DayMeasure(0.01), D6: DayMeasure(0.03)}
    assert slo_uptime(recorded, (D5, D6, D7)) == pytest.approx(0.98)
    # Out-of-range ratios (a recorded series gone wrong) are clamped to 0..100 %.
    assert slo_uptime({D5: DayMeasure(-0.5), D6: DayMeasure(2.0)}, (D5, D6)) == 0.5
    assert slo_uptime({D5: DayMeasure(0.1, 0.0)}, (D5,)) == pytest.approx(0.9)


def test_incidents_of_each_day_are_those_open_during_it() -> None:
    overnight = incident("a1", midnight(D6) - timedelta(hours=1), midnight(D6) + timedelta(hours=1))
    ended_at_midnight = incident("b2", midnight(D5) + timedelta(hours=3), midnight(D6))
    still_open = incident("c3", midnight(D7) + timedelta(hours=1), None)
    elsewhere = incident("d4", midnight(D6), None, service="search")
    uptime = component_uptime(
        "checkout", [A], [still_open, elsewhere, ended_at_midnight, overnight], NOW, 3
    )
    assert [[i.id for i in d.incidents] for d in uptime.days] == [["b2", "a1"], ["a1"], ["c3"]]
    assert uptime.days[2].incidents[0].name == "Incident c3"
    assert uptime.days[2].incidents[0].impact == "major"


def test_json_shape() -> None:
    page = Page(Impact.NONE, NOW, (), (), ())
    overnight = incident("a1", midnight(D6) - timedelta(hours=1), midnight(D6) + timedelta(hours=1))
    uptime = component_uptime("checkout", [A, B], [overnight], NOW, 3)
    body = uptime_json([uptime], page, SITE, now=NOW, measured=NOW - timedelta(minutes=2))
    assert body["page"]["id"] == "acme"
    assert body["period"] == {
        "days": 3,
        "start": "2026-12-05",
        "end": "2026-12-07",
        "time_zone": "Etc/UTC",
        "measured_at": "2026-12-07T03:18:00Z",
    }
    [component] = body["components"]
    assert component["name"] == "checkout"
    assert component["uptime_percent"] == 99.8
    assert component["days_with_data"] == 3
    assert component["days"][0] == {
        "date": "2026-12-05",
        "availability_percent": 99.9,
        "partial": False,
        "below_objective": False,
        "incidents": [
            {
                "id": "a1",
                "name": "Incident a1",
                "impact": "major",
                "shortlink": "https://status.example.com/status#incident-a1",
            }
        ],
    }
    assert component["days"][2]["partial"] is True
    assert component["days"][2]["availability_percent"] == 99.0
    empty = uptime_json([], page, SITE, now=NOW, measured=None)
    assert empty["components"] == []
    assert empty["period"]["measured_at"] is None


def test_component_flag() -> None:
    assert parse_component("checkout=shop") == UptimeComponent("checkout", ("shop",))
    parsed = parse_component(" checkout = shop-eu , shop ,")
    assert parsed == UptimeComponent("checkout", ("shop", "shop-eu"))
    assert parsed.measures("shop-eu", "checkout")
    assert not parsed.measures("other", "checkout")
    assert not parsed.measures("shop", "search")
    for bad in ("checkout", "=shop", "checkout=", "checkout= , "):
        with pytest.raises(ValueError, match="SERVICE=NAMESPACE"):
            parse_component(bad)
