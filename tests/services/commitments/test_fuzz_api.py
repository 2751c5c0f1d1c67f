"""Schemathesis over every operation of the commitments service, on SQLite and PostgreSQL, with an admin key
and with a partner key: no 5xx, and every response as documented (status, content type, schema, headers),
its problems in French."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from schemathesis import Case
from sqlalchemy import delete

from services.commitments.app import create_app
from services.commitments.auth.service import create_key
from services.commitments.config import CommitmentsSettings
from services.commitments.models import Base
from shared.auth import SYSTEM, Role
from shared.clock import FixedClock
from tests.api_fuzzing import ThreadedServer, call_and_validate, schema_of, skip_sqlite_unless_asked
from tests.responses import ok
from tests.services.commitments.factories import create_plan_axis_objective


@dataclass
class Served:
    server: ThreadedServer
    secrets: dict[str, str]  # role -> key
    ids: dict[str, list[str]]  # path parameter -> existing ids


def _seed(server: ThreadedServer, clock: FixedClock) -> Served:
    app = server.app

    async def keys() -> tuple[dict[str, str], str, str]:
        async with app.state.sessionmaker() as session, session.begin():
            _, admin = await create_key(
                session, SYSTEM, clock, name="admin", role=Role.ADMIN, partner_id=None
            )
            # A key schemathesis may revoke without locking itself out.
            spare, _ = await create_key(
                session, SYSTEM, clock, name="spare", role=Role.READER, partner_id=None
            )
            plan, _, objective = await create_plan_axis_objective(session, clock)
        return {"admin": admin}, str(spare.id), str(objective.id), str(plan.id)

    secrets, spare_key, objective_id, plan_id = server.call(keys())
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secrets['admin']}"}) as admin:
        partner = ok(
            admin.post("/v1/partners", json={"name": "Hauts-de-Seine Habitat", "kind": "bailleur_social"})
        )
        group = ok(
            admin.post(
                "/v1/partners",
                json={
                    "name": "Les bailleurs sociaux",
                    "kind": "group",
                    "is_group": True,
                    "member_ids": [partner["id"]],
                    "scope_plan_id": plan_id,
                },
            )
        )
        contact = ok(
            admin.post(
                f"/v1/partners/{partner['id']}/contacts",
                json={"last_name": "Martin", "first_name": "Claire", "email": "claire.martin@example.org"},
            )
        )
        request = ok(
            admin.post(
                "/v1/items",
                json={
                    "objective_id": objective_id,
                    "kind": "request",
                    "title": "Rénovation du centre commercial",
                    "plan_text": "La Ville demande à Hauts-de-Seine Habitat de rénover.",
                    "lead_partner_id": partner["id"],
                },
            )
        )
        commitment = ok(
            admin.post(
                "/v1/items",
                json={
                    "objective_id": objective_id,
                    "kind": "commitment",
                    "title": "Agence postale communale",
                    "plan_text": "La Ville ouvrira une agence postale.",
                },
            )
        )
        ok(
            admin.post(
                f"/v1/items/{request['id']}/transitions", json={"to": "sent", "letter_reference": "SCX/1"}
            )
        )
        deadline = ok(
            admin.post(
                f"/v1/items/{request['id']}/deadlines", json={"kind": "response", "due_on": "2026-04-15"}
            )
        )
        proposal = ok(
            admin.post(
                f"/v1/deadlines/{deadline['id']}/proposals",
                json={"proposed_due_on": "2026-05-15", "reason": "Conseil d'administration reporté."},
            )
        )
        secrets["partner"] = ok(
            admin.post("/v1/api-keys", json={"name": "HSH", "role": "partner", "partner_id": partner["id"]})
        )["secret"]
        plan = ok(admin.get(f"/v1/items/{request['id']}"))["plan_id"]
        axis = ok(admin.get(f"/v1/plans/{plan}"))["axes"][0]["id"]
    return Served(
        server,
        secrets,
        {
            "partner_id": [partner["id"], group["id"]],
            "contact_id": [contact["id"]],
            "item_id": [request["id"], commitment["id"]],
            "deadline_id": [deadline["id"]],
            "proposal_id": [proposal["id"]],
            "plan_id": [plan],
            "axis_id": [axis],
            "key_id": [spare_key],
        },
    )


@pytest.fixture(scope="module")
def served(
    database_url: str, nats_url: str, stream_names: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    skip_sqlite_unless_asked(database_url)
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    settings = CommitmentsSettings(
        database_url=database_url,
        nats_url=nats_url,
        events_stream=stream_names[0],
        events_subject_prefix=stream_names[1],
        relay_in_process=False,
        log_json=False,
        data_dir=Path(tmp_path_factory.mktemp("fuzz")),
    )
    with ThreadedServer(create_app(settings, clock)) as server:
        try:
            yield _seed(server, clock)
        finally:

            async def empty() -> None:
                async with server.app.state.engine.begin() as connection:
                    for table in reversed(Base.metadata.sorted_tables):
                        await connection.execute(delete(table))

            server.call(empty())


app_for_schema = create_app(CommitmentsSettings(database_url="sqlite:///:memory:"))
schema, partner_schema = schema_of(app_for_schema), schema_of(app_for_schema, thorough=False)


@schema.parametrize()
def test_commitments_api_as_admin(case: Case, served: Served) -> None:
    call_and_validate(case, served.server, served.secrets["admin"], served.ids)


@partner_schema.parametrize()
def test_commitments_api_as_partner(case: Case, served: Served) -> None:
    call_and_validate(case, served.server, served.secrets["partner"], served.ids)
