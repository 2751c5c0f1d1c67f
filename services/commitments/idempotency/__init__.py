"""Idempotency-Key on POST. A middleware (middleware.py) instead of a service and a router: it wraps every
request; no schemas.
"""
