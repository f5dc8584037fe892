"""Fixtures shared by the end-to-end modules (the cluster ones are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services.burn import Burn, burning_prometheus


@pytest.fixture(scope="module")
def burning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Burn]:
    """Prometheus with a burn in progress (job ``demo``: 100% errors for the last ten
    minutes, four healthy days before), scraping live. One per module."""
    with burning_prometheus(tmp_path_factory.mktemp("prometheus")) as burn:
        yield burn
