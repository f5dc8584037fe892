"""Resolution against the catalog and routing by ownership, with in-memory ports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from incident_operator.adapters.comms_ports import Channel
from incident_operator.domain.catalog import SecretRef
from incident_operator.domain.paging import EventAction
from incident_operator.domain.times import iso
from incident_operator.errors import PermanentError, TemporaryError
from incident_operator.services.catalog import CatalogService
from incident_operator.services.comms import CommsService
from tests.builders.objects import incident, severity
from tests.fakes.ports.catalog import FakeCatalog, FakeTeamPagers
from tests.fakes.ports.chat import FakeChat
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.paging import FakePager
from tests.fakes.ports.store import FakeStore
from tests.unit.services.test_comms_service import accepted

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NS = "shop"
ROTATION = Path(__file__).resolve().parents[3] / "examples" / "20-oncallrotation.yaml"
PAYMENTS_KEY = {"name": "payments-pd", "key": "routing-key"}
SEARCH_KEY = {"name": "search-pd", "key": "routing-key"}


class World:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.store.severities["sev-2"] = severity(
            paging={"page": True}, chat={"createChannel": True}, rotationRef="checkout-oncall"
        )
        self.store.rotations[(NS, "checkout-oncall")] = yaml.safe_load(ROTATION.read_text())
        self.catalog = FakeCatalog()
        self.catalog.add_team(
            "payments",
            namespaces=[NS],
            members=[{"name": "dora", "slackUserId": "U0DDDDDDD"}],
            slack={"channel": "#team-payments", "userGroup": "S0PAYMENTS"},
            paging={"routingKey": PAYMENTS_KEY},
        )
        self.catalog.add_team("search", namespaces=["*"], paging={"routingKey": SEARCH_KEY})
        self.catalog.add_service(NS, "checkout", owner="payments")
        self.catalog.add_service(NS, "search", owner="search")
        self.catalog.add_service("other", "billing", owner="payments")
        self.pagers = FakeTeamPagers()
        self.payments = self.pagers.add("payments-pd", "routing-key")
        self.search = self.pagers.add("search-pd", "routing-key")
        self.global_pager = FakePager()
        self.clock = FakeClock(NOW)
        self.service = CatalogService(self.catalog, self.store, self.clock, pagers=self.pagers)
        self.chat = FakeChat()
        self.chat.channels["C0INCIDENTS"] = Channel("C0INCIDENTS", "incidents")
        self.chat.channels["C0PAYMENTS"] = Channel("C0PAYMENTS", "team-payments")
        self.comms = CommsService(
            self.store, self.clock, chat=self.chat, pager=self.global_pager, catalog=self.service
        )

    async def declare(self, name: str, **spec: Any) -> dict[str, Any]:
        await self.store.create_incident(NS, incident(name, NS, created=None, **spec))
        await self.store.patch_incident(NS, name, status=accepted())
        found = await self.store.get_incident(NS, name)
        assert found is not None
        return found


@pytest.fixture
def world() -> World:
    return World()


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    (found,) = [c for c in status["conditions"] if c["type"] == type_]
    return dict(found)


async def test_known_service_records_its_team_and_a_true_condition(world: World) -> None:
    body = await world.declare("inc-a", service="checkout")
    resolution, status = await world.service.incident_status(body)
    assert resolution.teams == ("payments",)
    assert status["catalog"] == {
        "owners": [{"service": "checkout", "team": "payments"}],
        "teams": ["payments"],
        "pagingTeam": "payments",
        "pagingRoute": None,
    }
    resolved = condition(status, "ServiceResolved")
    assert (resolved["status"], resolved["reason"]) == ("True", "Resolved")
    assert world.store.events == []
    # Written once: the same answer again changes nothing.
    await world.store.patch_incident(NS, "inc-a", status=status)
    again = await world.store.get_incident(NS, "inc-a")
    assert again is not None
    assert (await world.service.incident_status(again))[1] == {}


async def test_unknown_service_gets_a_false_condition_but_no_event(world: World) -> None:
    body = await world.declare("inc-b", service="nope")
    _, status = await world.service.incident_status(body)
    resolved = condition(status, "ServiceResolved")
    assert (resolved["status"], resolved["reason"]) == ("False", "UnknownService")
    assert status["catalog"]["teams"] == []
    # Every incident of a cluster without a catalog is on an unknown service: no Event noise.
    assert world.store.events == []


async def test_a_service_in_another_namespace_is_never_looked_up(world: World) -> None:
    body = await world.declare("inc-c", service="billing")
    _, status = await world.service.incident_status(body)
    assert condition(status, "ServiceResolved")["reason"] == "UnknownService"
    assert ("service", "other/billing") not in world.catalog.reads
    assert ("service", "shop/billing") in world.catalog.reads


async def test_a_team_that_does_not_admit_the_namespace_is_reported(world: World) -> None:
    world.catalog.add_team(
        "payments", namespaces=["elsewhere"], paging={"routingKey": PAYMENTS_KEY}
    )
    body = await world.declare("inc-d", service="checkout")
    _, status = await world.service.incident_status(body)
    resolved = condition(status, "ServiceResolved")
    assert resolved["reason"] == "OwnerUnresolved"
    assert "does not admit" in resolved["message"]
    assert status["catalog"]["pagingTeam"] is None
    assert [(e[1], e[3]) for e in world.store.events] == [("OwnerUnresolved", True)]


async def test_service_status_says_whether_its_owner_resolves(world: World) -> None:
    world.catalog.add_service(NS, "orphan", owner="ghosts")
    orphan = world.catalog.services[(NS, "orphan")]
    status = await world.service.service_status(orphan)
    assert status["owner"] is None
    owner = condition(status, "OwnerResolved")
    assert (owner["status"], owner["reason"]) == ("False", "TeamNotFound")
    good = await world.service.service_status(world.catalog.services[(NS, "checkout")])
    assert good["owner"] == "payments"
    assert condition(good, "OwnerResolved")["status"] == "True"


async def test_the_page_goes_to_the_owning_team_not_the_global_key(world: World) -> None:
    await world.declare("inc-e", service="checkout")
    await world.comms.sync(NS, "inc-e")
    assert [c.action for c in world.payments.calls] == [EventAction.TRIGGER]
    assert world.global_pager.calls == []
    assert world.search.calls == []
    # The owning team's members are invited along with the rotation's commander.
    invited = {u for m, args in world.chat.calls if m == "invite" for u in args[1]}
    assert "U0DDDDDDD" in invited


async def test_the_owning_teams_user_group_is_invited_and_read_at_most_every_5_minutes(
    world: World,
) -> None:
    world.service.attach_groups(world.chat)
    world.chat.usergroups["S0PAYMENTS"] = ["U0GGGGGG1", "U0GGGGGG2"]
    await world.declare("inc-g", service="checkout")
    await world.comms.sync(NS, "inc-g")
    invited = {u for m, args in world.chat.calls if m == "invite" for u in args[1]}
    assert {"U0DDDDDDD", "U0GGGGGG1", "U0GGGGGG2"} <= invited
    resolution = await world.service.resolve(NS, ["checkout"])
    world.chat.usergroups["S0PAYMENTS"] = ["U0GGGGGG3"]
    asks = [c for c in world.chat.calls if c[0] == "group_members"]
    assert await world.service.invitees(resolution) == {"U0DDDDDDD", "U0GGGGGG1", "U0GGGGGG2"}
    assert [c for c in world.chat.calls if c[0] == "group_members"] == asks, "cached"
    world.clock.advance(timedelta(minutes=5))
    assert await world.service.invitees(resolution) == {"U0DDDDDDD", "U0GGGGGG3"}


async def test_an_unreadable_user_group_still_invites_the_listed_members(world: World) -> None:
    """No such group (or a token without usergroups:read): the pass goes on without it."""
    world.service.attach_groups(world.chat)
    await world.declare("inc-h", service="checkout")
    await world.comms.sync(NS, "inc-h")
    invited = {u for m, args in world.chat.calls if m == "invite" for u in args[1]}
    assert "U0DDDDDDD" in invited
    assert [c[1] for c in world.chat.calls if c[0] == "group_members"] == [("S0PAYMENTS",)]
    assert [c.action for c in world.payments.calls] == [EventAction.TRIGGER]


async def test_unknown_service_pages_the_global_key(world: World) -> None:
    await world.declare("inc-f", service="nope")
    await world.comms.sync(NS, "inc-f")
    assert [c.action for c in world.global_pager.calls] == [EventAction.TRIGGER]
    assert world.payments.calls == []


async def test_an_unreadable_team_key_falls_back_to_the_global_key_and_says_so(
    world: World,
) -> None:
    del world.pagers.pagers[next(iter(world.pagers.pagers))]  # payments' Secret is gone
    body = await world.declare("inc-g", service="checkout")
    await world.comms.sync(NS, "inc-g")
    assert [c.action for c in world.global_pager.calls] == [EventAction.TRIGGER]
    _, status = await world.service.incident_status(body)
    assert "cannot be read" in condition(status, "ServiceResolved")["message"]
    assert status["catalog"]["pagingTeam"] is None


async def test_several_services_involve_every_team(world: World) -> None:
    body = await world.declare("inc-h", service="search", services=["checkout"])
    resolution, status = await world.service.incident_status(body)
    assert status["catalog"]["teams"] == ["search", "payments"]
    assert status["catalog"]["pagingTeam"] == "search"
    assert resolution.resolved


async def test_without_a_global_pager_team_keys_still_page(world: World) -> None:
    comms = CommsService(world.store, world.clock, catalog=world.service)
    assert comms.enabled
    await world.declare("inc-i", service="checkout")
    await comms.sync(NS, "inc-i")
    assert [c.action for c in world.payments.calls] == [EventAction.TRIGGER]


async def test_the_owning_teams_channel_hears_of_the_incident(world: World) -> None:
    await world.declare("inc-j", service="search", services=["checkout"])
    await world.comms.sync(NS, "inc-j")
    (announcement,) = [m for m in world.chat.messages if m.channel == "C0PAYMENTS"]
    assert "Checkout returns 5xx" in announcement.text
    assert announcement.text.endswith("<!subteam^S0PAYMENTS>")  # the team's user group
    others = [m.text for m in world.chat.messages if m.channel != "C0PAYMENTS"]
    assert not [t for t in others if "subteam" in t]


async def test_a_private_incident_is_not_announced_to_the_team(world: World) -> None:
    await world.declare("inc-k", service="checkout", private=True)
    await world.comms.sync(NS, "inc-k")
    assert not [m for m in world.chat.messages if m.channel == "C0PAYMENTS"]
    assert [c.action for c in world.payments.calls] == [EventAction.TRIGGER]


async def test_an_slo_says_whether_its_service_resolves(world: World) -> None:
    slo: dict[str, Any] = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {"name": "availability", "namespace": NS, "generation": 2},
        "spec": {"service": "checkout"},
    }
    status = await world.service.slo_status(slo)
    assert condition(status, "ServiceResolved")["status"] == "True"
    slo["status"] = status
    assert await world.service.slo_status(slo) == {}  # unchanged: nothing to write
    slo["spec"] = {"service": "nope"}
    changed = await world.service.slo_status(slo)
    assert condition(changed, "ServiceResolved")["reason"] == "UnknownService"


async def test_a_forbidden_team_key_pages_the_global_key_a_flaky_one_waits(world: World) -> None:
    ref = SecretRef("payments-pd", "routing-key")
    world.pagers.errors[ref] = PermanentError("get secret keys/payments-pd: 403 Forbidden")
    body = await world.declare("inc-l", service="checkout")
    await world.comms.sync(NS, "inc-l")
    assert [c.action for c in world.global_pager.calls] == [EventAction.TRIGGER]
    _, status = await world.service.incident_status(body)
    assert "cannot be read" in condition(status, "ServiceResolved")["message"]
    world.pagers.errors[ref] = TemporaryError("get secret keys/payments-pd: 503")
    await world.declare("inc-m", service="checkout")
    done = (await world.comms.sync(NS, "inc-m")).done
    assert "channel" in done  # chat goes on
    assert len(world.global_pager.calls) == 1  # inc-m was not paged on the wrong key
    del world.pagers.errors[ref]  # the retry finds the key
    await world.comms.sync(NS, "inc-m")
    assert [c.action for c in world.payments.calls] == [EventAction.TRIGGER]
    await world.comms.close()


async def test_without_a_secret_namespace_the_condition_says_keys_are_not_read(
    world: World,
) -> None:
    service = CatalogService(world.catalog, world.store, world.clock)
    body = await world.declare("inc-n", service="checkout")
    _, status = await service.incident_status(body)
    assert (
        "no catalog Secret namespace configured" in condition(status, "ServiceResolved")["message"]
    )


async def test_a_refused_event_does_not_keep_the_condition_from_being_written(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(*_: object, **__: object) -> None:
        raise PermanentError("create event: 403 Forbidden (namespace is being terminated)")

    monkeypatch.setattr(world.store, "emit_event", refused)
    world.catalog.add_team("payments", namespaces=["elsewhere"])
    body = await world.declare("inc-o", service="checkout")
    _, status = await world.service.incident_status(body)
    assert condition(status, "ServiceResolved")["reason"] == "OwnerUnresolved"


async def test_ack_and_resolve_follow_the_key_the_page_was_triggered_with(world: World) -> None:
    await world.declare("inc-p", service="checkout")
    await world.comms.sync(NS, "inc-p")
    body = await world.store.get_incident(NS, "inc-p")
    assert body is not None
    assert body["status"]["pager"]["team"] == "payments"
    # Ownership moves to search while payments' alert is open ...
    world.catalog.add_service(NS, "checkout", owner="search")
    await world.store.patch_incident(NS, "inc-p", status={"phase": "closed"})
    await world.comms.sync(NS, "inc-p")
    # ... and the resolve still reaches payments' alert; search was never paged.
    assert [c.action for c in world.payments.calls] == [EventAction.TRIGGER, EventAction.RESOLVE]
    assert world.search.calls == []
    assert world.global_pager.calls == []


async def test_a_page_on_the_global_key_is_resolved_there(world: World) -> None:
    await world.declare("inc-q", service="nope")
    await world.comms.sync(NS, "inc-q")
    body = await world.store.get_incident(NS, "inc-q")
    assert body is not None
    assert body["status"]["pager"].get("team") is None
    world.catalog.add_service(NS, "nope", owner="payments")  # catalogued later
    await world.store.patch_incident(NS, "inc-q", status={"phase": "closed"})
    await world.comms.sync(NS, "inc-q")
    assert [c.action for c in world.global_pager.calls] == [
        EventAction.TRIGGER,
        EventAction.RESOLVE,
    ]
    assert world.payments.calls == []


async def test_a_team_escalation_step_pages_that_teams_key_and_follows_up_there(
    world: World,
) -> None:
    """An incident on an uncatalogued service (global key) escalates to team/search (which
    admits every namespace): search's key gets the step's page, and its acknowledge."""
    await world.declare("inc-r", service="nope")
    await world.comms.sync(NS, "inc-r")
    step = {"level": 1, "target": "team/search", "at": "2026-11-27T14:10:00Z"}
    await world.store.patch_incident(NS, "inc-r", status={"response": {"escalations": [step]}})
    await world.comms.sync(NS, "inc-r")
    (call,) = world.search.calls
    assert (call.action, call.dedup_key) == (
        EventAction.TRIGGER,
        "incident-operator/shop/inc-r/escalation/1",
    )
    assert call.summary is not None
    assert "team search" in call.summary.title
    body = await world.store.get_incident(NS, "inc-r")
    assert body is not None
    assert body["status"]["pager"]["escalationPages"] == [
        {"level": 1, "state": "triggered", "team": "search", "route": None}
    ]
    await world.store.patch_incident(
        NS, "inc-r", status={"phase": "investigating", "timestamps": {"acknowledged": iso(NOW)}}
    )
    await world.comms.sync(NS, "inc-r")
    assert [c.action for c in world.search.calls] == [EventAction.TRIGGER, EventAction.ACKNOWLEDGE]
    assert [c.action for c in world.payments.calls] == []


async def test_a_team_that_does_not_admit_the_namespace_is_not_paged_by_its_escalation(
    world: World,
) -> None:
    world.catalog.add_team("billing", namespaces=["other"], paging={"routingKey": SEARCH_KEY})
    await world.declare("inc-s", service="nope")
    await world.comms.sync(NS, "inc-s")
    step = {"level": 1, "target": "team/billing", "at": "2026-11-27T14:10:00Z"}
    await world.store.patch_incident(NS, "inc-s", status={"response": {"escalations": [step]}})
    await world.comms.sync(NS, "inc-s")
    assert world.search.calls == [], "billing's key (shared with search here) is not used"
    keys = [c.dedup_key for c in world.global_pager.calls]
    assert keys == ["incident-operator/shop/inc-s", "incident-operator/shop/inc-s/escalation/1"]
