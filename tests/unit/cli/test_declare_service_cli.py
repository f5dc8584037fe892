"""`kubectl incident declare --service`: the Service's namespace, resolved as chat resolves it
(domain/chat_declare.py), with the caller's own rights."""

from __future__ import annotations

from typing import Any

from tests.unit.cli.test_incident_cli import FakeIncidents, run


def service(namespace: str, name: str, owner: str = "payments") -> dict[str, Any]:
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"owner": owner},
    }


def declare(fake: FakeIncidents, *argv: str) -> tuple[int, str, str]:
    return run(fake, "declare", "Checkout down", "--severity", "2", "--name", "x", *argv)


def test_without_namespace_the_incident_lands_where_the_service_lives() -> None:
    fake = FakeIncidents("default")
    fake.services = [service("shop", "checkout"), service("billing", "invoices")]
    code, out, err = declare(fake, "--service", "checkout")
    assert (code, err) == (0, "")
    assert out == "incident shop/x declared\n"
    assert fake.objects["x"]["metadata"]["namespace"] == "shop"
    assert fake.objects["x"]["spec"]["service"] == "checkout"


def test_namespace_slash_name_picks_one_of_several() -> None:
    fake = FakeIncidents("default")
    fake.services = [service("shop", "checkout"), service("staging", "checkout")]
    code, _, err = declare(fake, "--service", "checkout")
    assert code == 1
    assert "several namespaces (shop/checkout, staging/checkout)" in err
    assert fake.objects == {}
    code, out, _ = declare(fake, "--service", "staging/checkout")
    assert code == 0
    assert out == "incident staging/x declared\n"
    assert fake.objects["x"]["spec"]["service"] == "checkout"


def test_with_namespace_only_that_namespace_counts() -> None:
    fake = FakeIncidents("shop")
    fake.services = [service("shop", "checkout"), service("billing", "checkout")]
    code, out, err = declare(fake, "--service", "checkout", "-n", "shop")
    assert (code, out, err) == (0, "incident shop/x declared\n", "")
    code, _, err = declare(fake, "--service", "billing/checkout", "-n", "shop")
    assert code == 1
    assert "is in namespace billing, not shop" in err


def test_an_unknown_service_is_declared_as_before_with_a_warning() -> None:
    fake = FakeIncidents("shop")
    code, out, err = declare(fake, "--service", "web", "-n", "shop")
    assert (code, out) == (0, "incident shop/x declared\n")
    assert "warning: There is no Service web" in err
    assert fake.objects["x"]["spec"]["service"] == "web"


def test_without_cluster_wide_list_rights_the_current_namespace_is_searched() -> None:
    fake = FakeIncidents("shop")
    fake.cluster_list_forbidden = True
    fake.services = [service("shop", "checkout")]
    code, out, err = declare(fake, "--service", "checkout")
    assert (code, out, err) == (0, "incident shop/x declared\n", "")
