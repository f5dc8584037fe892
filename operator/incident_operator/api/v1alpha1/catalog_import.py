"""Backstage catalog entities (catalog-info.yaml) as Services and Teams.

Mapping (backstage.io/v1alpha1):

- ``Component`` -> ``Service`` in the namespace given: ``spec.owner`` (an entity reference,
  a Group by default) -> ``owner``; ``metadata.description`` -> ``description``;
  ``spec.dependsOn`` Components -> ``dependencies``; ``metadata.links`` with the dashboard icon
  (or "dashboard" in the title) -> ``dashboards``, with "runbook" in the title -> ``runbooks``.
- ``Group`` -> ``Team`` admitting that namespace: ``spec.profile.displayName`` ->
  ``displayName``; every ``User`` whose ``spec.memberOf`` names it (and the Group's own
  ``spec.members``) -> ``members`` with the profile e-mail.
- ``User`` -> a member of its Groups (no object of its own).
- ``System`` and every other kind: nothing (reported).

What does not map is reported, field by field. A ``pagerduty.com/integration-key`` annotation
is a routing key: it is never copied into a manifest (nor into the report); the report says
to put it into a Secret in the catalog Secret namespace and reference it from the Team.
Names Kubernetes does not accept (``breanna.davison``) are made into DNS labels and reported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .catalog import Service, Team
from .documents import Source

BACKSTAGE = "backstage.io/v1alpha1"
PAGERDUTY_KEY = "pagerduty.com/integration-key"
MAX_DESCRIPTION = 256
_INVALID = re.compile(r"[^a-z0-9-]+")


class CatalogImportError(ValueError):
    """A document that cannot be imported: names the document and the field."""


@dataclass
class Import:
    manifests: list[dict[str, Any]] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    """What was not carried over, one line each: ``<where> <kind>/<name>: <what and why>``."""


@dataclass(frozen=True)
class Ref:
    kind: str
    namespace: str
    name: str


def parse_ref(text: str, default_kind: str) -> Ref:
    """A Backstage entity reference, ``[kind:][namespace/]name``, kind lower-cased."""
    kind, _, rest = text.rpartition(":") if ":" in text else ("", "", text)
    namespace, _, name = rest.rpartition("/") if "/" in rest else ("default", "", rest)
    return Ref((kind or default_kind).lower(), namespace or "default", name)


def dns_label(name: str) -> str:
    """``name`` as a Kubernetes name: lower case, runs of anything else as one dash."""
    label = _INVALID.sub("-", name.lower()).strip("-")[:63].strip("-")
    return label or "unnamed"


def convert(sources: Sequence[Source], *, namespace: str) -> Import:
    """Services (in ``namespace``) and Teams (admitting it) from the Backstage entities."""
    result = Import()
    entities = [(s.where, s.document) for s in sources if _is_entity(s)]
    for source in sources:
        if not _is_entity(source):
            result.unmapped.append(f"{source.where}: not a {BACKSTAGE} entity, skipped")
    groups = {_name(doc): (where, doc) for where, doc in entities if doc.get("kind") == "Group"}
    members: dict[str, list[dict[str, str]]] = {name: [] for name in groups}
    for where, doc in entities:
        if doc.get("kind") != "User":
            continue
        _user(where, doc, groups, members, result)
    for name, (where, doc) in groups.items():
        result.manifests.append(_team(where, doc, namespace, members[name], result))
    for where, doc in entities:
        kind = doc.get("kind")
        if kind == "Component":
            result.manifests.append(_service(where, doc, namespace, set(groups), result))
        elif kind not in {"Group", "User"}:
            result.unmapped.append(
                f"{where} {kind}/{_name(doc)}: no equivalent"
                + (" (a System groups services; not modelled yet)" if kind == "System" else "")
            )
    for manifest in result.manifests:
        _validate(manifest)
    return result


def _is_entity(source: Source) -> bool:
    doc = source.document
    return isinstance(doc, dict) and doc.get("apiVersion") == BACKSTAGE and "kind" in doc


def _name(doc: dict[str, Any]) -> str:
    name = (doc.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise CatalogImportError(f"{doc.get('kind')}: metadata.name is missing")
    return name


def _renamed(where: str, what: str, name: str, result: Import) -> str:
    label = dns_label(name)
    if label != name:
        result.unmapped.append(
            f"{where} {what}: name {name!r} is not a Kubernetes name, used {label!r}"
        )
    return label


def _user(
    where: str,
    doc: dict[str, Any],
    groups: dict[str, tuple[str, dict[str, Any]]],
    members: dict[str, list[dict[str, str]]],
    result: Import,
) -> None:
    name = _name(doc)
    spec = doc.get("spec") or {}
    entry = {"name": _renamed(where, f"User/{name}", name, result)}
    email = ((spec.get("profile") or {}).get("email")) or ""
    if email:
        entry["email"] = str(email)[:254]
    joined = False
    for text in spec.get("memberOf") or []:
        ref = parse_ref(str(text), "group")
        if ref.kind != "group" or ref.name not in groups:
            result.unmapped.append(f"{where} User/{name}: memberOf {text} is not a Group read here")
            continue
        if entry["name"] not in {m["name"] for m in members[ref.name]}:
            members[ref.name].append(entry)
        joined = True
    if not joined:
        result.unmapped.append(f"{where} User/{name}: in no Group read here, not carried over")
    namespace = (doc.get("metadata") or {}).get("namespace")
    if namespace not in (None, "default"):
        result.unmapped.append(
            f"{where} User/{name}: Backstage namespace {namespace} dropped (Team members have "
            "no namespace)"
        )


def _team(
    where: str, doc: dict[str, Any], namespace: str, people: list[dict[str, str]], result: Import
) -> dict[str, Any]:
    name = _name(doc)
    what = f"Group/{name}"
    spec = doc.get("spec") or {}
    profile = spec.get("profile") or {}
    team_spec: dict[str, Any] = {}
    if display := profile.get("displayName"):
        team_spec["displayName"] = str(display)[:100]
    team_spec["namespaces"] = [namespace]
    for other in (doc.get("spec") or {}).get("members") or []:
        ref = parse_ref(str(other), "user")
        person = {"name": dns_label(ref.name)}
        if person["name"] not in {p["name"] for p in people}:
            people.append(person)
    if people:
        team_spec["members"] = people
    if spec.get("parent") or spec.get("children"):
        result.unmapped.append(f"{where} {what}: parent/children (Teams are flat)")
    _pagerduty(where, what, doc, result, team=True)
    result.unmapped.append(
        f"{where} {what}: no paging target (set spec.paging.routingKey to a Secret in the "
        "operator's catalog Secret namespace)"
    )
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Team",
        "metadata": {"name": _renamed(where, what, name, result)},
        "spec": team_spec,
    }


def _service(
    where: str, doc: dict[str, Any], namespace: str, groups: set[str], result: Import
) -> dict[str, Any]:
    name = _name(doc)
    what = f"Component/{name}"
    meta = doc.get("metadata") or {}
    spec = doc.get("spec") or {}
    owner_text = spec.get("owner")
    if not isinstance(owner_text, str) or not owner_text:
        raise CatalogImportError(f"{where} {what}: spec.owner is missing")
    owner = _owner(where, what, owner_text, groups, result)
    service_spec: dict[str, Any] = {"owner": dns_label(owner.name)}
    if description := meta.get("description"):
        service_spec["description"] = str(description)[:MAX_DESCRIPTION]
    dependencies = []
    for text in spec.get("dependsOn") or []:
        ref = parse_ref(str(text), "component")
        if ref.kind == "component":
            dependencies.append(dns_label(ref.name))
        else:
            result.unmapped.append(f"{where} {what}: dependsOn {text} (only Components map)")
    if dependencies:
        service_spec["dependencies"] = dependencies
    _links(where, what, meta.get("links") or [], service_spec, result)
    for key in ("system", "lifecycle", "providesApis", "consumesApis", "subcomponentOf"):
        if spec.get(key):
            result.unmapped.append(f"{where} {what}: spec.{key} has no equivalent")
    if spec.get("type") not in (None, "service"):
        result.unmapped.append(
            f"{where} {what}: spec.type {spec.get('type')} imported as a Service all the same"
        )
    _pagerduty(where, what, doc, result, team=False)
    return {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Service",
        "metadata": {"name": _renamed(where, what, name, result), "namespace": namespace},
        "spec": service_spec,
    }


def _owner(where: str, what: str, text: str, groups: set[str], result: Import) -> Ref:
    owner = parse_ref(text, "group")
    if owner.kind != "group":
        result.unmapped.append(
            f"{where} {what}: owner {text} is a {owner.kind}, not a Group; owner set to "
            f"{dns_label(owner.name)} (create that Team)"
        )
    elif owner.name not in groups:
        result.unmapped.append(
            f"{where} {what}: owner {text} is not a Group read here (create Team "
            f"{dns_label(owner.name)})"
        )
    return owner


def _links(where: str, what: str, links: list[Any], spec: dict[str, Any], result: Import) -> None:
    dropped = []
    for link in links:
        if not isinstance(link, dict) or not link.get("url"):
            continue
        title = str(link.get("title") or link["url"])[:100]
        entry = {"title": title, "url": str(link["url"])}
        if link.get("icon") == "dashboard" or "dashboard" in title.lower():
            spec.setdefault("dashboards", []).append(entry)
        elif "runbook" in title.lower():
            spec.setdefault("runbooks", []).append(entry)
        else:
            dropped.append(title)
    if dropped:
        result.unmapped.append(
            f"{where} {what}: links neither dashboards nor runbooks: {', '.join(dropped)}"
        )


def _pagerduty(where: str, what: str, doc: dict[str, Any], result: Import, *, team: bool) -> None:
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    if PAGERDUTY_KEY in annotations:
        owner = "this Team" if team else "the owner Team"
        result.unmapped.append(
            f"{where} {what}: {PAGERDUTY_KEY} not copied (a secret): store it in a Secret in "
            f"the operator's catalog Secret namespace and name it in {owner}'s "
            "spec.paging.routingKey (or a route the Service picks)"
        )
    for key in annotations:
        if key.startswith("pagerduty.com/") and key != PAGERDUTY_KEY:
            result.unmapped.append(f"{where} {what}: annotation {key} has no equivalent")


def _validate(manifest: dict[str, Any]) -> None:
    model = Team if manifest["kind"] == "Team" else Service
    try:
        model.model_validate(manifest)
    except ValidationError as exc:
        name = manifest["metadata"]["name"]
        raise CatalogImportError(f"{manifest['kind']}/{name}: {exc}") from exc
