"""The intranet page: a server-rendered French dashboard (progress by axis, partner scorecards, late items,
upcoming deadlines) over the reports' service layer, with staff sign-in (a signed session cookie, or a trusted
header set by the intranet's authenticating proxy)."""
