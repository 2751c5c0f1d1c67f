"""The commitments service's processes besides the API, each started by its command: the outbox relay
(`relay.py`, `python -m services.commitments relay`) and the deadline scanner (`scanner.py`, `scan`).

Each module imports what its own process needs, and no more: the relay starts without the domain packages,
the web framework or the working-day calendar.
"""
