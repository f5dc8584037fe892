"""A service whose SLO burned on a known UTC day, for the uptime bars' tests.

``job`` has served 100 req/s since 12:00 UTC five days before today. Two days before today,
from 10:00 to 12:00 UTC, 5 of them per second failed: 36,000 bad requests of that day's
8,640,000, so its availability is 1 - 36,000 / 8,640,000 = 99.583 %. The first day holds
half a day of traffic (4,320,000 requests, none failed), the days before it have no data,
and today has traffic from 00:00 UTC up to the end of the data.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from incident_operator.domain.uptime import midnight
from tests.services.prometheus import Scenario

H, D = 3600, 86400
BAD_DAY_ERRORS, DAY_TOTAL = 5 * 2 * H, 100 * D
BAD_DAY_AVAILABILITY = 1 - BAD_DAY_ERRORS / DAY_TOTAL  # 0.99583...
BAD_DAY_AGO, FIRST_DAY_AGO = 2, 5
"""Days before today."""


def data_end() -> int:
    """Now to the minute, once at least 15 minutes of today (UTC) have passed."""
    now = int(time.time()) // 60 * 60
    if now % D < 15 * 60:
        time.sleep(15 * 60 - now % D + 60)
        now = int(time.time()) // 60 * 60
    return now


def today(end: int) -> date:
    return datetime.fromtimestamp(end, UTC).date()


def bad_day_scenario(end: int, job: str = "checkout") -> Scenario:
    """Rows are (seconds before ``end``, total/s, errors/s), placed on UTC midnights."""
    first = midnight(today(end) - timedelta(days=FIRST_DAY_AGO)) + timedelta(hours=12)
    bad = midnight(today(end) - timedelta(days=BAD_DAY_AGO))

    def ago(at: datetime) -> float:
        return end - at.timestamp()

    return Scenario(
        job,
        (
            (ago(first), 100, 0),
            (ago(bad + timedelta(hours=10)), 100, 5),
            (ago(bad + timedelta(hours=12)), 100, 0),
        ),
    )
