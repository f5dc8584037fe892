"""Status written through kopf's patch without losing another writer's conditions.

kopf hands a handler the body of the event it reacts to; by the time its patch is sent the
object may hold conditions another writer added (the SLO engine's Burning, the comms layer's
ChatDegraded). A merge patch replaces the whole ``status.conditions`` list, so those would
vanish. The status therefore goes as one kopf patch function: kopf replays it on the freshest
body it knows and sends a single JSON patch guarded by that body's resourceVersion (carried
over to the next event when the object moved on in between). One request, so readers never
see the new fields without their conditions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import kopf

from incident_operator.api.merge_patch import merge_patch
from incident_operator.api.v1alpha1.convert import merge_timeline, rebase_conditions


def patch_status(
    patch: kopf.Patch,
    body: Mapping[str, Any],
    status: Mapping[str, Any],
    timeline: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Add ``status`` (computed from ``body``, merge-patch semantics) to kopf's ``patch``.

    Conditions are merged by type: only those this writer changed replace the fresh ones.
    ``timeline`` entries are merged into the fresh timeline by key, in the same request: the
    entry that says why the phase moved lands with the phase (and costs no write of its own).
    """
    if not status and not timeline:
        return
    rest = {k: v for k, v in status.items() if k != "conditions"}
    base = list((body.get("status") or {}).get("conditions") or [])
    wanted = list(status.get("conditions") or [])
    entries = list(timeline)

    def apply(fresh: kopf.RawBody) -> None:
        current = fresh["status"] = merge_patch(fresh.get("status") or {}, rest)
        if "conditions" in status:
            current["conditions"] = rebase_conditions(base, wanted, current.get("conditions") or [])
        if entries:
            current.update(merge_timeline(current, entries) or {})

    patch.fns.append(apply)
