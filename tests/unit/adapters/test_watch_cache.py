"""The watch caches the store reads: the Severity before a GET, the SLOs before a LIST.

A miss or an old entry is never an answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from incident_operator.adapters.watch_cache import (
    WatchedCollection,
    WatchedObjects,
    slim,
    slim_shared,
)
from incident_operator.errors import TemporaryError


class Ticks:
    def __init__(self) -> None:
        self.at = 0.0

    def __call__(self) -> float:
        return self.at


def sev(level: int) -> dict[str, object]:
    return {"metadata": {"name": "sev-1"}, "spec": {"level": level}}


def test_a_watched_object_is_answered_until_it_is_too_old() -> None:
    ticks = Ticks()
    cache = WatchedObjects(ttl=30, now=ticks)
    assert cache.lookup("sev-1") == (False, None)
    cache.observe("sev-1", sev(1), deleted=False)
    assert cache.lookup("sev-1") == (True, sev(1))
    ticks.at = 31
    assert cache.lookup("sev-1") == (False, None)


def test_the_watch_reports_changes_and_deletions_at_once() -> None:
    cache = WatchedObjects(now=Ticks())
    cache.observe("sev-1", sev(1), deleted=False)
    cache.observe("sev-1", sev(2), deleted=False)
    assert cache.lookup("sev-1") == (True, sev(2))
    cache.observe("sev-1", sev(2), deleted=True)
    assert cache.lookup("sev-1") == (False, None), "gone: asked of the API server again"


def test_a_get_answered_before_a_watch_event_does_not_overwrite_it() -> None:
    cache = WatchedObjects(now=Ticks())
    version = cache.version("sev-1")
    cache.observe("sev-1", sev(2), deleted=False)  # arrived while the GET was in flight
    cache.fetched("sev-1", sev(1), version)
    assert cache.lookup("sev-1") == (True, sev(2))
    cache.fetched("sev-1", sev(3), cache.version("sev-1"))
    assert cache.lookup("sev-1") == (True, sev(3))


def test_a_missing_name_is_remembered_until_it_is_too_old() -> None:
    """A 404 answers like a body: without it every pass over an incident whose service has
    no Service asked the API server again (eight GETs per incident per state change)."""
    ticks = Ticks()
    cache = WatchedObjects(ttl=30, missing_ttl=300, now=ticks)
    cache.fetched("sev-9", None, cache.version("sev-9"))
    ticks.at = 31
    assert cache.lookup("sev-9") == (True, None), "a 404 outlives a body's ttl"
    ticks.at = 301
    assert cache.lookup("sev-9") == (False, None), "an old 404 is asked again"


def test_a_watch_event_ends_a_remembered_404_at_once() -> None:
    cache = WatchedObjects(now=Ticks())
    cache.fetched("sev-1", None, cache.version("sev-1"))
    cache.observe("sev-1", sev(1), deleted=False)
    assert cache.lookup("sev-1") == (True, sev(1))
    cache.observe("sev-1", sev(1), deleted=True)
    assert cache.lookup("sev-1") == (False, None), "a deletion is not a remembered 404"


def test_a_404_answered_before_a_watch_event_does_not_hide_the_object() -> None:
    cache = WatchedObjects(now=Ticks())
    version = cache.version("sev-1")
    cache.observe("sev-1", sev(1), deleted=False)  # created while the GET was in flight
    cache.fetched("sev-1", None, version)
    assert cache.lookup("sev-1") == (True, sev(1))


def test_names_that_do_not_exist_are_kept_only_up_to_a_bound() -> None:
    """severityRef and spec.service are written by namespace tenants: a 404 per invented name
    would otherwise stay in the operator's memory for good. The newest are kept."""
    cache = WatchedObjects(now=Ticks(), missing_limit=100)
    for i in range(1000):
        name = f"invented-{i}"
        cache.fetched(name, None, cache.version(name))
    assert len(cache._missing) == 100  # the bound is the point of the test
    assert cache.lookup("invented-999") == (True, None)
    assert cache.lookup("invented-0") == (False, None), "the oldest is asked again"
    assert cache._known == {}
    assert cache._changes == {}


def test_answers_are_copies() -> None:
    cache = WatchedObjects(now=Ticks())
    cache.observe("sev-1", sev(1), deleted=False)
    _, body = cache.lookup("sev-1")
    assert body is not None
    body["spec"] = {}
    assert cache.lookup("sev-1") == (True, sev(1))


# --- the SLO collection: the cycle's listing from the watch --------------------------------


def slo(name: str, version: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "shop", "name": name, "resourceVersion": version}}


