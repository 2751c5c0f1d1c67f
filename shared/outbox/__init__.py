"""The transactional outbox, for any service: events written in the same transaction as the change they
report (models.py, recorder.py), and the relay that publishes them to the service's JetStream stream
(relay.py, its queries in repository.py). Each service declares its own table with `OutboxColumns` and binds
the relay to it."""
