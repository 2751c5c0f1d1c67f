"""Integration events written in the change's transaction, and the relay that publishes them to NATS: the
generic outbox of shared/outbox/ bound to this service's `outbox` table. recorder.py and relay.py stand for
the service: nothing here is served over HTTP (no router, no schemas).
"""
