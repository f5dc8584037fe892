"""The chaos suite: incident flows on the real control plane while faults are injected.

``python -m tests.chaos`` (``make chaos``) runs the full suite; ``test_chaos_smoke.py`` runs a
small one inside ``make test``. See docs/reliability.md.
"""
