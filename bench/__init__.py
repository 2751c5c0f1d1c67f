"""Benchmarks: `python -m bench [SCENARIO ...]` (`make bench`). They print figures; they never assert on timing.

Each scenario is a module of this package with `describe` (one line), `add_arguments(parser)` and
`run(args) -> int`; SCENARIOS lists them in the order `python -m bench` runs them.
"""

SCENARIOS = (
    "items_by_partner",
    "notifications_throughput",
    "scanner_tick",
    "cli_startup",
    "overload",
    "reporting_scorecard",
    "reporting_catchup",
)
