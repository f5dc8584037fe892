"""The Severity cache the store reads before a GET: a miss or an old entry is never an answer."""

from __future__ import annotations

from incident_operator.adapters.watch_cache import WatchedObjects


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


def test_names_that_do_not_exist_are_not_kept() -> None:
    """severityRef is written by namespace tenants: a 404 per invented name would otherwise
    stay in the operator's memory for good."""
    cache = WatchedObjects(now=Ticks())
    for i in range(1000):
        name = f"invented-{i}"
        cache.fetched(name, None, cache.version(name))
    assert all(cache.lookup(f"invented-{i}") == (False, None) for i in range(1000))
    assert cache._known == {}  # the bound is the point of the test
    assert cache._changes == {}


def test_answers_are_copies() -> None:
    cache = WatchedObjects(now=Ticks())
    cache.observe("sev-1", sev(1), deleted=False)
    _, body = cache.lookup("sev-1")
    assert body is not None
    body["spec"] = {}
    assert cache.lookup("sev-1") == (True, sev(1))
