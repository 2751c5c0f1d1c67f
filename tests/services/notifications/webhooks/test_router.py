"""The /v1/webhooks API: keys verified by the commitments service over HTTP, roles, SSRF refusals, test pings."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import make_url
from standardwebhooks.webhooks import Webhook

from services.notifications.app import create_app
from services.notifications.config import NotificationsSettings
from services.notifications.webhooks import service
from services.notifications.webhooks.dispatcher import WebhookDispatcher
from services.notifications.webhooks.models import WebhookSubscription
from tests.services.notifications.webhooks.test_dispatch import LOCAL, subscribe

HOOK = {
    "url": "https://93.184.216.34/hooks/engagements",
    "event_types": ["deadline.overdue", "deadline.escalated"],
    "description": "Tableau de bord du cabinet",
}


async def test_creation_answers_the_secret_once_and_reads_never_show_it(client_as, keys):
    admin = client_as(keys.admin)
    created = await admin.post("/v1/webhooks", json=HOOK)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["event_types"] == ["deadline.escalated", "deadline.overdue"]
    assert (body["enabled"], body["consecutive_failures"]) == (True, 0)

    one = await admin.get(f"/v1/webhooks/{body['id']}")
    listed = await admin.get("/v1/webhooks")
    assert one.status_code == 200 and "secret" not in one.json()
    assert [h["id"] for h in listed.json()] == [body["id"]]
    assert all("secret" not in h for h in listed.json())
    assert body["secret"] not in one.text + listed.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/hook",
        "http://localhost/hook",
        "http://0x7f000001/hook",
    ],
)
async def test_a_non_public_target_is_a_422_with_a_french_reason(client_as, keys, url):
    refused = await client_as(keys.admin).post("/v1/webhooks", json={**HOOK, "url": url})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "unsafe-webhook-target"
    assert "Cible refusée (protection SSRF)" in problem["detail"]
    assert (await client_as(keys.admin).get("/v1/webhooks")).json() == []


async def test_a_change_of_url_is_checked_too(client_as, keys):
    admin = client_as(keys.admin)
    created = (await admin.post("/v1/webhooks", json=HOOK)).json()
    refused = await admin.patch(f"/v1/webhooks/{created['id']}", json={"url": "http://192.168.0.10/hook"})
    assert refused.status_code == 422 and refused.json()["code"] == "unsafe-webhook-target"
    assert (await admin.get(f"/v1/webhooks/{created['id']}")).json()["url"] == HOOK["url"]


async def test_an_unknown_event_type_is_a_422_naming_it(client_as, keys):
    refused = await client_as(keys.admin).post(
        "/v1/webhooks", json={**HOOK, "event_types": ["deadline.lost"]}
    )
    assert refused.status_code == 422
    assert "type d'événement inconnu : deadline.lost" in refused.json()["detail"]
    empty = await client_as(keys.admin).post("/v1/webhooks", json={**HOOK, "event_types": []})
    assert empty.status_code == 422


async def test_city_staff_manage_subscriptions(client_as, keys):
    city = client_as(keys.city)
    created = (await city.post("/v1/webhooks", json={**HOOK, "event_types": ["*"]})).json()
    hook_url = f"/v1/webhooks/{created['id']}"

    changed = await city.patch(hook_url, json={"event_types": ["item.created"], "description": None})
    assert changed.status_code == 200
    assert (changed.json()["event_types"], changed.json()["description"]) == (["item.created"], None)

    disabled = (await city.patch(hook_url, json={"enabled": False})).json()
    assert disabled["enabled"] is False and disabled["disabled_reason"] == "Désactivé à la demande."
    enabled = (await city.patch(hook_url, json={"enabled": True})).json()
    assert (enabled["enabled"], enabled["disabled_reason"], enabled["consecutive_failures"]) == (
        True,
        None,
        0,
    )
    assert (await city.patch(hook_url, json={"url": None})).status_code == 422
    assert (await city.patch(hook_url, json={"enabled": "yes"})).status_code == 422

    rotated = await city.post(f"{hook_url}/rotate-secret")
    assert rotated.status_code == 200 and rotated.json()["secret"] not in (created["secret"], None)

    assert (await city.delete(hook_url)).status_code == 204
    gone = await city.get(hook_url)
    assert gone.status_code == 404 and gone.json()["code"] == "not-found"


async def test_a_reader_sees_subscriptions_and_deliveries_but_changes_nothing(client_as, keys):
    created = (await client_as(keys.admin).post("/v1/webhooks", json=HOOK)).json()
    reader = client_as(keys.reader)
    hook_url = f"/v1/webhooks/{created['id']}"
    assert (await reader.get("/v1/webhooks")).status_code == 200
    assert (await reader.get(hook_url)).status_code == 200
    assert (await reader.get(f"{hook_url}/deliveries")).json() == {"items": [], "next_cursor": None}
    for method, path, body in [
        ("POST", "/v1/webhooks", HOOK),
        ("PATCH", hook_url, {"enabled": False}),
        ("DELETE", hook_url, None),
        ("POST", f"{hook_url}/rotate-secret", None),
        ("POST", f"{hook_url}/test", None),
    ]:
        answer = await reader.request(method, path, json=body)
        assert answer.status_code == 403, (method, path)
        assert answer.json()["code"] == "forbidden"
    assert (await reader.get(hook_url)).json()["enabled"] is True


async def test_a_partner_key_is_refused_everywhere(client_as, keys):
    created = (await client_as(keys.admin).post("/v1/webhooks", json=HOOK)).json()
    partner = client_as(keys.partner)
    hook_url = f"/v1/webhooks/{created['id']}"
    for method, path, body in [
        ("GET", "/v1/webhooks", None),
        ("GET", hook_url, None),
        ("GET", f"{hook_url}/deliveries", None),
        ("POST", "/v1/webhooks", HOOK),
        ("PATCH", hook_url, {"enabled": False}),
        ("DELETE", hook_url, None),
        ("POST", f"{hook_url}/rotate-secret", None),
        ("POST", f"{hook_url}/test", None),
    ]:
        assert (await partner.request(method, path, json=body)).status_code == 403, (method, path)


async def test_no_key_or_an_unknown_key_is_a_401(client_as):
    assert (await client_as("eng_not-a-key").get("/v1/webhooks")).status_code == 401


async def test_a_test_ping_goes_out_signed_and_shows_in_the_deliveries(
    client_as, keys, sessionmaker, clock, receiver
):
    # The receiver listens on 127.0.0.1: subscribed and dispatched with private targets allowed.
    hook = await subscribe(sessionmaker, clock, receiver.url("/ping"), ["item.created"])
    admin = client_as(keys.admin)
    queued = await admin.post(f"/v1/webhooks/{hook.id}/test")
    assert queued.status_code == 202
    assert (queued.json()["event_type"], queued.json()["status"]) == ("webhook.ping", "pending")

    await WebhookDispatcher(sessionmaker, clock, target_policy=LOCAL).dispatch_due()
    [received] = receiver.requests
    ping = Webhook(hook.secret).verify(received.body, received.headers)
    assert ping["type"] == "webhook.ping" and ping["data"] == {"subscription_id": str(hook.id)}
    assert received.headers["webhook-id"] == queued.json()["event_id"]

    page = (await client_as(keys.reader).get(f"/v1/webhooks/{hook.id}/deliveries")).json()
    [delivery] = page["items"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("succeeded", 1, 204)
    assert [(a["number"], a["status_code"]) for a in delivery["history"]] == [(1, 204)]
    failed_only = await admin.get(f"/v1/webhooks/{hook.id}/deliveries", params={"status": "failed"})
    assert failed_only.json()["items"] == []


async def test_deliveries_page_newest_first_with_a_cursor(client_as, keys, sessionmaker, clock, receiver):
    hook = await subscribe(sessionmaker, clock, receiver.url("/ping"))
    admin = client_as(keys.admin)
    queued = [(await admin.post(f"/v1/webhooks/{hook.id}/test")).json()["id"] for _ in range(3)]
    first = (await admin.get(f"/v1/webhooks/{hook.id}/deliveries", params={"limit": 2})).json()
    assert [d["id"] for d in first["items"]] == queued[::-1][:2]
    rest = (
        await admin.get(
            f"/v1/webhooks/{hook.id}/deliveries", params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [d["id"] for d in rest["items"]] == [queued[0]] and rest["next_cursor"] is None


def _has_example(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    if schema.get("examples") or schema.get("example") is not None:
        return True
    return schema.get("type") == "array" and _has_example(schema.get("items", {}), components)


def test_every_webhook_operation_is_documented_with_examples(tmp_path):
    spec = create_app(
        NotificationsSettings(notifications_database_url=f"sqlite:///{tmp_path}/n.db")
    ).openapi()
    components = spec["components"]["schemas"]
    operations = [
        (f"{method.upper()} {path}", operation)
        for path, methods in spec["paths"].items()
        if path.startswith("/v1/webhooks")
        for method, operation in methods.items()
    ]
    assert len(operations) == 8
    missing = []
    for name, operation in operations:
        if not operation.get("summary") or not operation.get("description"):
            missing.append(f"{name}: no summary/description")
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None and not _has_example(body["schema"], components):
            missing.append(f"{name}: request body without example")
        ok = next((r for code, r in operation["responses"].items() if code.startswith("2")), {})
        content = ok.get("content", {}).get("application/json")
        if content is not None and not _has_example(content["schema"], components):
            missing.append(f"{name}: response without example")
        errors = [code for code in operation["responses"] if code.startswith("4") and code != "422"]
        if not errors:
            missing.append(f"{name}: no documented error")
    assert not missing, "\n".join(missing)


async def test_a_new_url_is_resolved_before_the_request_takes_any_lock(
    client_as, keys, notifications_app, monkeypatch
):
    admin = client_as(keys.admin)
    created = (await admin.post("/v1/webhooks", json=HOOK)).json()
    settings = notifications_app.state.settings
    seen: list[str] = []
    resolve = service.check_target

    async def resolving(url, policy):  # the DNS lookup: another writer must get the database meanwhile
        if settings.database_url.startswith("sqlite"):
            with contextlib.closing(
                sqlite3.connect(make_url(settings.database_url).database, timeout=0)
            ) as other:
                other.execute("BEGIN IMMEDIATE")  # "database is locked" if the PATCH held the write lock
                other.execute("ROLLBACK")
        else:
            async with notifications_app.state.sessionmaker() as session, session.begin():
                await session.execute(text("SET LOCAL lock_timeout = '2s'"))
                await session.execute(
                    update(WebhookSubscription)
                    .where(WebhookSubscription.id == created["id"])
                    .values(description="écrit pendant la résolution")
                )
        seen.append(url)
        return await resolve(url, policy)

    monkeypatch.setattr(service, "check_target", resolving)
    new_url = "https://93.184.216.35/hooks/v2"
    changed = await admin.patch(f"/v1/webhooks/{created['id']}", json={"url": new_url})
    assert changed.status_code == 200, changed.text
    assert changed.json()["url"] == new_url and seen == [new_url]
