"""kopf's per-handler success lines and answered probes/scrapes are dropped unless --verbose;
everything else is kept."""

from __future__ import annotations

import logging

import pytest

from incident_operator.handlers.runner import RoutineSuccess
from incident_operator.web.app import RoutineProbes


@pytest.fixture
def kopf_objects(caplog: pytest.LogCaptureFixture) -> logging.Logger:
    logger = logging.getLogger("kopf.objects.test-routine")
    logger.addFilter(RoutineSuccess())
    caplog.set_level(logging.INFO, logger=logger.name)
    return logger


def test_success_lines_are_dropped(
    kopf_objects: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    kopf_objects.info("Handler 'sync_comms_on_change' succeeded.")
    kopf_objects.info("Timer 'comms-retry' succeeded.")
    assert caplog.messages == []


def test_failures_and_summaries_are_kept(
    kopf_objects: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    kopf_objects.info("Creation is processed: 2 succeeded; 0 failed.")
    kopf_objects.error("Handler 'lifecycle' failed temporarily: conflict")
    kopf_objects.warning("Handler 'x' succeeded.")  # not INFO: not routine
    assert caplog.messages == [
        "Creation is processed: 2 succeeded; 0 failed.",
        "Handler 'lifecycle' failed temporarily: conflict",
        "Handler 'x' succeeded.",
    ]


def access(logger: logging.Logger, line: str, status: int) -> None:
    """As aiohttp's AccessLogger logs: the formatted line, the parts in ``extra``."""
    logger.info(
        f'127.0.0.1 "{line}" {status}',
        extra={"first_request_line": line, "response_status": status},
    )


def test_answered_probes_and_scrapes_are_dropped_the_rest_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("aiohttp.access.test-routine")
    logger.addFilter(RoutineProbes())
    caplog.set_level(logging.INFO, logger=logger.name)
    access(logger, "GET /healthz HTTP/1.1", 200)
    access(logger, "GET /metrics?x=1 HTTP/1.1", 200)
    access(logger, "GET /healthz HTTP/1.1", 503)  # a failing probe is news
    access(logger, "GET /api/v2/summary.json HTTP/1.1", 200)
    access(logger, "POST /metrics HTTP/1.1", 405)
    access(logger, "GET /metricsX HTTP/1.1", 404)
    assert [m.split('"')[1] for m in caplog.messages] == [
        "GET /healthz HTTP/1.1",
        "GET /api/v2/summary.json HTTP/1.1",
        "POST /metrics HTTP/1.1",
        "GET /metricsX HTTP/1.1",
    ]
