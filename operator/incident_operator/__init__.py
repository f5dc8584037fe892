"""incident-operator: SRE incident management reconciled by a Kubernetes operator."""

GROUP = "sre.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
__version__ = "0.1.0"
