"""Build-time: pydantic JSON schema -> structural OpenAPI v3 -> CustomResourceDefinition YAML."""
