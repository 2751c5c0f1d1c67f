"""The notifications service: deadline reminders by email (and signed webhooks), from the event stream."""
