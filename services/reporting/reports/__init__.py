"""The reports: queries on the read model (repository.py), the figures worked out and scoped to the caller
(service.py) as pydantic schemas (schemas.py), and the REST endpoints (router.py). Exports and pages reuse
the service: it returns the same schemas whatever the format."""
