"""The PrometheusRule handlers exist only when the operator maintains rules."""

from __future__ import annotations

import kopf

from incident_operator.handlers import prometheus_rules, runner


def slo_handler_ids(registry: kopf.OperatorRegistry) -> list[str]:
    return [
        h.id
        for h in registry._changing.get_all_handlers()
        if h.selector is not None and h.selector.any_name == "servicelevelobjectives"
    ]


def test_importing_the_handlers_registers_nothing_on_slos() -> None:
    """Without --manage-prometheus-rules kopf must not run a no-op for every SLO."""
    assert runner.HANDLER_MODULES  # imported: every handler module has registered
    assert "prometheus-rule" not in slo_handler_ids(kopf.get_default_registry())


def test_register_adds_resume_create_and_update() -> None:
    registry = kopf.OperatorRegistry()
    prometheus_rules.register(registry)
    reasons = {
        (h.initial, h.reason)
        for h in registry._changing.get_all_handlers()
        if h.id == "prometheus-rule"
    }
    assert reasons == {(True, None), (None, kopf.Reason.CREATE), (None, kopf.Reason.UPDATE)}


def test_no_timer_or_daemon_runs_on_slos() -> None:
    """Any timer or daemon on a resource makes kopf keep every object's whole last body
    (``DaemonsMemory.live_fresh_body``, managedFields included) for the object's lifetime:
    ~33 MB at 1,000 SLOs (issue 15). Work on every SLO belongs in the SLO loop."""
    assert runner.HANDLER_MODULES
    spawning = [
        h.id
        for h in kopf.get_default_registry()._spawning.get_all_handlers()
        if h.selector is not None and h.selector.any_name == "servicelevelobjectives"
    ]
    assert spawning == []
