"""Calendar feeds (iCalendar): the deadlines of a partner, or of a city owner, as all-day events, with alarms
on the days their reminders go out, each feed behind a secret token of its own that staff create and revoke."""
