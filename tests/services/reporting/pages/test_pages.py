"""The intranet page over HTTP (no browser): sign-in through the form with a key checked by the real commitments
service, the session cookie's flags and contents, CSRF refusals, sign-out, a revoked key's session ended, a
partner seeing its own organisation only, and the trusted header of the intranet's proxy."""

from __future__ import annotations

import html
import re

import httpx
import nats
import pytest
from itsdangerous import URLSafeTimedSerializer
from nats.js.errors import NotFoundError

from services.reporting.pages import views
from services.reporting.pages.sessions import COOKIE
from shared.bus import StreamSpec
from tests.responses import ok
from tests.services.notifications.served_commitments import Commitments
from tests.services.reporting.pages.served_pages import (
    PAGE,
    SIGN_IN,
    SIGN_OUT,
    NewDatabase,
    browsing,
    csrf_of,
    history,
    sign_in,
)
from tests.waiting import wait_until


def set_cookie(response: httpx.Response) -> str:
    headers = [value for value in response.headers.get_list("set-cookie") if value.startswith(f"{COOKIE}=")]
    assert len(headers) == 1, response.headers
    return headers[0]


def h1(html: str) -> str:
    found = re.findall(r"<h1>(.*?)</h1>", html)
    assert len(found) == 1, found
    return found[0]


