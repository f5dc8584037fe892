"""kopf's diff base in status: one status request per handled change, a change never handled
twice because its record is still on its way, and objects an earlier version handled (their
diff base in an annotation) carry on without being handled again."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace
from typing import Any, cast

import kopf

from incident_operator.api.bookkeeping import DIFF_BASE, DIFF_BASE_FIELD
from incident_operator.api.v1alpha1.incident import Incident
from incident_operator.handlers.settings import DiffBaseInStatus, apply

SPEC = {"title": "Checkout returns 5xx", "service": "checkout", "severityRef": "sev-2"}


def incident(
    annotations: dict[str, str] | None = None,
    diff_base: str | None = None,
    spec: dict[str, Any] | None = None,
) -> kopf.Body:
    status: dict[str, Any] = {DIFF_BASE_FIELD: diff_base} if diff_base else {}
    raw: dict[str, Any] = {
        "apiVersion": "sre.dev/v1alpha1",
        "kind": "Incident",
        "metadata": {
            "name": "web-down",
            "namespace": "shop",
            "uid": "u-1",
            "generation": 2,
            "resourceVersion": "7",
            "annotations": annotations or {},
        },
        "spec": spec or SPEC,
        "status": {"phase": "triage", **status},
    }
    return kopf.Body(cast(kopf.RawBody, raw))


def sent(patch: kopf.Patch, body: kopf.Body) -> Any:
    """The JSON patch kopf sends for the patch's functions, and the body once it landed."""
    ops = patch.as_json_patch(body)
    landed = copy.deepcopy(dict(body))
    for fn in patch.fns:
        fn(cast(kopf.RawBody, landed))
    return ops, landed


def recorded(storage: DiffBaseInStatus, body: kopf.Body) -> kopf.Body:
    """The end of a cause: kopf has ``storage`` record ``body``; the object as it landed."""
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    _, landed = sent(patch, body)
    return kopf.Body(cast(kopf.RawBody, landed))


def test_the_operator_keeps_kopfs_diff_base_in_status() -> None:
    settings = kopf.OperatorSettings()
    apply(settings)
    assert isinstance(settings.persistence.diffbase_storage, DiffBaseInStatus)


def test_the_diff_base_goes_out_with_the_status_in_one_json_patch() -> None:
    storage = DiffBaseInStatus()
    body = incident()
    essence = storage.build(body=body)
    patch = kopf.Patch()
    patch.fns.append(lambda fresh: fresh["status"].update(phase="investigating"))
    storage.store(body=body, patch=patch, essence=essence)
    assert dict(patch) == {}, "no merge patch: kopf would send it as a request of its own"
    ops, landed = sent(patch, body)
    assert {op["path"] for op in ops} == {"/status/phase", f"/status/{DIFF_BASE_FIELD}"}
    assert json.loads(landed["status"][DIFF_BASE_FIELD])["spec"] == SPEC
    assert landed["status"]["phase"] == "investigating"
    handled = kopf.Body(cast(kopf.RawBody, landed))
    assert storage.fetch(body=handled) == essence
    assert storage.build(body=handled) == essence, "the diff base is no part of what is diffed"
    assert DiffBaseInStatus().fetch(body=handled) == essence, "after a restart: the status"


def test_a_record_still_on_its_way_is_not_taken_for_a_new_change() -> None:
    """Another writer's status write beat kopf's patch: kopf sends it with the next event.
    That event must not look like the same change again (handled twice, counted twice)."""
    storage = DiffBaseInStatus()
    before = incident(diff_base=json.dumps({"spec": {**SPEC, "state": "triage"}}))
    changed = incident(
        spec={**SPEC, "state": "investigating"}, diff_base=before.status[DIFF_BASE_FIELD]
    )
    assert storage.fetch(body=changed) != storage.build(body=changed), "a change to handle"
    storage.store(body=changed, patch=kopf.Patch(), essence=storage.build(body=changed))
    # The patch did not land (409/422): the next event still shows the old record.
    assert storage.fetch(body=changed) == storage.build(body=changed), "nothing new to handle"
    # A real change after it is still seen.
    again = incident(spec={**SPEC, "state": "resolved"}, diff_base=before.status[DIFF_BASE_FIELD])
    assert storage.fetch(body=again) != storage.build(body=again)


