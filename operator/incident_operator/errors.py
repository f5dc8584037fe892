"""Our exception hierarchy; third-party errors are translated into it at the adapter boundary.

Handlers map these onto kopf's retry semantics in one place (handlers/errors.py).
"""

from __future__ import annotations


class IncidentOperatorError(Exception):
    """Base of every error the operator raises on purpose."""


class TemporaryError(IncidentOperatorError):
    """Worth retrying: a dependency is unavailable, throttling or timing out."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Conflict(TemporaryError):
    """The object changed since we read it (HTTP 409): read it again and decide again.

    Writers that rebuild a shared list (``status.conditions``, ``status.timeline``) from what
    they read send that read's resourceVersion, so a concurrent writer makes the request
    fail here instead of one of them silently losing the other's entries.
    """


class PermanentError(IncidentOperatorError):
    """Retrying cannot help until a human changes something (spec, RBAC, configuration)."""


class NotFound(PermanentError):
    """The API server answered 404: the object (or the kind: its CRD) does not exist.

    Callers for whom absence is an answer catch it (``get`` returns None); for the rest it
    is just permanent.
    """


class FieldOwnedElsewhere(PermanentError):
    """A field to change was applied by another manager (Git): changing it here would fight.

    ``fields`` maps each field path (``.spec.state``) to the manager that owns it.
    """

    def __init__(self, message: str, *, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.fields = fields


class CommandRefused(PermanentError):
    """A chat command is understood but cannot apply; the message is shown to the user."""


class InvalidSpecError(PermanentError):
    """The object's spec cannot be understood even though the API server accepted it."""


class MetricsUnavailable(TemporaryError):
    """Prometheus cannot be reached or answered with an error: never declare, never resolve."""


class QueryRejected(MetricsUnavailable):
    """Prometheus answered and refused this query (400 bad data, 422 execution error): the
    query's fault, so only the SLOs in it are affected (see adapters/prometheus.py)."""


class InvalidIndicator(InvalidSpecError):
    """An SLO's PromQL cannot be measured safely: it does not parse on its own, uses the
    label the operator reserves, or is too large. Only that SLO is affected."""


class DeliveryThrottled(TemporaryError):
    """A chat, pager or webhook service answered 429: wait ``retry_after`` seconds."""


class DeliveryUnavailable(TemporaryError):
    """A chat, pager or webhook service failed (5xx, timeout, connection): back off."""


class DeliveryRejected(PermanentError):
    """The service refused the request itself (bad token, unknown channel, invalid payload).

    The message carries the service's error code (e.g. Slack ``channel_not_found``), never a
    token, signing secret or routing key.
    """

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class ChannelNameTaken(DeliveryRejected):
    """Slack ``name_taken``: the caller retries with a suffixed name."""


class ExpressionError(InvalidSpecError):
    """A workflow's CEL expression does not compile, names an unknown variable, or failed
    when evaluated (a missing key, a type mismatch, a non-bool result). Only that workflow
    is affected."""
