"""domain/chat_declare.py: which Service a name means and who may declare there; the modals
and what their submissions say."""

from __future__ import annotations

from typing import Any

import pytest

from incident_operator.domain.chat_declare import (
    DECLARE_CALLBACK,
    MAX_OPTIONS,
    PUBLIC_UPDATE_CALLBACK,
    DeclarePolicy,
    DeclareRefused,
    ServiceChoice,
    SeverityChoice,
    allowed,
    choose_for_chat,
    choose_service,
    declare_view,
    metadata,
    parse_declare,
    parse_public_update,
    public_update_view,
    read_metadata,
    service_suggestions,
)

SHOP = ServiceChoice("shop", "checkout", "payments-team")
BILLING = ServiceChoice("billing", "invoices", "billing-team")
TWIN = ServiceChoice("staging", "checkout", "payments-team")
SEVERITIES = [SeverityChoice("sev-3", 3, "Minor"), SeverityChoice("sev-1", 1, "Critical")]


def test_the_default_policy_opens_no_namespace() -> None:
    policy = DeclarePolicy()
    assert not policy.enabled
    assert not policy.allows("shop")
    assert allowed([SHOP, BILLING], policy) == []


def test_policy_parses_a_list_or_every_namespace() -> None:
    policy = DeclarePolicy.parse(" shop, ,billing ")
    assert policy.namespaces == {"shop", "billing"}
    assert policy.allows("shop")
    assert not policy.allows("staging")
    assert DeclarePolicy.parse("*").allows("anything")
    assert allowed([TWIN, BILLING, SHOP], policy) == [SHOP, BILLING]


def test_a_name_resolves_to_its_one_allowed_service() -> None:
    policy = DeclarePolicy.parse("shop")
    assert choose_service("checkout", [SHOP, TWIN], policy.allows) == SHOP
    assert choose_service("staging/checkout", [SHOP, TWIN]) == TWIN


def test_a_service_only_in_closed_namespaces_is_refused_with_the_reason() -> None:
    with pytest.raises(DeclareRefused) as refused:
        choose_service("invoices", [SHOP, BILLING], DeclarePolicy.parse("shop").allows)
    assert refused.value.field == "service"
    assert "namespace billing" in str(refused.value)
    assert "--chat-declare-namespaces" in str(refused.value)


def test_an_unknown_service_is_refused() -> None:
    with pytest.raises(DeclareRefused, match="There is no Service nope"):
        choose_service("nope", [SHOP])
    with pytest.raises(DeclareRefused, match="no Service checkout in namespace billing"):
        choose_service("billing/checkout", [SHOP])
    with pytest.raises(DeclareRefused, match="Pick a service"):
        choose_service("  ", [SHOP])


def test_a_name_in_several_allowed_namespaces_must_be_qualified() -> None:
    with pytest.raises(DeclareRefused, match="shop/checkout, staging/checkout"):
        choose_service("checkout", [SHOP, TWIN], DeclarePolicy.parse("*").allows)


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def test_declare_view_offers_services_severities_and_private() -> None:
    view = declare_view(
        [SHOP, BILLING],
        SEVERITIES,
        default_severity="sev-3",
        private_metadata=metadata(channel="C1"),
    )
    assert view["type"] == "modal"
    assert view["callback_id"] == DECLARE_CALLBACK
    assert len(view["title"]["text"]) <= 24
    assert [b["block_id"] for b in view["blocks"]] == ["title", "service", "severity", "private"]
    service = block(view, "service")["element"]
    assert service["type"] == "static_select"
    assert [o["value"] for o in service["options"]] == ["shop/checkout", "billing/invoices"]
    assert service["options"][0]["text"]["text"] == "checkout (shop, payments-team)"
    severity = block(view, "severity")["element"]
    assert [o["value"] for o in severity["options"]] == ["sev-1", "sev-3"]
    assert severity["initial_option"]["value"] == "sev-3"
    assert block(view, "private")["optional"] is True
    assert read_metadata(view["private_metadata"]) == {"channel": "C1"}


