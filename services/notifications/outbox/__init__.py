"""The notifications service's own events (shared/events/notifications.py: what happened to each reminder,
action links used), written in the transaction of the change they report and published by the relay to the
service's own stream (NOTIFICATIONS_EVENTS_STREAM): the generic outbox of shared/outbox/ bound to its table."""
