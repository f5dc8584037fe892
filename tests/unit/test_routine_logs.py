"""kopf's per-handler success lines are dropped unless --verbose; everything else is kept."""

from __future__ import annotations

import logging

import pytest

from incident_operator.handlers.runner import RoutineSuccess


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
