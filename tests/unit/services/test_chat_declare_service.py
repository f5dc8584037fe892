"""Declaring on a service from chat (form or arguments) and the public update form:
ChatCommandService on the in-memory store, catalog and views."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from incident_operator.domain.chat_declare import DeclarePolicy
from incident_operator.domain.slack_requests import parse_command
from incident_operator.errors import CommandRefused, DeliveryRejected, DeliveryUnavailable
from incident_operator.services.chat_commands import (
    ChatCommandConfig,
    ChatCommandService,
    CommandContext,
    declared_name,
)
from tests.builders.objects import incident, severity
from tests.fakes.ports.catalog import FakeCatalog
from tests.fakes.ports.chat import FakeChat, FakeViews
from tests.fakes.ports.clock import FakeClock
from tests.fakes.ports.store import FakeStore

NOW = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
ALICE = "U0AAAAAAA"


def world(
    allow: str = "shop", **config: Any
) -> tuple[FakeStore, FakeCatalog, FakeViews, ChatCommandService]:
    store = FakeStore()
    store.severities["sev-2"] = severity("sev-2", 2)
    store.severities["sev-3"] = severity("sev-3", 3)
    catalog = FakeCatalog(severities=store.severities)
    catalog.add_service("shop", "checkout", owner="payments")
    catalog.add_service("billing", "invoices", owner="billing")
    views = FakeViews()
    service = ChatCommandService(
        store,
        FakeClock(NOW),
        FakeChat(),
        ChatCommandConfig(
            default_namespace="incidents", declare=DeclarePolicy.parse(allow), **config
        ),
        views=views,
        choices=catalog,
    )
    return store, catalog, views, service


def ctx(trigger: str = "trig-1", channel: str = "C0GENERAL") -> CommandContext:
    return CommandContext(channel_id=channel, user_id=ALICE, user_name="alice", request_id=trigger)


async def run(service: ChatCommandService, text: str, context: CommandContext | None = None) -> str:
    return await service.execute(parse_command(text), context or ctx())


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def filled(
    views: FakeViews, title: str = "Checkout is down", service: str = "shop/checkout", **more: Any
) -> dict[str, Any]:
    state: dict[str, Any] = {"title": {"type": "plain_text_input", "value": title}}
    if service:
        state["service"] = {"type": "static_select", "selected_option": {"value": service}}
    state.update(more)
    return views.submission(**state)


async def test_declare_without_arguments_opens_the_form_with_allowed_services_only() -> None:
    _, _, views, service = world()
    assert await run(service, "declare") == ""
    ((trigger, view),) = views.opened
    assert trigger == "trig-1"
    options = block(view, "service")["element"]["options"]
    assert [o["value"] for o in options] == ["shop/checkout"]
    severity_menu = block(view, "severity")["element"]
    assert [o["value"] for o in severity_menu["options"]] == ["sev-2", "sev-3"]
    assert severity_menu["initial_option"]["value"] == "sev-3"


async def test_the_form_lands_the_incident_in_the_services_namespace() -> None:
    store, _, views, service = world()
    await run(service, "declare")
    payload = filled(
        views,
        severity={"type": "static_select", "selected_option": {"value": "sev-2"}},
        private={"type": "checkboxes", "selected_options": [{"value": "private"}]},
    )
    answer = await service.submit(payload)
    assert answer is not None
    assert answer["response_action"] == "update"
    name = declared_name("Checkout is down", NOW, f"view/{payload['view']['id']}")
    assert f"shop/{name}" in answer["view"]["blocks"][0]["text"]["text"]
    spec = store.incidents[("shop", name)]["spec"]
    assert (spec["service"], spec["severityRef"], spec["private"]) == ("checkout", "sev-2", True)
    assert spec["source"] == {"type": "chat", "ref": "slack:C0GENERAL"}
    (entry,) = store.timeline("shop", name)
    assert entry["message"] == "Declared from Slack by alice at sev-2 on shop/checkout."


async def test_a_retried_submission_creates_one_incident() -> None:
    store, _, views, service = world()
    await run(service, "declare")
    payload = filled(views)
    first = await service.submit(payload)
    again = await service.submit(payload)
    assert first == again
    assert [k for k in store.incidents if k[0] == "shop"] == [
        ("shop", declared_name("Checkout is down", NOW, f"view/{payload['view']['id']}"))
    ]
    assert len(store.timeline(*next(iter(store.incidents)))) == 1


async def test_a_service_in_a_namespace_chat_may_not_reach_is_an_error_in_the_form() -> None:
    store, _, views, service = world()
    await run(service, "declare")
    answer = await service.submit(filled(views, service="billing/invoices"))
    assert answer is not None
    assert answer["response_action"] == "errors"
    assert "namespace billing" in answer["errors"]["service"]
    assert store.incidents == {}


async def test_an_unknown_service_is_an_error_in_the_form() -> None:
    store, _, views, service = world()
    await run(service, "declare")
    answer = await service.submit(filled(views, service="shop/nope"))
    assert answer == {
        "response_action": "errors",
        "errors": {"service": "There is no Service nope in namespace shop."},
    }
    assert store.incidents == {}


async def test_a_bad_title_or_severity_is_an_error_on_that_field() -> None:
    store, _, views, service = world()
    await run(service, "declare")
    answer = await service.submit(filled(views, title="  "))
    assert answer is not None
    assert list(answer["errors"]) == ["title"]
    forged = filled(views, severity={"type": "static_select", "selected_option": {"value": "x"}})
    answer = await service.submit(forged)
    assert answer is not None
    assert answer["errors"] == {"severity": "There is no Severity x."}
    assert store.incidents == {}


async def test_a_temporary_failure_keeps_the_form_open() -> None:
    store, _, views, service = world()
    await run(service, "declare")
    payload = filled(views)

    async def unavailable(namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        raise DeliveryUnavailable("API server unreachable")

    store.create_incident = unavailable  # type: ignore[method-assign]
    answer = await service.submit(payload)
    assert answer is not None
    assert "try again" in answer["errors"]["title"]


async def test_the_default_policy_offers_no_service_and_declares_as_before() -> None:
    store, catalog, views, service = world(allow="")
    await run(service, "declare")
    _, view = views.opened[0]
    assert "service" not in [b.get("block_id") for b in view["blocks"]]
    assert ("services", "") not in catalog.reads
    payload = filled(views, service="")
    await service.submit(payload)
    ((namespace, _),) = store.incidents
    assert namespace == "incidents"
    # A forged service value is still checked: no namespace is open to chat.
    forged = filled(views, service="shop/checkout")
    answer = await service.submit(forged)
    assert answer is not None
    assert answer["response_action"] == "errors"
    assert "not allowed" in answer["errors"]["title"]


async def test_declare_with_service_argument_resolves_the_same_way() -> None:
    store, catalog, _, service = world()
    reply = await run(service, "declare sev-2 --service checkout --private Checkout down")
    name = declared_name("Checkout down", NOW, "trig-1")
    assert reply == f"Declared incident shop/{name} (sev-2)."
    assert store.incidents[("shop", name)]["spec"]["private"] is True
    with pytest.raises(CommandRefused, match=r"no Service invoices in the namespaces open"):
        await run(service, "declare --service invoices Bills", ctx("trig-2"))
    with pytest.raises(CommandRefused, match=r"namespace billing is not allowed.*Nothing"):
        await run(service, "declare --service billing/invoices Bills", ctx("trig-4"))
    with pytest.raises(CommandRefused, match="no Service nope"):
        await run(service, "declare --service nope Bills", ctx("trig-3"))
    # Chat never looks beyond the open namespaces (nor says where else a Service exists).
    assert ("services", "") not in catalog.reads
    assert len(store.incidents) == 1


async def test_every_namespace_policy_lists_services_everywhere() -> None:
    _, catalog, views, service = world(allow="*")
    catalog.add_service("shop", "cart", owner="payments")
    await run(service, "declare")
    options = block(views.opened[0][1], "service")["element"]["options"]
    assert [o["value"] for o in options] == ["shop/cart", "shop/checkout", "billing/invoices"]
    assert ("services", "") in catalog.reads


async def test_many_services_are_served_as_suggestions() -> None:
    _, catalog, views, service = world()
    for i in range(120):
        catalog.add_service("shop", f"svc-{i:03d}", owner="payments")
    await run(service, "declare")
    assert block(views.opened[0][1], "service")["element"]["type"] == "external_select"
    answer = await service.suggest(
        {"type": "block_suggestion", "action_id": "service", "value": "svc-11"}
    )
    assert [o["value"] for o in answer["options"]] == [f"shop/svc-11{i}" for i in range(10)]
    assert await service.suggest({"action_id": "other", "value": ""}) == {"options": []}


async def test_an_expired_trigger_is_told_to_the_user() -> None:
    _, _, views, service = world()
    views.failures.append(DeliveryRejected("expired", code="expired_trigger_id"))
    with pytest.raises(CommandRefused, match="could not be opened in time"):
        await run(service, "declare")


async def test_forms_need_views_and_a_trigger() -> None:
    store = FakeStore()
    plain = ChatCommandService(store, FakeClock(NOW), FakeChat())
    with pytest.raises(CommandRefused, match="give the arguments"):
        await run(plain, "declare")
    _, _, _, service = world()
    with pytest.raises(CommandRefused, match="give the arguments"):
        await run(service, "declare", ctx(trigger=""))


# -- the public update form -----------------------------------------------------------------

CHANNEL = "C0INCIDENT"


def incident_world() -> tuple[FakeStore, FakeViews, ChatCommandService]:
    store, _, views, service = world()
    store.severities["sev-2"] = severity(
        "sev-2", 2, statusPage={"impact": "major", "draft": {"acceptRequired": True}}
    )
    store.incidents[("shop", "checkout-errors")] = incident(
        "checkout-errors",
        "shop",
        metadata={"generation": 1},
        status={"chat": {"channelId": CHANNEL}, "phase": "Investigating"},
    )
    return store, views, service


async def test_update_public_without_text_opens_the_drafted_wording() -> None:
    store, views, service = incident_world()
    assert await run(service, "update --public", ctx(channel=CHANNEL)) == ""
    (_, view) = views.opened[0]
    text = block(view, "text")["element"]["initial_value"]
    assert text
    assert block(view, "title")["element"]["initial_value"]
    assert block(view, "status")["element"]["initial_option"]["value"] == "investigating"
    payload = views.submission(
        text={"type": "plain_text_input", "value": "We found it."},
        status={"type": "static_select", "selected_option": {"value": "identified"}},
        title={"type": "plain_text_input", "value": "Checkout trouble"},
    )
    answer = await service.submit(payload)
    assert answer is not None
    assert answer["response_action"] == "update"
    public = store.incidents[("shop", "checkout-errors")]["spec"]["public"]
    assert public["title"] == "Checkout trouble"
    ((update),) = public["updates"]
    assert (update["text"], update["status"], update["author"]) == (
        "We found it.",
        "identified",
        ALICE,  # no rotation maps the Slack user to a participant
    )
    # Slack retries the same submission: published once.
    await service.submit(payload)
    assert len(store.incidents[("shop", "checkout-errors")]["spec"]["public"]["updates"]) == 1


async def test_the_public_form_is_only_for_incident_channels() -> None:
    _, views, service = incident_world()
    with pytest.raises(CommandRefused, match="not an incident channel"):
        await run(service, "update --public", ctx(channel="C0GENERAL"))
    assert views.opened == []


async def test_an_empty_public_update_is_an_error_in_the_form() -> None:
    store, views, service = incident_world()
    await run(service, "update --public", ctx(channel=CHANNEL))
    answer = await service.submit(
        views.submission(
            text={"type": "plain_text_input", "value": ""},
            status={"type": "static_select", "selected_option": {"value": "identified"}},
        )
    )
    assert answer is not None
    assert list(answer["errors"]) == ["text"]
    assert "public" not in store.incidents[("shop", "checkout-errors")]["spec"]


async def test_without_a_severity_the_owner_teams_default_applies() -> None:
    store, catalog, _, service = world()
    catalog.add_team("payments", defaultSeverity="sev-2")
    reply = await run(service, "declare --service checkout Checkout down")
    name = declared_name("Checkout down", NOW, "trig-1")
    assert reply == f"Declared incident shop/{name} (sev-2)."
    assert store.incidents[("shop", name)]["spec"]["severityRef"] == "sev-2"
    # No service, or a team without a default: the configured default.
    await run(service, "declare Something odd", ctx("trig-2"))
    odd = store.incidents[("incidents", declared_name("Something odd", NOW, "trig-2"))]
    assert odd["spec"]["severityRef"] == "sev-3"
