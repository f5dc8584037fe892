"""incident-operator: SRE incident management reconciled by a Kubernetes operator."""

import sys

GROUP = "sre.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
__version__ = "0.1.0"

# httpx imports its own command line (``httpx._main``) whenever click is installed, and kopf
# installs click: with it come rich and pygments, 5 MB resident in every operator and plugin
# process that never runs ``httpx`` from a shell (issue 15). httpx falls back to a stub
# ``main`` when the import fails, which a ``None`` entry makes it do. Only our processes are
# affected, and only if httpx was not imported first.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
