"""Where kopf keeps its bookkeeping on our objects, defined once.

The operator configures kopf with these names (handlers/settings.py); the watch caches drop
the diff base, which repeats the whole spec (adapters/watch_cache.py); ``kubectl incident
export`` leaves all of it out of the manifest for Git (cli/export.py). A GitOps tool that
applied kopf's diff base would own it and put the exported value back on every sync, so kopf
would see the same change again and again: the operator and Git would fight over an
annotation neither person nor commit ever meant. The diff base is kept in status now
(``DIFF_BASE_FIELD``), where no manifest carries it; earlier versions' annotation is still
read, dropped from exports and removed by the operator.
"""

from __future__ import annotations

from incident_operator import GROUP

KOPF_PREFIX = GROUP
"""kopf's annotations go under our group, not ``kopf.zalando.org``."""
DIFF_BASE_FIELD = "lastHandledConfiguration"
"""``status.lastHandledConfiguration``: the spec, labels and annotations as kopf last handled
them (JSON), what it diffs a change against (``CommonStatus``)."""
DIFF_BASE = f"{KOPF_PREFIX}/last-handled-configuration"
"""Where versions before the diff base moved to status kept it: still read, then removed."""
KOPF_MARKS = frozenset({DIFF_BASE, f"{KOPF_PREFIX}/kopf-managed", f"{KOPF_PREFIX}/touch-dummy"})
"""kopf's annotations under our prefix that outlive a handling pass: the diff base, the mark
that kopf manages the object, and the dummy it touches to wake itself."""

LIFECYCLE = "lifecycle"
CATALOG = "catalog"
CHANGE_CORRELATION = "change-correlation"
GENERATE = "generate"
"""The ids of the change handlers of Incidents (the first three) and Postmortems (the last):
kopf names its per-handler progress annotations after them."""
KOPF_PROGRESS = frozenset(
    f"{KOPF_PREFIX}/{handler}" for handler in (LIFECYCLE, CATALOG, CHANGE_CORRELATION, GENERATE)
)
"""kopf's progress of each handler, on the object while a change is handled in more than one
pass (a handler that failed and waits for its retry; before change correlation became a
timer, every Incident's creation). An export taken then carried them into Git, and the GitOps
tool kept telling kopf that the creation was still unfinished."""
