"""Local HTTP fakes of external SaaS APIs, following their real contracts (see each module)."""
