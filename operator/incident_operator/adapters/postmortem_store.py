"""PostmortemStore on the API server (official client, every call off the event loop)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC

from kubernetes import client

from incident_operator import GROUP, VERSION
from incident_operator.errors import Conflict, NotFound

from .kubernetes import (
    EDIT_ATTEMPTS,
    _after_collision,
    call_async,
    core_api,
    create_object,
    get_object,
    refuse_owned_elsewhere,
)
from .ports import Body
from .postmortem_ports import STATE_ANNOTATION, ActionItemAdditions

PLURAL = "postmortems"


class KubernetesPostmortems:
    def __init__(self, api: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._core = core_api(api)

    async def get_postmortem(self, namespace: str, name: str) -> Body | None:
        return await get_object(self._custom, PLURAL, name, namespace)

    async def get_slo(self, namespace: str, name: str) -> Body | None:
        return await get_object(self._custom, "servicelevelobjectives", name, namespace)

    async def create_postmortem(self, namespace: str, body: Body) -> Body:
        return await create_object(self._custom, PLURAL, "postmortem", namespace, body)

    async def add_action_items(
        self, namespace: str, postmortem: str, additions: ActionItemAdditions
    ) -> bool:
        """The whole list written back with the resourceVersion read (merge patch; a
        concurrent edit is a 409, read again), after the managedFields check."""
        for attempt in range(EDIT_ATTEMPTS):
            if attempt:
                await _after_collision(attempt)
            current = await self.get_postmortem(namespace, postmortem)
            if current is None:
                return False
            items = list((current.get("spec") or {}).get("actionItems") or [])
            added = list(additions(items))
            if not added:
                return True
            change = {"spec": {"actionItems": [*items, *added]}}
            refuse_owned_elsewhere(
                change, current, f"postmortem {namespace}/{postmortem}", "add the item in Git"
            )
            version = {"resourceVersion": current["metadata"]["resourceVersion"]}
            try:
                await call_async(
                    f"add action items to postmortem {namespace}/{postmortem}",
                    self._custom.patch_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    namespace,
                    PLURAL,
                    postmortem,
                    {"metadata": version, **change},
                )
            except Conflict:
                continue
            return True
        raise Conflict(f"postmortem {namespace}/{postmortem} kept changing")

    async def patch_postmortem_status(self, namespace: str, name: str, status: Body) -> None:
        await call_async(
            f"patch postmortem {namespace}/{name} status",
            self._custom.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            {"status": status},
        )

    async def link_incident(
        self, namespace: str, incident: str, postmortem: str | None, state: str
    ) -> None:
        if postmortem is not None:
            await call_async(
                f"patch incident {namespace}/{incident} status",
                self._custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                "incidents",
                incident,
                {"status": {"postmortemRef": postmortem}},
            )
        await self.annotate_incident(namespace, incident, {STATE_ANNOTATION: state})

    async def annotate_incident(
        self, namespace: str, incident: str, annotations: Mapping[str, str]
    ) -> None:
        await call_async(
            f"annotate incident {namespace}/{incident}",
            self._custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "incidents",
            incident,
            {"metadata": {"annotations": dict(annotations)}},
        )

    async def events_about(self, namespace: str, objects: Sequence[tuple[str, str]]) -> list[Body]:
        out: list[Body] = []
        for kind, name in objects:
            found = await call_async(
                f"list events about {kind} {namespace}/{name}",
                self._core().list_namespaced_event,
                namespace,
                field_selector=f"involvedObject.kind={kind},involvedObject.name={name}",
            )
            for event in found.items:
                at = event.event_time or event.last_timestamp or event.first_timestamp
                at = at or event.metadata.creation_timestamp
                if at is None:
                    continue
                out.append(
                    {
                        "uid": event.metadata.uid or "",
                        "at": at if at.tzinfo else at.replace(tzinfo=UTC),
                        "reason": event.reason or "",
                        "message": event.message or "",
                        "type": event.type or "Normal",
                        "kind": kind,
                        "name": name,
                        "component": event.reporting_component
                        or (event.source.component if event.source else "")
                        or "",
                    }
                )
        return out

    async def apply_config_map(
        self,
        namespace: str,
        name: str,
        owner: Body,
        data: Mapping[str, str],
        binary: Mapping[str, bytes],
    ) -> None:
        meta = owner["metadata"]
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(
                name=name,
                namespace=namespace,
                labels={"app.kubernetes.io/managed-by": "incident-operator"},
                owner_references=[
                    client.V1OwnerReference(
                        api_version=owner.get("apiVersion", f"{GROUP}/{VERSION}"),
                        kind=owner.get("kind", "Postmortem"),
                        name=meta["name"],
                        uid=meta["uid"],
                    )
                ],
            ),
            data=dict(data),
            binary_data={k: base64.b64encode(v).decode() for k, v in binary.items()},
        )
        what = f"write configmap {namespace}/{name}"
        try:
            await call_async(
                what, self._core().replace_namespaced_config_map, name, namespace, body
            )
        except NotFound:
            await call_async(what, self._core().create_namespaced_config_map, namespace, body)
