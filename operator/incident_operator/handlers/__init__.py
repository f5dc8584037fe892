"""The only package that imports kopf: thin handlers that validate, call a service, write status."""
