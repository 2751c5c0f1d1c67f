"""Schemathesis over every operation of the notifications service, on its own database beside the commitments
service (served over HTTP: keys are checked there), with an admin key and with a partner key: no 5xx, and every
response as documented (status, content type, schema, headers), its problems in French."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from schemathesis import Case
from sqlalchemy import delete

from services.commitments.app import create_app as create_commitments_app
from services.commitments.auth.service import create_key
from services.commitments.config import CommitmentsSettings
from services.commitments.models import Base as CommitmentsBase
from services.notifications.app import create_app
from services.notifications.config import NotificationsSettings
from services.notifications.models import Base
from shared.auth import SYSTEM, Role
from shared.clock import FixedClock
from tests.api_fuzzing import ThreadedServer, call_and_validate, schema_of, skip_sqlite_unless_asked
from tests.responses import ok


@dataclass
class Served:
    server: ThreadedServer
    secrets: dict[str, str]  # role -> key
    ids: dict[str, list[str]]  # path parameter -> existing ids


def _empty(server: ThreadedServer, base: type) -> None:
    async def empty() -> None:
        async with server.app.state.engine.begin() as connection:
            for table in reversed(base.metadata.sorted_tables):  # type: ignore[attr-defined]
                await connection.execute(delete(table))

    server.call(empty())


@pytest.fixture(scope="module")
def served(
    database_url: str,
    notifications_database_url: str,
    nats_url: str,
    stream_names: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    skip_sqlite_unless_asked(database_url)
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    data_dir = Path(tmp_path_factory.mktemp("fuzz"))
    commitments_settings = CommitmentsSettings(
        database_url=database_url,
        nats_url=nats_url,
        events_stream=stream_names[0],
        events_subject_prefix=stream_names[1],
        relay_in_process=False,
        log_json=False,
        data_dir=data_dir,
    )
    with ThreadedServer(create_commitments_app(commitments_settings, clock)) as commitments:

        async def keys() -> dict[str, str]:
            async with commitments.app.state.sessionmaker() as session, session.begin():
                _, admin = await create_key(
                    session, SYSTEM, clock, name="admin", role=Role.ADMIN, partner_id=None
                )
                _, service = await create_key(
                    session, SYSTEM, clock, name="notifications", role=Role.SERVICE, partner_id=None
                )
            return {"admin": admin, "service": service}

        secrets = commitments.call(keys())
        with httpx.Client(
            base_url=commitments.url, headers={"Authorization": f"Bearer {secrets['admin']}"}
        ) as admin:
            partner = ok(
                admin.post("/v1/partners", json={"name": "Hauts-de-Seine Habitat", "kind": "bailleur_social"})
            )
            contact = ok(
                admin.post(
                    f"/v1/partners/{partner['id']}/contacts",
                    json={"last_name": "Martin", "email": "claire.martin@example.org"},
                )
            )
            secrets["partner"] = ok(
                admin.post(
                    "/v1/api-keys", json={"name": "HSH", "role": "partner", "partner_id": partner["id"]}
                )
            )["secret"]
        settings = NotificationsSettings(
            notifications_database_url=notifications_database_url,
            nats_url=nats_url,
            events_stream=stream_names[0],
            events_subject_prefix=stream_names[1],
            data_dir=data_dir,
            notifications_events_stream=f"{stream_names[0]}_EV",
            notifications_events_subject_prefix=f"{stream_names[1]}ev",
            commitments_url=commitments.url,
            commitments_api_key=secrets["service"],
            log_json=False,
            action_link_secret="fuzz-action-link-secret",
            webhook_allow_http=True,
            webhook_allow_private_targets=True,
        )
        try:
            with ThreadedServer(create_app(settings, clock)) as server:
                try:
                    with httpx.Client(
                        base_url=server.url, headers={"Authorization": f"Bearer {secrets['admin']}"}
                    ) as admin:
                        webhook = ok(
                            admin.post(
                                "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "event_types": ["*"]}
                            )
                        )
                    partner_client = httpx.Client(
                        base_url=server.url, headers={"Authorization": f"Bearer {secrets['partner']}"}
                    )
                    with partner_client:
                        ok(partner_client.get("/v1/deliveries"))  # the partner key is honoured here
                    yield Served(
                        server, secrets, {"contact_id": [contact["id"]], "webhook_id": [webhook["id"]]}
                    )
                finally:
                    _empty(server, Base)
        finally:
            _empty(commitments, CommitmentsBase)


app_for_schema = create_app(NotificationsSettings(notifications_database_url="sqlite:///:memory:"))
schema, partner_schema = schema_of(app_for_schema), schema_of(app_for_schema, thorough=False)


@schema.parametrize()
def test_notifications_api_as_admin(case: Case, served: Served) -> None:
    call_and_validate(case, served.server, served.secrets["admin"], served.ids)


@partner_schema.parametrize()
def test_notifications_api_as_partner(case: Case, served: Served) -> None:
    call_and_validate(case, served.server, served.secrets["partner"], served.ids)
