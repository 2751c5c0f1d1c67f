"""The commitments data set the PostgreSQL scenarios load (items_by_partner, overload), straight into the tables
with COPY (never through the API), and the API keys they call with.

Seeded: 20 plans × 5 axes × 4 objectives; partners, 1 in 40 a group of 8 members; items (ids from
`shared.db.new_id()`, so time-ordered) with 1 lead partner (2% of them a group), 0–2 associated partners, 1–2
tags and 1–2 deadlines, about 35% of them met.
"""

from __future__ import annotations

import collections
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

TAGS = [
    "logement",
    "voirie",
    "propreté",
    "sécurité",
    "jeunesse",
    "emploi",
    "commerce",
    "transport",
    "santé",
    "éducation",
    "culture",
    "sport",
    "espaces verts",
    "éclairage",
    "stationnement",
    "accessibilité",
    "rénovation",
    "médiation",
    "insertion",
    "seniors",
    "petite enfance",
    "numérique",
    "énergie",
    "eau",
    "déchets",
    "tranquillité",
    "associations",
    "concertation",
    "mobilité douce",
    "patrimoine",
    "plan d'action municipal 2021",
    "Sceaux",
    "quartier des Blagis",
    "priorité 1",
    "priorité 2",
    "bailleurs",
    "copropriétés",
    "écoles",
    "marché",
    "vie locale",
]
_TEXT = (
    "la ville demande au bailleur de rénover les halls d'entrée et de remplacer les boîtes aux lettres "
    "du centre commercial afin d'améliorer la propreté des parties communes et la sécurité des accès "
    "aux parkings souterrains tout en associant les habitants à la concertation sur l'aménagement des "
    "espaces extérieurs le département s'engage à étudier la requalification de l'avenue et la "
    "création d'une piste cyclable sécurisée entre la gare et le collège ainsi que le renforcement de "
    "l'éclairage public aux abords des écoles maternelles et élémentaires du quartier"
)
WORDS = _TEXT.split()
REQUEST_STATUSES = [
    "draft",
    "sent",
    "acknowledged",
    "accepted",
    "partially_accepted",
    "declined",
    "no_answer",
    "in_progress",
    "delivered",
    "verified",
    "abandoned",
]
COMMITMENT_STATUSES = ["planned", "in_progress", "done", "abandoned"]
PARTNER_KINDS = ["bailleur", "association", "etat", "departement", "entreprise", "etablissement"]


@dataclass
class Dataset:
    partner_ids: list[uuid.UUID]  # the ordinary partners (not groups) the load cycles over
    counts: dict[str, int]


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words: list[str] = []
    size = rng.randint(low, high)
    while sum(len(w) + 1 for w in words) < size:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize()


