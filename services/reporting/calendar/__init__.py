"""Calendar feeds (iCalendar): a partner's deadlines as all-day events, with alarms on the days its reminders go
out, each feed behind a secret token of its own that staff create and revoke."""
