"""Parsing PromQL gives its C heap back: trimmed after every parse, never on cached cycles."""

from __future__ import annotations

import platform
from datetime import timedelta

import pytest

from incident_operator.adapters import native_memory, prometheus
from incident_operator.adapters.prometheus import PrometheusMetrics
from incident_operator.domain.sli import Provider, RatioSli, RecordedSli, batch_plan

WINDOWS = [timedelta(minutes=5), timedelta(hours=1)]


def slis(n: int) -> dict[str, RatioSli | RecordedSli]:
    return {
        f"ns/slo-{i}": RatioSli(
            errors=f'rate(http_requests_total{{job="j{i}",code="500"}}[{{{{window}}}}])',
            total=f'rate(http_requests_total{{job="j{i}"}}[{{{{window}}}}])',
        )
        for i in range(n)
    }


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(prometheus, "release_free_memory", lambda: calls.append("trim"))
    return calls


def test_route_trims_after_parsing_new_indicators_only(trims: list[str]) -> None:
    metrics = PrometheusMetrics("http://127.0.0.1:9")
    problems, _, batched, _ = metrics._route(slis(3), WINDOWS, None)
    assert not problems
    assert all(len(b) == 3 for b in batched.values())
    assert trims == ["trim"]
    metrics._route(slis(3), WINDOWS, None)  # unchanged SLOs: nothing parsed, nothing to give
    assert trims == ["trim"]
    metrics._route(slis(4), WINDOWS, None)  # one new SLO: parsed, trimmed
    assert trims == ["trim", "trim"]


def test_verifying_a_batch_trims_after_its_parse(trims: list[str]) -> None:
    metrics = PrometheusMetrics("http://127.0.0.1:9")
    _, recorded, batched, _ = metrics._route(slis(3), WINDOWS, None)
    trims.clear()
    assert metrics._verify(batch_plan(batched[WINDOWS[0]], recorded, WINDOWS[0]))
    assert trims == ["trim"]
    # Recorded SLIs only: nothing of the user's to parse, nothing to trim.
    only_recorded = batch_plan({}, {"ns/r": RecordedSli(Provider.SLOTH, "svc")}, WINDOWS[0])
    assert metrics._verify(only_recorded)
    assert trims == ["trim"]


def test_malloc_trim_is_found_exactly_where_the_libc_is_glibc() -> None:
    native_memory.release_free_memory()  # never raises, whatever the libc
    found = native_memory._malloc_trim() is not None
    assert found == (platform.libc_ver()[0] == "glibc")


def test_arenas_are_capped_on_glibc_unless_the_environment_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    glibc = platform.libc_ver()[0] == "glibc"
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert native_memory.limit_arenas() is glibc
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # the operator's environment wins
    assert native_memory.limit_arenas() is False
