"""resourceVersions compared as KEP-5504 and client-go's CompareResourceVersion do."""

from __future__ import annotations

import pytest

from incident_operator.domain import versions


@pytest.mark.parametrize(
    ("a", "b", "order"),
    [
        ("9", "10", -1),  # by length first: not as strings
        ("10", "9", 1),
        ("123", "123", 0),
        ("124", "123", 1),
        ("99999999999999999999", "100000000000000000000", -1),  # no integer size limit
        ("012", "12", None),  # a leading zero is not a valid resourceVersion
        ("0", "1", None),  # "0" means "any" in list/watch, never a live version
        ("", "1", None),
        ("12a", "12", None),
        ("١٢", "12", None),  # non-ASCII digits
    ],
)
def test_compare(a: str, b: str, order: int | None) -> None:
    assert versions.compare(a, b) == order


def test_at_least_is_false_when_it_cannot_be_told() -> None:
    body = {"metadata": {"resourceVersion": "opaque-etcd3-xyz"}}
    assert not versions.at_least(body, "5")
    assert versions.at_least({"metadata": {"resourceVersion": "7"}}, "7")
    assert not versions.at_least({"metadata": {}}, "7")
