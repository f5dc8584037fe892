"""`kubectl incident catalog import` on Backstage's own example catalog (tests/data/backstage)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
import yaml

from incident_operator.api.v1alpha1 import Service, Team
from incident_operator.api.v1alpha1.catalog_import import (
    CatalogImportError,
    convert,
    dns_label,
    parse_ref,
)
from incident_operator.api.v1alpha1.documents import Source
from incident_operator.cli import catalog_import
from incident_operator.cli.kubectl_plugin import build_parser
from incident_operator.cli.manifests import UsageError, read_sources

DATA = Path(__file__).resolve().parents[2] / "data" / "backstage" / "examples"
FILES = sorted(DATA.glob("*.yaml"))


def imported() -> dict[tuple[str, str], dict[str, object]]:
    result = convert(read_sources(FILES), namespace="shop")
    return {(m["kind"], m["metadata"]["name"]): m for m in result.manifests}


def test_the_upstream_examples_become_valid_teams_and_services() -> None:
    manifests = imported()
    assert sorted(manifests) == [
        ("Service", "artist-lookup"),
        ("Service", "playback-order"),
        ("Service", "wayback-archive"),
        ("Service", "www-artist"),
        ("Team", "team-a"),
        ("Team", "team-b"),
    ]
    team_a = Team.model_validate(manifests[("Team", "team-a")])
    assert team_a.spec.namespaces == ["shop"]
    assert [(m.name, m.email) for m in team_a.spec.members] == [
        ("breanna-davison", "breanna-davison@example.com"),
        ("janelle-dawe", "janelle-dawe@example.com"),
        ("nigel-manning", "nigel-manning@example.com"),
        ("guest", "guest@example.com"),  # listed twice upstream (two namespaces): once here
    ]
    assert Team.model_validate(manifests[("Team", "team-b")]).spec.display_name == "Team B"
    lookup = Service.model_validate(manifests[("Service", "artist-lookup")])
    assert lookup.metadata["namespace"] == "shop"
    assert lookup.spec.owner == "team-a"
    assert lookup.spec.description == "Artist Lookup"
    assert [(d.title, d.url) for d in lookup.spec.dashboards] == [
        ("Dashboard", "https://example.com/dashboard")
    ]


def test_what_does_not_map_is_reported() -> None:
    result = convert(read_sources(FILES), namespace="shop")
    text = "\n".join(result.unmapped)
    assert "System/artist-engagement-portal: no equivalent" in text
    assert "Component/playback-order: owner guest is not a Group read here" in text
    assert "'breanna.davison' is not a Kubernetes name, used 'breanna-davison'" in text
    assert "Component/www-artist: spec.type website" in text
    assert "links neither dashboards nor runbooks: Examples Users" in text
    assert "Group/team-a: no paging target" in text


def test_a_pagerduty_key_is_never_copied() -> None:
    key = "0123456789abcdef0123456789abcdef"
    component = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": "checkout",
            "annotations": {"pagerduty.com/integration-key": key, "pagerduty.com/service-id": "P1"},
        },
        "spec": {"type": "service", "owner": "group:default/payments", "dependsOn": [
            "component:payments-gateway", "resource:default/db"]},
    }  # fmt: skip
    result = convert([Source("c.yaml", component)], namespace="shop")
    assert key not in json.dumps(result.manifests)
    assert key not in "\n".join(result.unmapped)
    (service,) = result.manifests
    assert service["spec"]["dependencies"] == ["payments-gateway"]
    assert service["spec"]["owner"] == "payments"
    assert any("integration-key not copied" in u for u in result.unmapped)
    assert any("service-id has no equivalent" in u for u in result.unmapped)
    assert any("dependsOn resource:default/db" in u for u in result.unmapped)


def test_entity_references_and_names() -> None:
    assert parse_ref("team-a", "group") == parse_ref("group:default/team-a", "group")
    assert parse_ref("user:guest", "group").kind == "user"
    assert parse_ref("development/guest", "user").namespace == "development"
    assert dns_label("Breanna.Davison") == "breanna-davison"
    with pytest.raises(CatalogImportError, match=r"spec\.owner"):
        convert(
            [Source("x", {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                          "metadata": {"name": "x"}, "spec": {}})],
            namespace="shop",
        )  # fmt: skip


def test_the_command_prints_yaml_or_json_and_reports_on_stderr() -> None:
    parser = build_parser()
    args = parser.parse_args(["catalog", "import", "-n", "shop", *map(str, FILES)])
    out, err = io.StringIO(), io.StringIO()
    assert catalog_import.run(args, out, err) == 0
    documents = list(yaml.safe_load_all(out.getvalue()))
    assert len(documents) == 6
    assert "not carried over:" in err.getvalue()
    args = parser.parse_args(["catalog", "import", "-n", "shop", "-o", "json", str(FILES[0])])
    out = io.StringIO()
    assert catalog_import.run(args, out, io.StringIO()) == 0
    assert json.loads(out.getvalue())["kind"] == "Team"


def test_nothing_to_import_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    args = argparse.Namespace(files=[empty], namespace="shop", output="yaml")
    with pytest.raises(UsageError, match="no Components or Groups"):
        catalog_import.run(args, io.StringIO(), io.StringIO())
