"""The newest incident body the comms sync may act on without a GET (issue 15)."""

from __future__ import annotations

from typing import Any

from incident_operator.services.latest_bodies import LatestBodies

KEY = ("shop", "checkout")


def at(version: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "checkout", "resourceVersion": version}, "status": status}


def test_a_watch_body_is_used_until_an_older_one_arrives() -> None:
    bodies = LatestBodies()
    bodies.seen(KEY, at("10", phase="triage"))
    bodies.seen(KEY, at("9", phase="stale"))  # a late event never replaces a newer body
    assert bodies.fresh(KEY) == at("10", phase="triage")


def test_nothing_older_than_the_own_last_write_is_handed_out() -> None:
    bodies = LatestBodies()
    bodies.wrote(KEY, at("20", posted=["entry-1"]))
    bodies.release(KEY)  # the sync ended; the floor stays
    bodies.seen(KEY, at("19"))  # an event from before that write, delivered late
    assert bodies.fresh(KEY) is None  # the caller reads fresh
    bodies.seen(KEY, at("21", posted=["entry-1"]))
    assert bodies.fresh(KEY) == at("21", posted=["entry-1"])


def test_the_own_write_answer_is_fresh_and_wins_over_older_events() -> None:
    bodies = LatestBodies()
    bodies.seen(KEY, at("30"))
    bodies.wrote(KEY, at("31", posted=["a"]))
    bodies.seen(KEY, at("30"))
    assert bodies.fresh(KEY) == at("31", posted=["a"])


def test_opaque_versions_are_never_trusted() -> None:
    bodies = LatestBodies()
    bodies.seen(KEY, at("abc"))
    assert bodies.fresh(KEY) is None
    bodies.wrote(KEY, at("def"))
    assert bodies.fresh(KEY) is None


def test_release_drops_the_body_and_forget_drops_everything() -> None:
    bodies = LatestBodies()
    bodies.wrote(KEY, at("5"))
    bodies.release(KEY)
    assert bodies.fresh(KEY) is None
    assert len(bodies) == 0
    bodies.seen(KEY, at("4"))
    assert bodies.fresh(KEY) is None  # still below the floor
    bodies.forget(KEY)
    bodies.seen(KEY, at("4"))
    assert bodies.fresh(KEY) == at("4")  # a new object of that name starts afresh