async def load_dataset(connection: Any, n_items: int, n_partners: int, seed: int) -> Dataset:
    """Plans, axes, objectives, partners (a few groups among them), items with 1 lead + 0-2 associated
    partners, 1-2 tags and 1-2 deadlines each; ids from shared.db.new_id() so they are time-ordered."""
    from shared.db import new_id

    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    n_groups = max(1, n_partners // 40)
    partners = []
    for index in range(n_partners):
        is_group = index < n_groups
        name = f"Groupe de partenaires {index:03d}" if is_group else f"Partenaire {index:04d}"
        siret = None if is_group or rng.random() < 0.5 else f"{rng.randrange(10**13, 10**14)}"
        partners.append(
            (new_id(), name, "groupe" if is_group else rng.choice(PARTNER_KINDS), is_group, siret, now, now)
        )
    groups = [row[0] for row in partners[:n_groups]]
    members = [row[0] for row in partners[n_groups:]]
    memberships = [
        (group, member) for group in groups for member in rng.sample(members, min(8, len(members)))
    ]

    plans, axes, objectives = [], [], []
    for plan_number in range(20):
        plan_id = new_id()
        plans.append(
            (
                plan_id,
                f"Plan d'action {plan_number:02d}",
                "Sceaux",
                f"Quartier {plan_number:02d}",
                date(2021, 1, 1) + timedelta(days=30 * plan_number),
                now,
            )
        )
        for axis_number in range(1, 6):
            axis_id = new_id()
            axes.append((axis_id, plan_id, str(axis_number), _sentence(rng, 30, 80), axis_number))
            for position, letter in enumerate("ABCD", start=1):
                objectives.append(
                    (
                        new_id(),
                        plan_id,
                        axis_id,
                        letter,
                        _sentence(rng, 30, 120),
                        _sentence(rng, 0, 200),
                        position,
                        str(axis_number),
                    )
                )

    sentences = [_sentence(rng, 80, 160) for _ in range(200)]
    titles = [_sentence(rng, 30, 110) for _ in range(500)]
    positions: dict[uuid.UUID, int] = collections.defaultdict(int)
    start = now - timedelta(days=3 * 365)
    step = timedelta(days=3 * 365) / max(n_items, 1)
    items, item_partners, item_tags, deadlines = [], [], [], []
    for index in range(n_items):
        item_id = new_id()
        objective_id, plan_id, axis_id, letter, *_rest, axis_label = objectives[
            rng.randrange(len(objectives))
        ]
        positions[objective_id] += 1
        position = positions[objective_id]
        is_request = rng.random() < 0.8
        status = rng.choice(REQUEST_STATUSES if is_request else COMMITMENT_STATUSES)
        created = start + step * index
        sent = is_request and status != "draft"
        needs_review = rng.random() < 0.05
        budget = Decimal(rng.randrange(100_000, 500_000_000)) / 100 if rng.random() < 0.3 else None
        items.append(
            (
                item_id,
                plan_id,
                axis_id,
                objective_id,
                position,
                f"{axis_label}.{letter}.{position}",
                "request" if is_request else "commitment",
                rng.choice(titles),
                " ".join(rng.sample(sentences, rng.randint(2, 5))),
                status,
                None,
                budget,
                needs_review,
                "Partenaire non reconnu dans le texte du plan." if needs_review else None,
                created.date() + timedelta(days=10) if sent else None,
                f"SCX/DGS/{created.year}-{index % 1000:03d}" if sent else None,
                rng.choice([10, 25, 50, 75, 90]) if status == "in_progress" else None,
                created.date() + timedelta(days=20) if status not in ("draft", "planned") else None,
                1,
                created,
                created,
            )
        )
        lead = rng.choice(groups) if rng.random() < 0.02 else rng.choice(members)
        item_partners.append((item_id, lead, "lead"))
        for partner in rng.sample(members, rng.choice((0, 0, 1, 2))):
            if partner != lead:
                item_partners.append((item_id, partner, "associated"))
        for tag in rng.sample(TAGS, rng.randint(1, 2)):
            item_tags.append((item_id, tag))
        for number in range(rng.randint(1, 2)):
            due = created.date() + timedelta(days=rng.randint(30, 1000))
            met = due - timedelta(days=rng.randint(0, 20)) if rng.random() < 0.35 else None
            deadlines.append(
                (
                    new_id(),
                    item_id,
                    ("response", "delivery", "milestone")[number + rng.randint(0, 1)],
                    None,
                    due,
                    None,
                    met,
                    1,
                    created,
                    created,
                )
            )

    tables: list[tuple[str, list[str], list[tuple[Any, ...]]]] = [
        ("partners", ["id", "name", "kind", "is_group", "siret", "created_at", "updated_at"], partners),
        ("partner_group_members", ["group_id", "member_id"], memberships),
        ("plans", ["id", "title", "commune", "territory", "adopted_on", "created_at"], plans),
        ("axes", ["id", "plan_id", "number", "title", "position"], axes),
        (
            "objectives",
            ["id", "plan_id", "axis_id", "letter", "title", "context", "position"],
            [row[:-1] for row in objectives],
        ),
        (
            "items",
            [
                "id",
                "plan_id",
                "axis_id",
                "objective_id",
                "position",
                "source_key",
                "kind",
                "title",
                "plan_text",
                "status",
                "owner_contact_id",
                "budget",
                "needs_review",
                "review_reason",
                "sent_on",
                "letter_reference",
                "progress_percent",
                "status_changed_on",
                "version",
                "created_at",
                "updated_at",
            ],
            items,
        ),
        ("item_partners", ["item_id", "partner_id", "role"], item_partners),
        ("item_tags", ["item_id", "tag"], item_tags),
        (
            "deadlines",
            [
                "id",
                "item_id",
                "kind",
                "label",
                "due_on",
                "original_wording",
                "met_on",
                "version",
                "created_at",
                "updated_at",
            ],
            deadlines,
        ),
    ]
    async with connection.transaction():
        for table, columns, records in tables:
            await connection.copy_records_to_table(table, records=records, columns=columns)
    # VACUUM too: a freshly copied table is not all-visible, and index-only scans would visit the heap,
    # which a database in steady state (autovacuum) does not.
    await connection.execute("VACUUM ANALYZE")
    ordinary = members[:]
    rng.shuffle(ordinary)
    return Dataset(partner_ids=ordinary, counts={table: len(records) for table, _, records in tables})


async def create_key(database_url: str, role: str, name: str) -> str:
    """An API key of `role` (no partner) created in the database, as `create-key` does; its secret."""
    from services.commitments.auth.service import create_key as create
    from shared.auth import SYSTEM, Role
    from shared.clock import SystemClock
    from shared.db import create_engine, create_sessionmaker

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            _, secret = await create(
                session, SYSTEM, SystemClock(), name=name, role=Role(role), partner_id=None
            )
    finally:
        await engine.dispose()
    return secret
