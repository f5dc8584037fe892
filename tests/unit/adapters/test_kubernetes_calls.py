"""adapters.kubernetes.call / call_async: the one place a client error becomes ours."""

from __future__ import annotations

import threading
from typing import Any, NoReturn, cast

import pytest
import urllib3
from kubernetes.client import CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from incident_operator.adapters.kubernetes import (
    api_status,
    call,
    call_async,
    create_object,
    get_object,
)
from incident_operator.errors import (
    Conflict,
    NotFound,
    PermanentError,
    TemporaryError,
)


def failing(status: int, headers: dict[str, str] | None = None) -> Any:
    def fn(*_: Any, **__: Any) -> NoReturn:
        exc = ApiException(status=status, reason="Why")
        exc.headers = headers
        raise exc

    return fn


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, PermanentError),
        (403, PermanentError),
        (404, NotFound),
        (409, Conflict),
        (422, PermanentError),
        (429, TemporaryError),
        (503, TemporaryError),
    ],
)
def test_api_errors_become_ours(status: int, kind: type[Exception]) -> None:
    with pytest.raises(kind) as raised:
        call("get incident shop/x", failing(status))
    assert type(raised.value) is kind
    assert str(raised.value) == f"get incident shop/x: {status} Why"
    assert isinstance(raised.value.__cause__, ApiException)
    assert api_status(raised.value) == status


def test_retry_after_is_kept() -> None:
    with pytest.raises(TemporaryError) as raised:
        call("list slos", failing(429, {"Retry-After": "7"}))
    assert raised.value.retry_after == 7.0


@pytest.mark.parametrize(
    "exc", [urllib3.exceptions.ProtocolError("reset"), ConnectionRefusedError("refused")]
)
def test_connection_problems_are_temporary(exc: Exception) -> None:
    def fn() -> NoReturn:
        raise exc

    with pytest.raises(TemporaryError) as raised:
        call("list slos", fn)
    assert type(raised.value) is TemporaryError
    assert str(raised.value).startswith("list slos: ")
    assert raised.value.__cause__ is exc
    assert api_status(raised.value) is None


def test_arguments_pass_through_and_the_result_comes_back() -> None:
    def fn(*args: Any, **kwargs: Any) -> Any:
        return args, kwargs

    assert call("x", fn, 1, "a", label_selector="k=v") == ((1, "a"), {"label_selector": "k=v"})


class Refused(PermanentError):
    pass


def refine(exc: ApiException, what: str) -> Exception | None:
    return Refused(f"refused: {what}") if exc.status == 403 else None


def test_refine_decides_first_and_translate_the_rest() -> None:
    with pytest.raises(Refused, match="refused: list secrets"):
        call("list secrets", failing(403), refine=refine)
    with pytest.raises(NotFound):
        call("list secrets", failing(404), refine=refine)


async def test_call_async_runs_off_the_event_loop_and_translates_the_same() -> None:
    loop_thread = threading.get_ident()

    def where() -> int:
        return threading.get_ident()

    assert await call_async("x", where) != loop_thread
    with pytest.raises(Refused):
        await call_async("list secrets", failing(403), refine=refine)
    with pytest.raises(Conflict, match="patch incident shop/x: 409 Why"):
        await call_async("patch incident shop/x", failing(409), "a", field_manager="m")


class FakeCustomObjects:
    """Stands in for the client's CustomObjectsApi: one stored object, or a failure."""

    def __init__(self, stored: dict[str, Any] | None, create_status: int | None = None) -> None:
        self.stored = stored
        self.create_status = create_status

    def get_namespaced_custom_object(self, *args: Any) -> dict[str, Any]:
        if self.stored is None:
            raise ApiException(status=404, reason="Not Found")
        return self.stored

    def get_cluster_custom_object(self, *args: Any) -> dict[str, Any]:
        return self.get_namespaced_custom_object(*args)

    def create_namespaced_custom_object(self, *args: Any) -> dict[str, Any]:
        if self.create_status is not None:
            raise ApiException(status=self.create_status, reason="Conflict")
        self.stored = dict(args[-1])
        return self.stored


INCIDENT = {"metadata": {"name": "x", "namespace": "shop"}}


def api(stored: dict[str, Any] | None, create_status: int | None = None) -> CustomObjectsApi:
    return cast(CustomObjectsApi, FakeCustomObjects(stored, create_status))


async def test_get_object_answers_none_for_a_missing_one() -> None:
    assert await get_object(api(None), "incidents", "x", "shop") is None
    found = api({"kind": "Severity"})
    assert await get_object(found, "severities", "sev1", None) == {"kind": "Severity"}


async def test_create_object_returns_the_existing_one_on_409_else_raises() -> None:
    created = api(None)
    assert await create_object(created, "incidents", "incident", "shop", INCIDENT) == INCIDENT
    exists = api({"kind": "Incident"}, create_status=409)
    assert await create_object(exists, "incidents", "incident", "shop", INCIDENT) == {
        "kind": "Incident"
    }
    with pytest.raises(Conflict, match="create incident shop/x: 409"):
        await create_object(api(None, 409), "incidents", "incident", "shop", INCIDENT)
