"""In-memory fakes of the operator's ports (``incident_operator.adapters.*port*``), for tests.

Each keeps the semantics the services rely on from the real adapter (the API server's
preconditions, Slack's name rules, PagerDuty's dedup keys, ...) without any I/O. They live in
``tests/``, not the package, so that the wheel and the image carry no test doubles; the
wire-level fakes of the SaaS APIs (HTTP servers) are the modules one level up.
"""
