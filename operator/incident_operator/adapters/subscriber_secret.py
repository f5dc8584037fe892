"""The status page's subscribers, kept in one Secret in the operator's namespace.

Why a Secret and not a custom resource: a subscriber list is personal data (e-mail
addresses) and webhook signing secrets. A Secret keeps them out of ``status``, out of
``kubectl get`` output and out of every role that may read the operator's kinds; the chart
grants the operator ``get`` and ``update`` on this one Secret by name and nothing else.

Format: key ``subscribers.json``, a JSON list of objects::

    {"kind": "email"|"webhook", "address": "<e-mail or https URL>",
     "since": "<RFC 3339>", "components": ["checkout"], "secret": "<webhook signing key>"}

Webhook entries are written by an admin (``kubectl edit``, or GitOps with a sealed secret);
e-mail entries are also added by the public subscribe endpoint after the address was
confirmed, and removed by unsubscribe links. Entries that cannot be read are skipped and
logged by position, never by address. Reads are cached for ``ttl`` seconds (every open
incident's delivery tick reads the list); writes replace the Secret at the resourceVersion
read, so two writers never lose each other's change.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from kubernetes import client

from incident_operator.domain.subscriptions import Kind, Subscriber, valid_email
from incident_operator.domain.times import iso, parse_time
from incident_operator.errors import Conflict, NotFound, PermanentError

from .kubernetes import call_async, core_api

log = logging.getLogger(__name__)

DATA_KEY = "subscribers.json"
DEFAULT_TTL = 10.0
WRITE_ATTEMPTS = 5
MAX_SUBSCRIBERS = 5000
"""A Secret holds at most 1 MiB; past this, subscribing is refused."""


def parse(text: str) -> list[Subscriber]:
    try:
        raw = json.loads(text) if text.strip() else []
    except ValueError:
        log.warning("subscriber Secret key %s is not JSON; no subscribers", DATA_KEY)
        return []
    if not isinstance(raw, list):
        log.warning("subscriber Secret key %s is not a JSON list; no subscribers", DATA_KEY)
        return []
    out: list[Subscriber] = []
    for n, item in enumerate(raw):
        subscriber = _entry(item)
        if subscriber is None:
            log.warning("subscriber entry %d cannot be read; skipped", n)
        else:
            out.append(subscriber)
    return out


def _entry(item: Any) -> Subscriber | None:
    if not isinstance(item, dict):
        return None
    try:
        kind = Kind(str(item.get("kind")))
    except ValueError:
        return None
    address = str(item.get("address") or "").strip()
    since = parse_time(item.get("since"))
    components = item.get("components") or []
    secret = str(item.get("secret") or "")
    if not address or since is None or not isinstance(components, list):
        return None
    if kind is Kind.WEBHOOK and (not address.startswith(("https://", "http://")) or not secret):
        return None
    if kind is Kind.EMAIL and not valid_email(address):
        return None  # a display name or a line break would end up in a header
    return Subscriber(kind, address, since, frozenset(str(c) for c in components), secret)


def dump(subscribers: Sequence[Subscriber]) -> str:
    return json.dumps(
        [
            {
                "kind": s.kind.value,
                "address": s.address,
                "since": iso(s.since),
                "components": sorted(s.components),
                **({"secret": s.secret} if s.secret else {}),
            }
            for s in subscribers
        ],
        indent=1,
    )


class SecretSubscriberList:
    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str,
        *,
        ttl: float = DEFAULT_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = core_api(api)
        self._namespace = namespace
        self._name = name
        self._ttl = ttl
        self._monotonic = monotonic
        self._cached: tuple[float, list[Subscriber]] | None = None

    def __repr__(self) -> str:
        return f"SecretSubscriberList({self._namespace}/{self._name})"

    async def _read(self) -> tuple[Any, list[Subscriber]]:
        what = f"get secret {self._namespace}/{self._name}"
        found: Any = await call_async(
            what, self._core().read_namespaced_secret, self._name, self._namespace
        )
        encoded = (found.data or {}).get(DATA_KEY) or ""
        try:
            text = base64.b64decode(encoded).decode()
        except (binascii.Error, UnicodeDecodeError):
            log.warning("subscriber Secret key %s is not text; no subscribers", DATA_KEY)
            text = ""
        subscribers = parse(text)
        self._cached = (self._monotonic(), subscribers)
        return found, subscribers

    async def load(self) -> Sequence[Subscriber]:
        cached = self._cached
        if cached is not None and self._monotonic() - cached[0] < self._ttl:
            return cached[1]
        try:
            _, subscribers = await self._read()
        except NotFound:
            log.warning("subscriber Secret %s/%s not found", self._namespace, self._name)
            self._cached = (self._monotonic(), [])
            return []
        return subscribers

    async def add(self, subscriber: Subscriber) -> bool:
        def change(current: list[Subscriber]) -> list[Subscriber] | None:
            others = [s for s in current if s.id != subscriber.id]
            same = [s for s in current if s.id == subscriber.id]
            if same and same[0].components == subscriber.components:
                return None
            if len(others) >= MAX_SUBSCRIBERS:
                raise PermanentError("the subscriber list is full")
            kept = same[0].since if same else subscriber.since
            return [*others, replace(subscriber, since=kept)]

        return await self._write(change)

    async def remove(self, subscriber_id: str) -> bool:
        def change(current: list[Subscriber]) -> list[Subscriber] | None:
            kept = [s for s in current if s.id != subscriber_id]
            return kept if len(kept) != len(current) else None

        return await self._write(change)

    async def _write(self, change: Callable[[list[Subscriber]], list[Subscriber] | None]) -> bool:
        """Read, change, replace at the version read; again on a conflict."""
        for attempt in range(WRITE_ATTEMPTS):
            found, current = await self._read()
            after = change(current)
            if after is None:
                return False
            found.data = {
                **(found.data or {}),
                DATA_KEY: base64.b64encode(dump(after).encode()).decode(),
            }
            try:
                await call_async(
                    f"update secret {self._namespace}/{self._name}",
                    self._core().replace_namespaced_secret,
                    self._name,
                    self._namespace,
                    found,
                )
            except Conflict:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
                continue
            self._cached = (self._monotonic(), after)
            return True
        return False