def test_more_than_a_hundred_services_use_an_external_select() -> None:
    many = [ServiceChoice("shop", f"svc-{i:03d}") for i in range(MAX_OPTIONS + 1)]
    view = declare_view(many, SEVERITIES, default_severity="sev-3")
    element = block(view, "service")["element"]
    assert element["type"] == "external_select"
    assert "options" not in element
    answer = service_suggestions(many, "SVC-0")
    assert len(answer["options"]) == MAX_OPTIONS
    assert service_suggestions(many, "svc-100")["options"][0]["value"] == "shop/svc-100"


def test_without_services_the_view_has_no_service_menu() -> None:
    view = declare_view([], SEVERITIES, default_severity="sev-9")
    assert "service" not in [b.get("block_id") for b in view["blocks"]]
    assert "initial_option" not in block(view, "severity")["element"]


def state(**values: dict[str, Any]) -> dict[str, Any]:
    return {"state": {"values": {k: {k: v} for k, v in values.items()}}}


def test_parse_declare_reads_state_values() -> None:
    submitted = parse_declare(
        state(
            title={"type": "plain_text_input", "value": "  Checkout is down "},
            service={"type": "static_select", "selected_option": {"value": "shop/checkout"}},
            severity={"type": "static_select", "selected_option": {"value": "sev-1"}},
            private={"type": "checkboxes", "selected_options": [{"value": "private"}]},
        )
    )
    assert (submitted.title, submitted.service, submitted.severity, submitted.private) == (
        "Checkout is down",
        "shop/checkout",
        "sev-1",
        True,
    )
    bare = parse_declare(state(title={"type": "plain_text_input", "value": "x"}))
    assert (bare.service, bare.severity, bare.private) == ("", "", False)


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_parse_declare_refuses_a_bad_title(title: str) -> None:
    with pytest.raises(DeclareRefused) as refused:
        parse_declare(state(title={"type": "plain_text_input", "value": title}))
    assert refused.value.field == "title"


def test_parse_declare_survives_garbage() -> None:
    with pytest.raises(DeclareRefused):
        parse_declare({"state": "nonsense"})
    assert read_metadata("not json") == {}
    assert read_metadata("[1]") == {}


def test_public_update_view_is_prefilled_with_the_draft() -> None:
    view = public_update_view(
        "shop/x", text="We are looking into it.", status="identified", title="Checkout issues"
    )
    assert view["callback_id"] == PUBLIC_UPDATE_CALLBACK
    assert block(view, "text")["element"]["initial_value"] == "We are looking into it."
    assert block(view, "status")["element"]["initial_option"]["value"] == "identified"
    assert block(view, "title")["element"]["initial_value"] == "Checkout issues"
    untitled = public_update_view("shop/x", text="t", status="weird")
    assert "title" not in [b.get("block_id") for b in untitled["blocks"]]
    assert block(untitled, "status")["element"]["initial_option"]["value"] == "investigating"


def test_parse_public_update() -> None:
    submitted = parse_public_update(
        state(
            text={"type": "plain_text_input", "value": "Fixed."},
            status={"type": "static_select", "selected_option": {"value": "resolved"}},
        )
    )
    assert (submitted.text, submitted.status, submitted.title) == ("Fixed.", "resolved", "")
    with pytest.raises(DeclareRefused) as refused:
        parse_public_update(
            state(
                text={"type": "plain_text_input", "value": "Fixed."},
                status={"type": "static_select", "selected_option": {"value": "done"}},
            )
        )
    assert refused.value.field == "status"


def test_chat_refuses_a_closed_namespace_and_never_names_others() -> None:
    policy = DeclarePolicy.parse("shop")
    offered = allowed([SHOP, BILLING], policy)
    assert choose_for_chat("checkout", offered, policy) == SHOP
    with pytest.raises(DeclareRefused, match="into namespace billing is not allowed") as closed:
        choose_for_chat("billing/invoices", offered, policy)
    assert closed.value.kind == "closed"
    with pytest.raises(DeclareRefused) as unknown:
        choose_for_chat("invoices", offered, policy)
    assert str(unknown.value) == (
        "There is no Service invoices in the namespaces open to chat declarations."
    )
    assert "billing" not in str(unknown.value)
    with pytest.raises(DeclareRefused, match="no Service nope in namespace shop"):
        choose_for_chat("shop/nope", offered, policy)
