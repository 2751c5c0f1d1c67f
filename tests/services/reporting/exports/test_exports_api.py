"""The exports over HTTP on the scripted history (history.py): CSV read back with the csv module, ODS with
python-calamine (another library than the writer), the open-data CSV and descriptor checked by `frictionless
validate`; a partner key gets its own organisation's rows only."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from python_calamine import CalamineWorkbook

from shared.bus import StreamSpec
from tests.services.notifications.served_commitments import Commitments
from tests.services.reporting.history import EXPECTED_A, PERIOD
from tests.services.reporting.served import NewDatabase, served_reporting

CSV_TYPE = "text/csv; charset=utf-8; header=present"
ODS_TYPE = "application/vnd.oasis.opendocument.spreadsheet"


def read_csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CSV_TYPE
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline=""), delimiter=";"))


def read_ods(response: httpx.Response) -> tuple[str, list[list[object]]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ODS_TYPE
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    return book.sheet_names[0], book.get_sheet_by_index(0).to_python()


def filename(response: httpx.Response) -> str:
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=")
    return disposition.split("filename=")[1].strip('"')


def frictionless_validate(folder: Path) -> tuple[int, dict[str, Any]]:
    """`frictionless validate --json datapackage.json` in that folder: its exit code and its report."""
    frictionless = Path(sys.executable).with_name("frictionless")
    result = subprocess.run(
        [str(frictionless), "validate", "--json", "datapackage.json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, json.loads(result.stdout)


def by_header(rows: list[list[object]]) -> list[dict[str, object]]:
    headers = [str(h) for h in rows[0]]
    return [dict(zip(headers, row, strict=False)) for row in rows[1:]]


async def test_items_deadlines_and_scorecards_as_csv_and_ods(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with served_reporting(commitments, new_reporting_database, nats_url, streams) as served:
        ids = served.story.ids
        async with served.client("admin") as admin:
            # Scorecards of the period: A's figures (worked out by hand in history.py) with French numbers.
            response = await admin.get(
                "/v1/exports/scorecards.csv", params={"from": PERIOD[0], "to": PERIOD[1]}
            )
            rows = read_csv(response)
            assert filename(response) == "fiches-partenaires-2026-03-01-2026-05-31.csv"
            assert rows[0][:5] == [
                "Partenaire",
                "Début de période",
                "Fin de période",
                "Retards comptés au",
                "Demandes envoyées",
            ]
            card = dict(zip(rows[0], rows[1], strict=True))
            assert [r[0] for r in rows[1:]] == ["Bailleur A", "Territoire B"]
            assert (card["Début de période"], card["Fin de période"], card["Retards comptés au"]) == (
                "01/03/2026",
                "31/05/2026",
                "15/06/2026",
            )
            assert card["Demandes envoyées"] == str(EXPECTED_A["requested"])
            assert card["Réponses dans le délai (%)"] == "66,7"
            assert card["Délai médian de réponse (jours ouvrés)"] == "10"
            assert card["Délai de réponse, 90e centile (jours ouvrés)"] == "14"
            assert (
                card["En retard"],
                card["En retard du fait du partenaire"],
                card["En retard du fait de la ville"],
                card["Très en retard"],
            ) == ("4", "2", "2", "1")
            assert (card["Relances parvenues"], card["Relances sans destinataire atteint"]) == ("2", "1")

            response = await admin.get(
                "/v1/exports/scorecards.ods", params={"from": PERIOD[0], "to": PERIOD[1]}
            )
            sheet, ods_rows = read_ods(response)
            assert filename(response) == "fiches-partenaires-2026-03-01-2026-05-31.ods"
            assert sheet == "Fiches partenaires"
            ods_card = by_header(ods_rows)[0]
            assert ods_card["Partenaire"] == "Bailleur A"
            assert ods_card["Début de période"] == date(2026, 3, 1)  # a date cell, not text
            assert ods_card["Réponses dans le délai (%)"] == 66.7
            assert ods_card["Délai médian de réponse (jours ouvrés)"] == 10.0

            # Items: every item of the plan, in the plan's order then by title.
            response = await admin.get("/v1/exports/items.csv")
            rows = read_csv(response)
            assert filename(response) == "elements-2026-06-15.csv"
            items = {row[4]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
            assert [row[4] for row in rows[1:]] == [
                "Demande c1",
                "Demande i1",
                "Demande i2",
                "Demande i3",
                "Demande i4",
                "Demande i5",
                "Demande i7",
                "Demande i8",
                "Demande i6",
            ]
            i3 = items["Demande i3"]
            assert (i3["Plan"], i3["Commune"], i3["Axe"], i3["Objectif"]) == (
                "Plan d'action du quartier",
                "Sceaux",
                "I – BIEN VIVRE",
                "A – CADRE DE VIE",
            )
            assert (i3["Nature"], i3["Statut"], i3["Partenaire pilote"], i3["En attente de"]) == (
                "demande",
                "en cours",
                "Bailleur A",
                "partenaire",
            )
            assert (
                i3["Avancement (%)"],
                i3["Envoyée le"],
                i3["Réponse le"],
                i3["Délai de réponse (jours ouvrés)"],
            ) == ("40", "20/04/2026", "12/05/2026", "14")
            assert (i3["Prochaine échéance"], i3["En retard"], i3["Identifiant"]) == (
                "01/06/2026",
                "oui",
                str(ids["i3"]),
            )
            i1 = items["Demande i1"]
            assert (
                i1["Statut"],
                i1["Avancement (%)"],
                i1["Vérifiée le"],
                i1["Prochaine échéance"],
                i1["En retard"],
            ) == ("vérifiée", "100", "17/04/2026", "", "non")
            assert items["Demande c1"]["Nature"] == "engagement de la ville"

            sheet, ods_rows = read_ods(await admin.get("/v1/exports/items.ods"))
            assert sheet == "Éléments"
            ods_items = {row["Intitulé"]: row for row in by_header(ods_rows)}
            assert len(ods_items) == 9
            assert ods_items["Demande i3"]["Prochaine échéance"] == date(2026, 6, 1)
            assert ods_items["Demande i3"]["Avancement (%)"] == 40.0

            # Deadlines: the open ones by date in force, with their slippage and lateness in working days.
            response = await admin.get("/v1/exports/deadlines.csv")
            rows = read_csv(response)
            assert filename(response) == "echeances-2026-06-15.csv"
            assert [(row[1], row[0], row[6]) for row in rows[1:]] == [
                ("Demande i4", "réponse", "13/02/2026"),
                ("Demande i5", "réponse", "29/05/2026"),
                ("Demande i6", "jalon", "29/05/2026"),
                ("Demande i3", "réalisation", "01/06/2026"),
                ("Demande i8", "réponse", "01/06/2026"),
            ]
            i5 = dict(zip(rows[0], rows[2], strict=True))
            assert (
                i5["Statut de l'élément"],
                i5["Partenaire pilote"],
                i5["En attente de"],
                i5["Retard (jours ouvrés)"],
            ) == ("brouillon", "Bailleur A", "ville", "11")
            # With the met ones: i3's response date moved from 30 April to 15 May, 8 working days.
            sheet, ods_rows = read_ods(
                await admin.get("/v1/exports/deadlines.ods", params={"include_met": "true"})
            )
            moved = [row for row in by_header(ods_rows) if row["Date initiale"] != row["Date en vigueur"]]
            assert [
                (
                    row["Élément"],
                    row["Date initiale"],
                    row["Date en vigueur"],
                    row["Glissement (jours ouvrés)"],
                )
                for row in moved
            ] == [("Demande i3", date(2026, 4, 30), date(2026, 5, 15), 8.0)]


async def test_a_partner_exports_only_its_own_organisation(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
) -> None:
    async with served_reporting(commitments, new_reporting_database, nats_url, streams) as served:
        ids = served.story.ids
        async with served.client("a") as a, served.client("b") as b:
            # A: its own requests and B's i7 where A is associated; never i8 (B's alone) nor c1.
            titles = {row[4] for row in read_csv(await a.get("/v1/exports/items.csv"))[1:]}
            assert titles == {f"Demande i{n}" for n in range(1, 8)}
            _, ods_rows = read_ods(await a.get("/v1/exports/items.ods"))
            assert {row["Intitulé"] for row in by_header(ods_rows)} == titles
            deadlines = {
                row[1]
                for row in read_csv(await a.get("/v1/exports/deadlines.csv", params={"include_met": "true"}))[
                    1:
                ]
            }
            assert "Demande i8" not in deadlines and deadlines <= titles
            cards = read_csv(await a.get("/v1/exports/scorecards.csv"))
            assert [row[0] for row in cards[1:]] == ["Bailleur A"]
            opendata = await a.get("/v1/exports/open-data/engagements.csv")
            assert "Demande i8" not in opendata.text and "Demande i1" in opendata.text
            # Another partner's rows do not exist for it.
            other = await a.get("/v1/exports/items.csv", params={"partner_id": str(ids["b"])})
            assert other.status_code == 404 and other.json()["detail"] == "Partenaire introuvable."
            assert (
                await a.get("/v1/exports/deadlines.ods", params={"partner_id": str(ids["b"])})
            ).status_code == 404
            # B: the items it leads (i7, i8, the commitment c1), none of A's.
            assert {row[4] for row in read_csv(await b.get("/v1/exports/items.csv"))[1:]} == {
                "Demande i7",
                "Demande i8",
                "Demande c1",
            }
        async with served.client() as stranger:
            assert (await stranger.get("/v1/exports/items.csv")).status_code == 401


async def test_open_data_passes_frictionless_validate(
    commitments: Commitments,
    new_reporting_database: NewDatabase,
    nats_url: str,
    streams: tuple[StreamSpec, StreamSpec],
    tmp_path: Path,
) -> None:
    async with (
        served_reporting(commitments, new_reporting_database, nats_url, streams) as served,
        served.client("reader") as reader,
    ):
        data = await reader.get("/v1/exports/open-data/engagements.csv")
        package = await reader.get("/v1/exports/open-data/datapackage.json")
        schema = await reader.get("/v1/exports/open-data/schema.json")
    assert data.status_code == 200 and data.headers["content-type"] == CSV_TYPE
    assert filename(data) == "engagements.csv" and not data.content.startswith(b"\xef\xbb\xbf")
    assert package.status_code == 200 and package.headers["content-type"] == "application/json"
    descriptor = package.json()
    assert descriptor["resources"][0]["schema"] == schema.json()
    (tmp_path / "engagements.csv").write_bytes(data.content)
    (tmp_path / "datapackage.json").write_bytes(package.content)

    # The real command line, on the files as served.
    returncode, report = await asyncio.to_thread(frictionless_validate, tmp_path)
    assert returncode == 0 and report["valid"] is True, json.dumps(report)[-3000:]
    assert report["tasks"][0]["stats"]["rows"] == 9

    # Public fields only: no person, no address, nothing from the deliveries.
    rows = list(csv.DictReader(io.StringIO(data.text)))
    assert set(rows[0]) == {field["name"] for field in schema.json()["fields"]}
    assert not {"contact", "email", "courriel", "nom", "personne"} & {name for row in rows for name in row}
    assert "@" not in data.text
    i3 = next(row for row in rows if row["intitule"] == "Demande i3")
    assert (
        i3["statut"],
        i3["partenaire_pilote"],
        i3["avancement"],
        i3["date_envoi"],
        i3["prochaine_echeance"],
        i3["en_retard"],
    ) == ("en cours", "Bailleur A", "40", "2026-04-20", "2026-06-01", "true")

    # A broken file is caught by the same command: the test can fail.
    (tmp_path / "engagements.csv").write_text(data.text.replace("en cours", "inventé"), encoding="utf-8")
    broken_code, broken = await asyncio.to_thread(frictionless_validate, tmp_path)
    assert broken_code != 0 and broken["valid"] is False
