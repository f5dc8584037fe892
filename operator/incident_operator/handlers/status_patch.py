"""Status written through kopf's patch without losing another writer's conditions.

kopf hands a handler the body of the event it reacts to; by the time its patch is sent the
object may hold conditions another writer added (the SLO engine's Burning, the comms layer's
ChatDegraded). A merge patch replaces the whole ``status.conditions`` list, so those would
vanish. The conditions therefore go as a kopf patch function: kopf replays it on the freshest
body it knows and sends a JSON patch guarded by that body's resourceVersion, carrying it over
to the next event when the object moved on in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from incident_operator.api.v1alpha1.convert import rebase_conditions


def patch_status(patch: kopf.Patch, body: Mapping[str, Any], status: Mapping[str, Any]) -> None:
    """Add ``status`` (computed from ``body``) to kopf's ``patch``; conditions merged by type."""
    rest = {k: v for k, v in status.items() if k != "conditions"}
    if rest:
        patch.status.update(rest)
    if "conditions" not in status:
        return
    base = list((body.get("status") or {}).get("conditions") or [])
    wanted = list(status["conditions"] or [])

    def rebase(fresh: kopf.RawBody) -> None:
        current = fresh.setdefault("status", {})
        current["conditions"] = rebase_conditions(base, wanted, current.get("conditions") or [])

    patch.fns.append(rebase)
