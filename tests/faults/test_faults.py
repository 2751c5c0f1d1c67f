"""The short multi-node fault run of the suite: a 3-node NATS cluster (the stream at 3 replicas), PostgreSQL, two
replicas of every service and worker (one notifications relay, one reporting projector), a steady load over
HTTP, and every kill of the full run (`make faults`), with fewer events. Nothing is lost, a mail is duplicated
at most by what a killed mail worker had in flight, no process exits unless it was killed, and the reporting
database's figures equal the commitments and notifications databases'."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL, _reachable, _unavailable
from tests.faults.scenario import SHORT, run

pytestmark = pytest.mark.slow

KILLS = {
    "NATS node killed (stream leader)",
    "replica killed",
    "scanner killed mid-tick (in a batch's transaction)",
    "relay killed between commit and publish (batch read, not published)",
    "relay killed between publish and mark",
    "mail worker killed mid-send",
    "reporting projector killed mid-batch",
}


def test_every_kill_loses_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    admin = make_url(PG_ADMIN_URL)
    if not _reachable(admin.host or "127.0.0.1", admin.port or 5432):
        _unavailable("PostgreSQL")  # a failure under CI=true
    report = asyncio.run(run(PG_ADMIN_URL, SHORT))
    with capsys.disabled():
        print("\n" + report.table())
    figures = report.figures

    assert {fault.what for fault in report.faults} == KILLS, report.table()  # every kill, none on its own
    assert {fault.process for fault in report.faults if fault.what == "replica killed"} == {
        "commitments-api-b",
        "relay-b",
        "scanner-b",
        "notifications-api-b",
        "mail-worker-b",
        "notifications-relay",
    }
    assert figures["events_published"] >= SHORT.events
    assert figures["lost"] == 0, report.table()
    assert figures["stream_messages"] == figures["events_published"]  # none lost, none twice on the bus
    assert figures["deadlines"] == figures["firings"] == figures["reminder_events"] > 0
    assert figures["reminder_events_consumed"] == figures["reminder_events"]
    assert figures["mails_distinct"] == figures["deliveries_sent"] == figures["reminder_events"]
    assert figures["mails_duplicated"] <= report.duplicate_bound, report.table()
    assert figures["reporting_figures"] > 0
    assert figures["reporting_differences"] == 0, report.table()  # reporting = commitments
