"""The sample data shipped with the commitments service (the plan of the Blagis and the directory of Sceaux) and
the test plans beside it, as paths and parsed files."""

from __future__ import annotations

import json
from pathlib import Path

from services.commitments.partners.directory import DirectoryFile

ROOT = Path(__file__).parents[3]
SAMPLE_PLAN = ROOT / "services/commitments/plans/sample_data/plan-action-blagis.txt"
SAMPLE_DIRECTORY = ROOT / "services/commitments/plans/sample_data/annuaire-sceaux.json"
CENTRE_VILLE = ROOT / "tests/services/commitments/plans/importer_fixtures/plan-centre-ville.txt"
BLAGIS = {"commune": "Sceaux", "territory": "Quartier des Blagis"}


def sample_directory() -> DirectoryFile:
    return DirectoryFile.model_validate(json.loads(SAMPLE_DIRECTORY.read_text(encoding="utf-8")))
