"""`python -m deploy.embedded` on a fresh data folder: schemas, sample plan, admin key, both APIs, the scanner,
the notifications worker and the SMTP sink — a reminder reaches the Maildir —; a clean stop."""

from __future__ import annotations

import html
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shared.calendar import default_calendar
from shared.clock import PARIS
from tests.ports import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_first_start_serves_the_sample_plan_and_stops_cleanly(
    tmp_path: Path, nats_url: str, stream_names: tuple[str, str]
) -> None:
    port, notifications_port, reporting_port, smtp_port = free_port(), free_port(), free_port(), free_port()
    data = tmp_path / "data"
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "PORT": str(port),
        "NATS_URL": nats_url,
        "NOTIFICATIONS_PORT": str(notifications_port),
        "REPORTING_PORT": str(reporting_port),
        "SMTP_SINK_PORT": str(smtp_port),
        "EVENTS_STREAM": f"{stream_names[0]}_EMBEDDED",
        "EVENTS_SUBJECT_PREFIX": f"{stream_names[1]}-embedded",
        "NOTIFICATIONS_EVENTS_STREAM": f"{stream_names[0]}_EMBEDDED_EV",
        "NOTIFICATIONS_EVENTS_SUBJECT_PREFIX": f"{stream_names[1]}-embedded-ev",
    }
    for name in ("DATABASE_URL", "NOTIFICATIONS_DATABASE_URL", "REPORTING_DATABASE_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.embedded"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        output = []
        deadline = time.monotonic() + 60
        while not any("Press Ctrl-C" in line for line in output):
            line = process.stdout.readline()
            assert line and time.monotonic() < deadline, "".join(output)
            output.append(line)
        key_file = tmp_path / "data" / "admin-key.txt"
        secret = key_file.read_text().strip()
        assert key_file.stat().st_mode & 0o777 == 0o600
        _the_banner_comes_first(output, port, secret, key_file)
        auth = {"Authorization": f"Bearer {secret}"}
        plans = httpx.get(f"http://127.0.0.1:{port}/v1/plans", headers=auth)
        assert plans.status_code == 200 and len(plans.json()) == 1
        # The same admin key is honoured by the notifications API (checked through the commitments service).
        # The banner does not wait for it: it is ready a moment later.
        deliveries = _when_it_answers(f"http://127.0.0.1:{notifications_port}/v1/deliveries", auth)
        assert deliveries.status_code == 200, deliveries.text
        _the_reports_show_the_sample_plan(f"http://127.0.0.1:{reporting_port}", plans.json()[0]["id"], auth)
        _the_dashboard_shows_it_after_signing_in(
            f"http://127.0.0.1:{reporting_port}", "".join(output), secret, plans.json()[0]["title"]
        )
        _a_reminder_reaches_the_mail_folder(f"http://127.0.0.1:{port}", auth, data, env)
        _personal_data_is_readable_by_its_owner_only(data)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def _the_banner_comes_first(output: list[str], port: int, secret: str, key_file: Path) -> None:
    """No package listing, no migration or server log line before it: only what the run did on its first
    start."""
    lines = [line.rstrip("\n") for line in output]
    start = lines.index("Engagements is running.")
    before = [line for line in lines[:start] if line.strip()]
    assert len(before) <= 2 and not [line for line in before if "INFO" in line or "alembic" in line], lines
    banner = "\n".join(lines[start:])
    assert f"http://127.0.0.1:{port}/docs" in banner and str(key_file) in banner and secret in banner


def _the_dashboard_shows_it_after_signing_in(
    reporting: str, output: str, secret: str, plan_title: str
) -> None:
    """The banner gives the intranet page's address; signed in through its form with the admin key, it shows
    the sample plan's progress."""
    page = f"{reporting}/tableau-de-bord/"
    assert f"Dashboard         : {page}" in output
    with httpx.Client() as browser:
        form = browser.get(page, follow_redirects=True)
        assert form.status_code == 200 and "Connexion au tableau de bord" in form.text
        csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        dashboard = browser.post(
            f"{reporting}/tableau-de-bord/connexion",
            data={"csrf": csrf, "cle": secret},
            follow_redirects=True,
        )
        assert dashboard.status_code == 200 and "Avancement par axe" in dashboard.text
        assert plan_title in html.unescape(dashboard.text)


def _when_it_answers(url: str, headers: dict[str, str], timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, headers=headers)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.2)


