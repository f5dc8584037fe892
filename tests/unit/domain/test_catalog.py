"""Resolution and routing by ownership (domain/catalog.py)."""

from __future__ import annotations

from incident_operator.domain.catalog import (
    OwnerProblem,
    PageRoute,
    SecretRef,
    ServiceEntry,
    TeamEntry,
    ownership,
    resolve,
    service_condition,
    services_of,
)

PAYMENTS_KEY = SecretRef("payments-pd", "routing-key")
CRITICAL_KEY = SecretRef("payments-pd", "critical")
PAYMENTS = TeamEntry(
    "payments",
    frozenset({"shop"}),
    routing_key=PAYMENTS_KEY,
    routes={"critical": CRITICAL_KEY},
    slack_channel="team-payments",
    slack_user_group="S0PAYMENTS",
    slack_members=("U0AAAAAAA", "U0BBBBBBB"),
)
SEARCH = TeamEntry(
    "search",
    frozenset({"*"}),
    slack_channel="#team-search",
    slack_members=("U0BBBBBBB", "U0CCCCCCC"),
)
TEAMS = {t.name: t for t in (PAYMENTS, SEARCH)}


def svc(name: str, owner: str, namespace: str = "shop", route: str | None = None) -> ServiceEntry:
    return ServiceEntry(namespace, name, owner, route=route)


def test_known_service_resolves_to_its_team_and_pages_its_key() -> None:
    found = resolve("shop", ["checkout"], {"checkout": svc("checkout", "payments")}, TEAMS)
    assert found.resolved
    assert found.teams == ("payments",)
    assert found.page_route == PageRoute("payments", None, PAYMENTS_KEY)
    assert found.condition() == (True, "Resolved", "owned by payments")


def test_unknown_service_is_a_visible_condition_not_a_default() -> None:
    found = resolve("shop", ["checkout"], {}, TEAMS)
    assert not found.resolved
    assert found.unknown == ("checkout",)
    assert found.page_route is None
    ok, reason, message = found.condition()
    assert (ok, reason) == (False, "UnknownService")
    assert "checkout" in message
    assert "shop" in message


def test_a_service_of_another_namespace_never_resolves() -> None:
    # Even if a caller handed over another namespace's Service, it does not count.
    found = resolve("shop", ["checkout"], {"checkout": svc("checkout", "payments", "evil")}, TEAMS)
    assert found.unknown == ("checkout",)
    assert found.teams == ()
    assert found.page_route is None


def test_missing_team_is_reported_on_incident_and_service() -> None:
    entry = svc("checkout", "nobody")
    found = resolve("shop", ["checkout"], {"checkout": entry}, TEAMS)
    ok, reason, message = found.condition()
    assert (ok, reason) == (False, "OwnerUnresolved")
    assert "nobody does not exist" in message
    assert service_condition(ownership(entry, None))[:2] == (False, "TeamNotFound")


def test_a_team_that_does_not_admit_the_namespace_is_not_routed_to() -> None:
    entry = svc("checkout", "payments", namespace="tenant-b")
    owner = ownership(entry, PAYMENTS)
    assert owner.team is None
    assert owner.problem is OwnerProblem.TEAM_NOT_ADMITTED
    found = resolve("tenant-b", ["checkout"], {"checkout": entry}, TEAMS)
    assert found.page_route is None
    assert found.condition()[1] == "OwnerUnresolved"


def test_star_admits_every_namespace() -> None:
    assert ownership(svc("search", "search", namespace="anything"), SEARCH).problem is None


def test_a_service_picks_a_declared_route() -> None:
    services = {"checkout": svc("checkout", "payments", route="critical")}
    found = resolve("shop", ["checkout"], services, TEAMS)
    assert found.page_route == PageRoute("payments", "critical", CRITICAL_KEY)


def test_an_undeclared_route_falls_back_to_the_team_key_and_is_reported_on_the_service() -> None:
    entry = svc("checkout", "payments", route="made-up")
    found = resolve("shop", ["checkout"], {"checkout": entry}, TEAMS)
    assert found.page_route == PageRoute("payments", None, PAYMENTS_KEY)
    assert found.resolved  # the owner is known; the Service says what is wrong with it
    assert service_condition(ownership(entry, PAYMENTS))[:2] == (False, "UnknownRoute")


def test_several_services_involve_every_owning_team_and_page_the_first_with_a_key() -> None:
    services = {"search": svc("search", "search"), "checkout": svc("checkout", "payments")}
    found = resolve("shop", services_of("search", ["checkout", "search"]), services, TEAMS)
    assert found.services == ("search", "checkout")
    assert found.teams == ("search", "payments")
    # search has no key of its own: the first owner with one is paged.
    assert found.page_route == PageRoute("payments", None, PAYMENTS_KEY)
    assert found.invitees() == ("U0BBBBBBB", "U0CCCCCCC", "U0AAAAAAA")
    assert found.channels() == ("#team-search", "#team-payments")
    assert found.mentions() == {"#team-payments": "S0PAYMENTS"}  # search has no user group
    assert found.condition() == (True, "Resolved", "owned by search, payments")


def test_no_team_key_means_the_global_key() -> None:
    found = resolve("shop", ["search"], {"search": svc("search", "search")}, TEAMS)
    assert found.resolved
    assert found.page_route is None