def test_the_collection_answers_only_after_a_listing_and_until_the_resync() -> None:
    clock = Ticks()
    slos = WatchedCollection(resync=300, now=clock)
    slos.observe("shop/a", slo("a", "1"), deleted=False)
    assert slos.snapshot() is None, "a watch alone never says it saw everything"
    slos.listed({"shop/a": slo("a", "1"), "shop/b": slo("b", "2")}, slos.versions())
    assert sorted(b["metadata"]["name"] for b in slos.snapshot() or []) == ["a", "b"]
    slos.observe("shop/b", slo("b", "3"), deleted=False)
    slos.observe("shop/a", slo("a", "1"), deleted=True)
    assert [b["metadata"]["resourceVersion"] for b in slos.snapshot() or []] == ["3"]
    clock.at += 301
    assert slos.snapshot() is None, "a deletion missed during an outage ends at the resync"


def test_what_the_watch_reported_during_a_listing_wins_over_the_listing() -> None:
    slos = WatchedCollection(now=Ticks())
    before = slos.versions()
    # While the LIST was in flight: a changed, b deleted, c created.
    slos.observe("shop/a", slo("a", "9"), deleted=False)
    slos.observe("shop/b", slo("b", "2"), deleted=False)
    slos.observe("shop/b", slo("b", "2"), deleted=True)
    slos.observe("shop/c", slo("c", "7"), deleted=False)
    slos.listed({"shop/a": slo("a", "1"), "shop/b": slo("b", "2")}, before)
    seen = {b["metadata"]["name"]: b["metadata"]["resourceVersion"] for b in slos.snapshot() or []}
    assert seen == {"a": "9", "c": "7"}


def test_the_collection_keeps_its_own_copy_of_each_event() -> None:
    slos = WatchedCollection(now=Ticks())
    body = slo("a", "1")
    slos.observe("shop/a", body, deleted=False)
    slos.listed({}, slos.versions() | {"shop/a": 0})
    body["metadata"]["resourceVersion"] = "changed by the sender"
    assert [b["metadata"]["resourceVersion"] for b in slos.snapshot() or []] == ["1"]


def test_the_collection_forgets_the_counters_of_what_is_gone() -> None:
    """A tenant creating and deleting SLOs must not grow the operator's memory for ever."""
    slos = WatchedCollection(now=Ticks())
    for i in range(50):
        slos.observe(f"shop/churn-{i}", slo(f"churn-{i}", "1"), deleted=False)
        slos.observe(f"shop/churn-{i}", slo(f"churn-{i}", "1"), deleted=True)
    slos.observe("shop/kept", slo("kept", "2"), deleted=False)
    slos.listed({"shop/kept": slo("kept", "2")}, slos.versions())
    assert set(slos.versions()) == {"shop/kept"}
    assert [b["metadata"]["name"] for b in slos.snapshot() or []] == ["kept"]


def test_the_collection_keeps_bodies_without_bookkeeping_that_repeats_the_spec() -> None:
    """At 10,000 SLOs each kept copy of the bodies cost 326 MB in full, 152 MB slim."""
    full = slo("a", "1") | {"spec": {"service": "checkout", "target": 99.9}}
    full["metadata"]["managedFields"] = [{"manager": "kopf", "fieldsV1": {"f:spec": {}}}]
    full["metadata"]["annotations"] = {
        "sre.dev/last-handled-configuration": '{"spec": {}}',
        "kubectl.kubernetes.io/last-applied-configuration": '{"spec": {}}',
        "team": "payments",
    }
    slos = WatchedCollection(now=Ticks())
    slos.observe("shop/a", full, deleted=False)
    listed = slim({**full, "metadata": {**full["metadata"], "name": "b"}})
    # "a" came by the watch during the listing (before: {}), "b" by the listing.
    kept = slos.listed({"shop/b": listed}, {})
    assert any(b is listed for b in kept), "a listing is handed over slim and kept as given"
    assert kept == (slos.snapshot() or [])
    assert {b["metadata"]["name"] for b in kept} == {"a", "b"}
    for body in kept:
        assert "managedFields" not in body["metadata"]
        assert body["metadata"]["annotations"] == {"team": "payments"}
        assert body["spec"] == full["spec"]
        assert body["metadata"]["resourceVersion"] == "1"
    assert "managedFields" in full["metadata"], "the sender's body is left as it was"


def test_a_slim_body_without_other_annotations_keeps_none() -> None:
    body = slo("a", "1")
    body["metadata"]["annotations"] = {"sre.dev/last-handled-configuration": "{}"}
    assert "annotations" not in slim(body)["metadata"]
    assert body["metadata"]["annotations"], "a copy: the original keeps its annotations"


def test_a_slim_body_leaves_out_kopfs_diff_base_in_status() -> None:
    body = slo("a", "1")
    body["status"] = {"observedGeneration": 1, "lastHandledConfiguration": '{"spec": {}}'}
    assert slim(body)["status"] == {"observedGeneration": 1}
    assert "lastHandledConfiguration" in body["status"], "a copy: the original keeps it"


# --- reads: one GET for everyone who missed at once ------------------------------------------