def _the_reports_show_the_sample_plan(reporting: str, plan_id: str, auth: dict[str, str]) -> None:
    """The projector fills the reporting service's read model from the stream: the plan's progress lists its
    items, with the same admin key."""
    deadline = time.monotonic() + 60
    while True:
        progress = _when_it_answers(f"{reporting}/v1/reports/plans/{plan_id}/progress", auth)
        if progress.status_code == 200 and progress.json()["items"] > 0:
            return
        assert time.monotonic() < deadline, f"the reports never showed the plan: {progress.text}"
        time.sleep(0.3)


def _personal_data_is_readable_by_its_owner_only(data: Path) -> None:
    """The databases (with their write-ahead logs, open while the services run), the mails, the logs, the
    keys: nothing in the data folder is readable by another user."""
    for name in ("commitments.db", "notifications.db", "reporting.db"):
        assert (data / f"{name}-wal").exists()
    readable_by_others = {
        str(path.relative_to(data)): oct(path.stat().st_mode & 0o777)
        for path in (data, *data.rglob("*"))
        if path.stat().st_mode & 0o077
    }
    assert readable_by_others == {}


def _a_reminder_reaches_the_mail_folder(
    api: str, auth: dict[str, str], data: Path, env: dict[str, str]
) -> None:
    """A contact with an email, a request sent with a response due on a working day; one scanner tick as of
    that morning (what the README tells a new user to run) ends as a French email in <data>/mail/new."""
    with httpx.Client(base_url=api, headers=auth, timeout=30) as client:
        partners = client.get("/v1/partners").json()
        hsh = next(p["id"] for p in partners if p["name"] == "Hauts-de-Seine Habitat")
        # The sample directory was loaded before the plan: its group of the Blagis, with its member.
        group = next(p for p in partners if p["name"] == "Bailleurs sociaux")
        assert (group["scope_territory"], group["member_ids"]) == ("Quartier des Blagis", [hsh])
        assert (
            client.post(
                f"/v1/partners/{hsh}/contacts",
                json={"civility": "Madame", "last_name": "Martin", "email": "claire.martin@example.org"},
            ).status_code
            == 201
        )
        item = client.get("/v1/items", params={"partner_id": hsh}).json()["items"][0]["id"]
        sent = client.post(f"/v1/items/{item}/transitions", json={"to": "sent", "letter_reference": "SCX/1"})
        assert sent.status_code == 200, sent.text
        due = default_calendar().next_working_day(datetime.now(PARIS).date() + timedelta(days=7))
        assert (
            client.post(
                f"/v1/items/{item}/deadlines", json={"kind": "response", "due_on": due.isoformat()}
            ).status_code
            == 201
        )
    as_of = datetime.combine(due, datetime.min.time().replace(hour=9), tzinfo=PARIS).isoformat()
    tick = subprocess.run(
        [sys.executable, "-m", "services.commitments", "scan", "--once", "--as-of", as_of],
        cwd=ROOT,
        env={**env, "DATABASE_URL": f"sqlite:///{data / 'commitments.db'}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert tick.returncode == 0 and '"fired": 1' in tick.stdout, tick.stdout + tick.stderr
    deadline = time.monotonic() + 60
    while not list((data / "mail" / "new").glob("*")):
        assert time.monotonic() < deadline, "no reminder reached the SMTP sink's Maildir"
        time.sleep(0.2)
    mail = next((data / "mail" / "new").glob("*")).read_text()
    assert "claire.martin@example.org" in mail and "Madame," in mail
