"""What the tests build their inputs from, in one place.

``objects``: Kubernetes bodies (Incident, Severity) as the API server returns them;
``alertmanager``: webhook payloads as Alertmanager sends them. The in-memory doubles of the
ports live beside them in ``tests/fakes/ports`` (the clock is ``FakeClock`` there).
"""