async def test_callers_that_miss_together_share_one_get() -> None:
    cache = WatchedObjects(now=Ticks())
    gets = 0
    release = asyncio.Event()

    async def fetch() -> dict[str, object]:
        nonlocal gets
        gets += 1
        await release.wait()
        return sev(1)

    readers = [asyncio.create_task(cache.read("sev-1", fetch)) for _ in range(50)]
    await asyncio.sleep(0)
    release.set()
    bodies = await asyncio.gather(*readers)
    assert gets == 1
    assert all(b == sev(1) for b in bodies)
    mine = bodies[0]
    assert mine is not None
    mine["spec"] = {}  # each caller has its own copy
    assert bodies[1] == sev(1)
    assert cache.lookup("sev-1") == (True, sev(1))
    assert await cache.read("sev-1", fetch) == sev(1), "then the cache answers"
    assert gets == 1


async def test_a_failed_get_fails_every_waiting_caller_and_is_not_kept() -> None:
    cache = WatchedObjects(now=Ticks())
    release = asyncio.Event()

    async def fetch() -> dict[str, object]:
        await release.wait()
        raise TemporaryError("API server unavailable")

    readers = [asyncio.create_task(cache.read("sev-1", fetch)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*readers, return_exceptions=True)
    assert all(isinstance(r, TemporaryError) for r in results)
    assert cache.lookup("sev-1") == (False, None)


async def test_when_the_reading_caller_is_cancelled_the_others_read_for_themselves() -> None:
    cache = WatchedObjects(now=Ticks())
    gets = 0
    first = asyncio.Event()

    async def fetch() -> dict[str, object]:
        nonlocal gets
        gets += 1
        if gets == 1:
            first.set()
            await asyncio.sleep(3600)  # cancelled before it answers
        return sev(2)

    owner = asyncio.create_task(cache.read("sev-1", fetch))
    await first.wait()
    waiter = asyncio.create_task(cache.read("sev-1", fetch))
    await asyncio.sleep(0)
    owner.cancel()
    assert await waiter == sev(2)
    assert gets == 2


def test_slim_bodies_share_their_strings_and_leaves_and_equal_the_original() -> None:
    """Two bodies decoded apart hold one copy of each text and of each equal leaf (issue 15:
    412,000 strings of which 93,000 distinct at 10,000 SLOs); each copy equals its original,
    values of other types or signs are not taken for equal ones, and the sender's body is
    not shared."""
    status = {
        "burnNow": "0x/3d",
        "n": [1.5, None],
        "burnRates": [{"window": "5m", "burnRate": 0}, {"window": "1h", "burnRate": 0}],
    }
    first, second = (
        json.loads(json.dumps(slo(name, "1") | {"status": status})) for name in ("a", "b")
    )
    third = json.loads(json.dumps(first).replace('"burnRate": 0', '"burnRate": 0.0'))
    fourth = json.loads(json.dumps(third).replace('"burnRate": 0.0', '"burnRate": -0.0'))
    assert first["status"]["burnNow"] is not second["status"]["burnNow"]
    kept = [slim_shared(b) for b in (first, second, third, fourth)]
    for copied, original in zip(kept, (first, second, third, fourth), strict=True):
        assert copied == original
        assert json.dumps(copied) == json.dumps(original)
    assert kept[0]["status"]["burnNow"] is kept[1]["status"]["burnNow"]
    key = next(k for k in kept[1]["status"] if k == "burnNow")
    assert key is next(k for k in kept[0]["status"] if k == "burnNow")
    assert kept[0]["status"]["n"] is kept[1]["status"]["n"]
    assert kept[0]["status"]["burnRates"][1] is kept[1]["status"]["burnRates"][1]
    assert kept[0]["status"]["burnRates"][1] is not kept[2]["status"]["burnRates"][1]
    assert kept[2]["status"]["burnRates"][1] is not kept[3]["status"]["burnRates"][1]
    assert kept[0]["status"]["n"] is not first["status"]["n"], "a copy of the sender's"
    assert kept[0]["metadata"] is not kept[1]["metadata"]
    own = slim(first), slim(second)
    assert own[0] == first
    assert own[0]["status"]["burnNow"] is own[1]["status"]["burnNow"], "strings interned"
    assert own[0]["status"]["n"] is not own[1]["status"]["n"], "a writable copy: no leaf shared"
    assert own[0]["status"]["n"] is not kept[0]["status"]["n"]


def test_the_collection_shares_leaves_between_the_bodies_it_keeps() -> None:
    slos = WatchedCollection(now=Ticks())
    for name in ("a", "b"):
        slos.observe(f"shop/{name}", slo(name, "1") | {"status": {"firing": []}}, deleted=False)
    a, b = sorted(slos.listed({}, {}), key=lambda body: body["metadata"]["name"])
    assert a["status"]["firing"] is b["status"]["firing"]