async def test_sign_in_through_the_form_then_out(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with history(commitments, new_reporting_database, nats_url, streams) as served:
        admin_secret = served.keys["admin"][1]
        async with browsing(served.app()) as browser:
            first = await browser.get(PAGE)
            assert (first.status_code, first.headers["location"]) == (303, SIGN_IN)

            form = await browser.get(SIGN_IN)
            assert form.status_code == 200 and h1(form.text) == "Connexion au tableau de bord"
            assert '<html lang="fr">' in form.text and 'type="password"' in form.text
            flags = set_cookie(form).lower()
            assert "httponly" in flags and "samesite=strict" in flags and "path=/tableau-de-bord" in flags
            assert "secure" not in flags  # plain http here (see the https test below)
            assert form.headers["cache-control"] == "no-store"
            assert "default-src 'none'" in form.headers["content-security-policy"]

            signed = await browser.post(SIGN_IN, data={"csrf": csrf_of(form.text), "cle": admin_secret})
            assert (signed.status_code, signed.headers["location"]) == (303, PAGE)
            cookie = set_cookie(signed)
            value = cookie.split(";")[0].split("=", 1)[1]
            # What the cookie holds, read without its signing key (it is signed, not encrypted).
            _, payload = URLSafeTimedSerializer("not the key").loads_unsafe(value)
            assert admin_secret not in cookie and admin_secret not in str(payload)
            assert payload["principal"]["role"] == "admin" and set(payload) == {"csrf", "principal"}
            assert payload["csrf"] != csrf_of(form.text)  # a new session, a new token

            page = await browser.get(PAGE)
            assert page.status_code == 200 and h1(page.text) == "Tableau de bord des engagements"
            for text in (
                "Avancement par axe",
                "Bailleur A",
                "Territoire B",
                "Demande i4",
                "la ville",
                "Demande i7",
                "26/06/2026",
                "Se déconnecter",
            ):
                assert text in page.text, text
            assert page.text.count('<section class="fiche"') == 2

            out = await browser.post(SIGN_OUT, data={"csrf": csrf_of(page.text)})
            assert (out.status_code, out.headers["location"]) == (303, SIGN_IN)
            assert "max-age=0" in set_cookie(out).lower()
            after = await browser.get(PAGE)
            assert after.status_code == 303


async def test_forms_refuse_a_missing_or_foreign_token(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with history(commitments, new_reporting_database, nats_url, streams) as served:
        admin_secret = served.keys["admin"][1]
        app = served.app()
        async with browsing(app) as browser, browsing(app) as attacker:
            # A cross-site POST carries no token of the victim's session: refused, nobody signed in.
            await browser.get(SIGN_IN)
            for data in ({"cle": admin_secret}, {"cle": admin_secret, "csrf": "forged"}):
                refused = await browser.post(SIGN_IN, data=data)
                assert refused.status_code == 403 and "formulaire a expiré" in refused.text
                assert (await browser.get(PAGE)).status_code == 303
            # The token of another session is not this session's.
            foreign = csrf_of((await attacker.get(SIGN_IN)).text)
            refused = await browser.post(SIGN_IN, data={"csrf": foreign, "cle": admin_secret})
            assert refused.status_code == 403
            # A wrong key: the form again, saying so; a service key may not sign in.
            wrong = await browser.post(SIGN_IN, data={"csrf": csrf_of(refused.text), "cle": "pas-une-cle"})
            assert wrong.status_code == 401 and "inconnue ou a été révoquée" in wrong.text
            service = await browser.post(
                SIGN_IN, data={"csrf": csrf_of(wrong.text), "cle": served.keys["service"][1]}
            )
            assert service.status_code == 403

            assert (await sign_in(browser, admin_secret)).status_code == 303
            page = await browser.get(PAGE)
            # Sign-out needs the session's token too.
            for data in ({}, {"csrf": foreign}):
                kept = await browser.post(SIGN_OUT, data=data)
                assert kept.status_code == 403
                assert (await browser.get(PAGE)).status_code == 200
            assert (await browser.post(SIGN_OUT, data={"csrf": csrf_of(page.text)})).status_code == 303


async def test_the_cookie_is_secure_over_https(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with history(commitments, new_reporting_database, nats_url, streams) as served:
        async with browsing(served.app(), base_url="https://intranet.test") as browser:
            assert "; secure" in set_cookie(await browser.get(SIGN_IN)).lower()
            assert "; secure" in set_cookie(await sign_in(browser, served.keys["admin"][1])).lower()
        async with browsing(
            served.app(pages_cookie_secure=True)
        ) as browser:  # TLS ended before a plain proxy
            assert "; secure" in set_cookie(await browser.get(SIGN_IN)).lower()


async def test_a_partner_sees_its_own_organisation_only(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with history(commitments, new_reporting_database, nats_url, streams) as served:
        ids = served.story.ids
        async with browsing(served.app()) as browser:
            assert (await sign_in(browser, served.keys["a"][1])).status_code == 303
            page = await browser.get(PAGE)
            assert page.status_code == 200
            assert "Bailleur A" in page.text and "Demande i4" in page.text
            # B's name, its own late item (i8) and its deadline to come are nowhere on A's page.
            for text in ("Territoire B", "Demande i8", str(ids["b"])):
                assert text not in page.text, text
            assert page.text.count('<section class="fiche"') == 1
            assert (await browser.get(f"{PAGE}partenaires/{ids['a']}")).status_code == 200
            other = await browser.get(f"{PAGE}partenaires/{ids['b']}")
            assert other.status_code == 404 and "Territoire B" not in other.text
            assert h1(other.text) == "Introuvable"
        async with browsing(served.app()) as browser:
            assert (await sign_in(browser, served.keys["reader"][1])).status_code == 303
            assert (await browser.get(f"{PAGE}partenaires/{ids['b']}")).status_code == 200


async def test_the_overview_says_when_its_lists_stop(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(views, "LISTED", 2)
    async with (
        history(commitments, new_reporting_database, nats_url, streams) as served,
        browsing(served.app()) as browser,
    ):
        assert (await sign_in(browser, served.keys["admin"][1])).status_code == 303
        page = html.unescape((await browser.get(PAGE)).text)
        assert "Les 2 plus anciens des 5 éléments en retard, et qui doit agir" in page
        assert "Demande i4" in page and "Demande i3" not in page.split('id="echeances"')[0]
        assert "Les 2 premières échéances" not in page  # one deadline to come: the whole list


async def test_a_revoked_keys_session_ends(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with history(commitments, new_reporting_database, nats_url, streams) as served:
        key_id, secret = served.keys["reader"]
        async with browsing(served.app()) as browser:
            assert (await sign_in(browser, secret)).status_code == 303
            assert (await browser.get(PAGE)).status_code == 200
            async with commitments.client(commitments.admin_secret) as admin:
                ok(await admin.post(f"/v1/api-keys/{key_id}/revoke"))

            async def signed_out() -> bool:
                return (await browser.get(PAGE)).status_code == 303

            await wait_until(signed_out, "the revoked key's session to end")


async def test_a_process_started_after_a_revocation_knows_it(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    """A session outlives the process that made it (another replica, a restart): the revocation, published before
    the process started, is read back from the stream."""
    async with history(commitments, new_reporting_database, nats_url, streams) as served:
        key_id, secret = served.keys["reader"]
        replica = {"pages_session_secret": "the same on every replica"}
        async with browsing(served.app(**replica)) as browser:
            assert (await sign_in(browser, secret)).status_code == 303
            cookies = browser.cookies
        async with commitments.client(commitments.admin_secret) as admin:
            ok(await admin.post(f"/v1/api-keys/{key_id}/revoke"))
        client = await nats.connect(nats_url)
        try:

            async def published() -> bool:
                try:
                    await client.jetstream().get_last_msg(
                        streams[0].name, streams[0].subject_for("api_key.revoked")
                    )
                except NotFoundError:
                    return False
                return True

            await wait_until(published, "the revocation in the stream")
        finally:
            await client.drain()
        async with browsing(served.app(**replica)) as browser:
            browser.cookies = cookies

            async def signed_out() -> bool:
                return (await browser.get(PAGE)).status_code == 303

            await wait_until(signed_out, "the revoked key's session to end in the new process")
        # A key not revoked: its session goes on in another process signing with the same secret.
        async with browsing(served.app(**replica)) as browser:
            assert (await sign_in(browser, served.keys["a"][1])).status_code == 303
            cookies = browser.cookies
        async with browsing(served.app(**replica)) as browser:
            browser.cookies = cookies
            assert (await browser.get(PAGE)).status_code == 200


async def test_the_trusted_header_of_the_intranet_proxy(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with history(commitments, new_reporting_database, nats_url, streams) as served:
        ids = served.story.ids
        proxy = {
            "pages_trusted_header": "X-Remote-User",
            "pages_trusted_proxies": ["10.0.0.0/24"],
            "pages_trusted_users": {
                "mdupont": "city",
                "jmartin": f"partner:{ids['a']}",
                "perdu": f"partner:{ids['i1']}",
                "curieux": "service",
            },
        }
        async with browsing(served.app(**proxy), client_address="10.0.0.7") as browser:
            page = await browser.get(PAGE, headers={"X-Remote-User": "mdupont"})
            assert page.status_code == 200 and "Territoire B" in page.text and "mdupont" in page.text
            assert "Se déconnecter" not in page.text  # the intranet signs its users out, not this page
            partner = await browser.get(PAGE, headers={"X-Remote-User": "jmartin"})
            assert partner.status_code == 200 and "Bailleur A" in partner.text
            assert "Territoire B" not in partner.text
            other = await browser.get(f"{PAGE}partenaires/{ids['b']}", headers={"X-Remote-User": "jmartin"})
            assert other.status_code == 404
            for user in ("inconnu", "perdu", "curieux"):  # not mapped, an unknown partner, not a staff role
                assert (await browser.get(PAGE, headers={"X-Remote-User": user})).status_code == 403
            assert (await browser.get(PAGE)).status_code == 303  # no header: the form
        # From anywhere but the proxy, the header is ignored.
        async with browsing(served.app(**proxy), client_address="10.0.1.7") as browser:
            assert (await browser.get(PAGE, headers={"X-Remote-User": "mdupont"})).status_code == 303
        # Off by default.
        async with browsing(served.app(), client_address="10.0.0.7") as browser:
            assert (await browser.get(PAGE, headers={"X-Remote-User": "mdupont"})).status_code == 303