def test_a_record_once_landed_is_read_from_the_object_again() -> None:
    storage = DiffBaseInStatus()
    body = incident()
    landed = recorded(storage, body)
    assert storage.fetch(body=landed) == storage.build(body=body)
    edited = copy.deepcopy(dict(landed))
    edited["status"][DIFF_BASE_FIELD] = json.dumps({"spec": {}})
    assert storage.fetch(body=kopf.Body(cast(kopf.RawBody, edited))) == {"spec": {}}


def test_the_status_model_and_schema_keep_the_field() -> None:
    """Pruned by the API server, the diff base would be gone on every event: kopf would take
    every incident for a new one."""
    stored = json.dumps({"spec": SPEC})
    model = Incident.model_validate(incident(diff_base=stored))
    assert model.status is not None
    dumped = model.status.model_dump(by_alias=True, exclude_none=True)
    assert dumped[DIFF_BASE_FIELD] == stored


def test_an_earlier_versions_annotation_is_read_then_removed() -> None:
    storage = DiffBaseInStatus()
    legacy = json.dumps(storage.build(body=incident()))
    body = incident({DIFF_BASE: legacy, "sre.dev/kopf-managed": "yes"})
    assert storage.fetch(body=body) == json.loads(legacy), "no change seen: nothing handled again"
    assert storage.build(body=body) == storage.fetch(body=body)
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    assert dict(patch) == {"metadata": {"annotations": {DIFF_BASE: None}}}
    _, landed = sent(patch, body)
    assert json.loads(landed["status"][DIFF_BASE_FIELD]) == json.loads(legacy)


def test_an_object_never_handled_has_no_diff_base() -> None:
    assert DiffBaseInStatus().fetch(body=incident()) is None


def test_a_malformed_diff_base_counts_as_none_and_is_written_again() -> None:
    """Set by hand (only status writers can): kopf would fail on every event of the object.
    As absent, the object is handled as new once, and the diff base is written again."""
    storage = DiffBaseInStatus()
    legacy = json.dumps(storage.build(body=incident()))
    for bad in ("{not json", "[]", '"spec"'):
        assert storage.fetch(body=incident(diff_base=bad)) is None
        assert storage.fetch(body=incident({DIFF_BASE: legacy}, diff_base=bad)) == json.loads(
            legacy
        ), "an earlier version's record is still read"
    repaired = recorded(storage, incident(diff_base="{not json"))
    assert DiffBaseInStatus().fetch(body=repaired) == storage.build(body=incident())


def handled(storage: DiffBaseInStatus, body: kopf.Body, *, finished: bool) -> None:
    """A pass of kopf's changing cause: the lifecycle is asked which handlers run (some of
    them finished in an earlier pass, or none)."""
    state = {"lifecycle": SimpleNamespace(active=True, finished=finished)}
    new = storage.build(body=body)
    storage.lifecycle([], state=state, body=body, reason=kopf.Reason.UPDATE, new=new)


def test_an_edit_while_a_handler_waits_for_its_retry_stays_a_change() -> None:
    """Pass 1 ran the lifecycle on ``investigating`` while another handler failed; the state
    was edited to ``resolved`` before the retry. Recording the retry pass's body would make
    kopf take the edit as handled: the incident would stay open."""
    storage = DiffBaseInStatus()
    first = incident(spec={**SPEC, "state": "investigating"})
    handled(storage, first, finished=False)
    edited = incident(spec={**SPEC, "state": "resolved"})
    handled(storage, edited, finished=True)  # the retry pass: the lifecycle is done already
    after = recorded(storage, edited)
    assert storage.fetch(body=after) == storage.build(body=first)
    assert storage.fetch(body=after) != storage.build(body=after), "the edit: a change to handle"
    # That change, handled in one pass, is recorded as it was seen.
    handled(storage, after, finished=False)
    assert storage.fetch(body=recorded(storage, after)) == storage.build(body=after)


def test_a_cause_handled_in_one_pass_records_its_body() -> None:
    storage = DiffBaseInStatus()
    body = incident(spec={**SPEC, "state": "investigating"})
    handled(storage, body, finished=False)
    assert storage.fetch(body=recorded(storage, body)) == storage.build(body=body)


def test_a_retry_without_an_edit_records_the_same_body() -> None:
    """A handler that fails for good ends the cause too: no change seen, nothing runs again."""
    storage = DiffBaseInStatus()
    body = incident(spec={**SPEC, "state": "investigating"})
    handled(storage, body, finished=False)
    handled(storage, body, finished=True)
    after = recorded(storage, body)
    assert storage.fetch(body=after) == storage.build(body=after)
