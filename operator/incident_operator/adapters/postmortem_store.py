"""PostmortemStore on the API server (official client, every call off the event loop)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from incident_operator import GROUP, VERSION

from .kubernetes import translate
from .ports import Body
from .postmortem_ports import STATE_ANNOTATION

PLURAL = "postmortems"


class KubernetesPostmortems:
    def __init__(self, api: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._core = client.CoreV1Api(api)

    async def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise translate(exc, what) from exc

    async def _get(self, plural: str, namespace: str, name: str) -> Body | None:
        try:
            found: Any = await asyncio.to_thread(
                self._custom.get_namespaced_custom_object, GROUP, VERSION, namespace, plural, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise translate(exc, f"get {plural} {namespace}/{name}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise translate(exc, f"get {plural} {namespace}/{name}") from exc
        return dict(found)

    async def get_postmortem(self, namespace: str, name: str) -> Body | None:
        return await self._get(PLURAL, namespace, name)

    async def get_slo(self, namespace: str, name: str) -> Body | None:
        return await self._get("servicelevelobjectives", namespace, name)

    async def create_postmortem(self, namespace: str, body: Body) -> Body:
        name = body["metadata"]["name"]
        try:
            created: Any = await asyncio.to_thread(
                self._custom.create_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                body,
            )
            return dict(created)
        except ApiException as exc:
            if exc.status == 409 and (found := await self.get_postmortem(namespace, name)):
                return found
            raise translate(exc, f"create postmortem {namespace}/{name}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise translate(exc, f"create postmortem {namespace}/{name}") from exc

    async def patch_postmortem_status(self, namespace: str, name: str, status: Body) -> None:
        await self._call(
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
            await self._call(
                f"patch incident {namespace}/{incident} status",
                self._custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                "incidents",
                incident,
                {"status": {"postmortemRef": postmortem}},
            )
        await self._call(
            f"annotate incident {namespace}/{incident}",
            self._custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "incidents",
            incident,
            {"metadata": {"annotations": {STATE_ANNOTATION: state}}},
        )

    async def annotate_incident(
        self, namespace: str, incident: str, annotations: Mapping[str, str]
    ) -> None:
        await self._call(
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
            found = await self._call(
                f"list events about {kind} {namespace}/{name}",
                self._core.list_namespaced_event,
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
            await asyncio.to_thread(self._core.replace_namespaced_config_map, name, namespace, body)
        except ApiException as exc:
            if exc.status != 404:
                raise translate(exc, what) from exc
            await self._call(what, self._core.create_namespaced_config_map, namespace, body)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise translate(exc, what) from exc
