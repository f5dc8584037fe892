"""The custom resources users write, as pydantic models: the single source of the CRD schemas."""
