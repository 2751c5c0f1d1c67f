"""The read model: tables filled from the commitments and notifications streams (models.py), the handlers
that apply each event (commitments.py, notifications.py), the consumer that feeds them (projector.py) and the
replay into a fresh database (rebuild.py)."""
