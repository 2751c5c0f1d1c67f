"""Idempotency-Key on POST. A middleware (middleware.py) instead of a service and a router: it wraps every
request; no schemas. retention.py: how long records are kept, and their purge (run by the scanner process).
"""
