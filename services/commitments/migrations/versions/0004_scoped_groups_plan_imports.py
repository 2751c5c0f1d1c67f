"""Groups belong to a plan or a territory; a plan knows the texts imported into it; items keep their review flags.

- partners: `scope_plan_id` / `scope_territory` (a group has one, an organisation none); names are unique per
  scope (through partner_aliases), no longer across the directory.
- partner_aliases: `scope_key`; the matching key is unique within a scope. Keys are computed again: the former
  normalisation cut articles inside words ("les bailleurs" gave "s bailleurs", "Département" gave "partement").
  Should two partners now share a key in a scope, the later one is renamed "<name> (2)" if it is its name, and
  loses the alias otherwise.
- plans: `import_key` (commune + territory + title: two texts could merge) gives way to `plan_imports`, one row
  per text imported, by the text's SHA-256. A plan imported before this migration has no row: to import into
  it again, name it (`--plan`, `plan_id`).
- items: `review_flags`, [{code, message}]; a former `review_reason` becomes one flag "review" per line.

Each existing group is placed (docs/directory.md, "Migrating existing groups"):
- named by the items of one plan → that plan;
- named by items of several plans of one territory → that territory;
- named by items of plans of different territories → the oldest of those plans keeps it (members included);
  every other plan gets a copy of the group of its own, empty, its items repointed and flagged
  "group-without-members" (a member of the group for one plan must not be reached by another plan's requests);
- named by no item → the only plan, or the one territory of every plan; otherwise left without a scope
  ("unscoped"): no item may name it until it is given one (PATCH /v1/partners/{id}).

Downgrade: the groups stay apart; keys are computed the former way; where two partners then share a name (or an
alias key), the later ones are renamed "<name> (2)", "(3)" … (and their clashing aliases dropped) so that names are
unique across the directory again.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEADING_WORDS = re.compile(r"^(?:(?:aux|au|a|des|du|de|les|le|la)\s+|[dl]'\s*)+")
_FORMER_LEADING_WORDS = re.compile(r"^(?:(?:a|au|aux|de|du|des|d'|le|la|les|l')\s*)+", re.IGNORECASE)
_MOVED_MESSAGE = (
    "Le groupe « {name} » servait aussi à d'autres plans : ce plan a désormais le sien, sans "
    "membres (migration). Indiquer ses membres dans l'annuaire."
)


def _normalize(name: str, leading_words: re.Pattern[str] = _LEADING_WORDS) -> str:
    """services/commitments/partners/naming.py as of this migration (a migration must not follow later code)."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(char for char in text if not unicodedata.combining(char)).lower()
    text = text.replace("’", "'").replace("œ", "oe").replace("æ", "ae")
    text = re.sub(r"[^\w']+", " ", text).strip()
    text = leading_words.sub("", text)
    return re.sub(r"\s+", " ", text.replace("'", " ")).strip()


def _former_normalize(name: str) -> str:
    return _normalize(name, _FORMER_LEADING_WORDS)


partners = sa.table(
    "partners",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("is_group", sa.Boolean()),
    sa.column("siret", sa.String()),
    sa.column("scope_plan_id", sa.Uuid()),
    sa.column("scope_territory", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
aliases = sa.table(
    "partner_aliases",
    sa.column("id", sa.Uuid()),
    sa.column("partner_id", sa.Uuid()),
    sa.column("alias", sa.String()),
    sa.column("normalized", sa.String()),
    sa.column("scope_key", sa.String()),
)
plans = sa.table(
    "plans",
    sa.column("id", sa.Uuid()),
    sa.column("territory", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
items = sa.table(
    "items",
    sa.column("id", sa.Uuid()),
    sa.column("plan_id", sa.Uuid()),
    sa.column("needs_review", sa.Boolean()),
    sa.column("review_reason", sa.Text()),
    sa.column("review_flags", sa.JSON()),
)
item_partners = sa.table("item_partners", sa.column("item_id", sa.Uuid()), sa.column("partner_id", sa.Uuid()))


def upgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope_plan_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("scope_territory", sa.String(length=200), nullable=True))
        batch_op.drop_constraint(batch_op.f("uq_partners_name"), type_="unique")
        batch_op.create_index(batch_op.f("ix_partners_scope_plan_id"), ["scope_plan_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_partners_scope_plan_id_plans"),
            "plans",
            ["scope_plan_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_partners_organisation_unscoped"),
            "is_group OR (scope_plan_id IS NULL AND scope_territory IS NULL)",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_partners_one_scope"), "scope_plan_id IS NULL OR scope_territory IS NULL"
        )
    with op.batch_alter_table("partner_aliases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope_key", sa.String(length=320), server_default="", nullable=False))
        batch_op.drop_constraint(batch_op.f("uq_partner_aliases_normalized"), type_="unique")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_flags", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
    op.create_table(
        "plan_imports",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_imports_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_imports")),
        sa.UniqueConstraint("text_sha256", name=op.f("uq_plan_imports_text_sha256")),
    )
    with op.batch_alter_table("plan_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_imports_plan_id"), ["plan_id"], unique=False)
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_plans_import_key"), type_="unique")
        batch_op.drop_column("import_key")

    connection = op.get_bind()
    _review_reasons_to_flags(connection)
    _scope_existing_groups(connection)
    _recompute_keys(connection, _normalize, scoped=True)
    with op.batch_alter_table("partner_aliases", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_partner_aliases_scope_key_normalized", ["scope_key", "normalized"]
        )


def _review_reasons_to_flags(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.select(items.c.id, items.c.review_reason).where(items.c.review_reason.is_not(None))
    ).all()
    for item_id, reason in rows:
        flags = [{"code": "review", "message": line} for line in reason.splitlines() if line.strip()]
        connection.execute(items.update().where(items.c.id == item_id).values(review_flags=flags))


def _scope_existing_groups(connection: sa.Connection) -> None:
    every_plan = {
        plan_id: (territory, created_at)
        for plan_id, territory, created_at in connection.execute(
            sa.select(plans.c.id, plans.c.territory, plans.c.created_at)
        ).all()
    }
    groups = connection.execute(sa.select(partners).where(partners.c.is_group)).mappings().all()
    using: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for group_id, plan_id in connection.execute(
        sa.select(item_partners.c.partner_id, items.c.plan_id)
        .join(items, items.c.id == item_partners.c.item_id)
        .where(item_partners.c.partner_id.in_([group["id"] for group in groups]))
    ).all():
        using[group_id].add(plan_id)
    all_territories = {_normalize(territory or "") for territory, _ in every_plan.values()}
    for group in groups:
        used = sorted(using[group["id"]], key=lambda plan_id: every_plan[plan_id][1])
        territories = {_normalize(every_plan[plan_id][0] or "") for plan_id in used}
        if len(used) == 1:
            _place(connection, group["id"], plan_id=used[0])
        elif used and len(territories) == 1 and "" not in territories:
            _place(connection, group["id"], territory=every_plan[used[0]][0])
        elif used:
            _place(connection, group["id"], plan_id=used[0])
            for plan_id in used[1:]:
                _copy_for_plan(connection, group, plan_id)
        elif len(every_plan) == 1:
            _place(connection, group["id"], plan_id=next(iter(every_plan)))
        elif len(all_territories) == 1 and "" not in all_territories:
            _place(connection, group["id"], territory=next(iter(every_plan.values()))[0])
        else:
            _place(connection, group["id"])


def _scope_key(group_id: uuid.UUID, plan_id: uuid.UUID | None, territory: str | None) -> str:
    if plan_id is not None:
        return f"plan:{plan_id}"
    if territory is not None:
        return f"territory:{_normalize(territory)}"
    return f"unscoped:{group_id}"


def _place(
    connection: sa.Connection,
    group_id: uuid.UUID,
    plan_id: uuid.UUID | None = None,
    territory: str | None = None,
) -> None:
    connection.execute(
        partners.update()
        .where(partners.c.id == group_id)
        .values(scope_plan_id=plan_id, scope_territory=territory)
    )
    connection.execute(
        aliases.update()
        .where(aliases.c.partner_id == group_id)
        .values(scope_key=_scope_key(group_id, plan_id, territory))
    )


def _copy_for_plan(connection: sa.Connection, group: sa.RowMapping, plan_id: uuid.UUID) -> None:
    """An empty copy of `group` for `plan_id`, named by that plan's items instead, which are flagged."""
    copy_id = uuid.uuid4()
    now = datetime.now(UTC)
    connection.execute(
        partners.insert().values(
            id=copy_id,
            name=group["name"],
            kind=group["kind"],
            is_group=True,
            siret=group["siret"],
            scope_plan_id=plan_id,
            scope_territory=None,
            created_at=now,
            updated_at=now,
        )
    )
    for alias, normalized in connection.execute(
        sa.select(aliases.c.alias, aliases.c.normalized).where(aliases.c.partner_id == group["id"])
    ).all():
        connection.execute(
            aliases.insert().values(
                id=uuid.uuid4(),
                partner_id=copy_id,
                alias=alias,
                normalized=normalized,
                scope_key=f"plan:{plan_id}",
            )
        )
    plan_items = sa.select(items.c.id).where(items.c.plan_id == plan_id)
    connection.execute(
        item_partners.update()
        .where(item_partners.c.partner_id == group["id"], item_partners.c.item_id.in_(plan_items))
        .values(partner_id=copy_id)
    )
    message = _MOVED_MESSAGE.format(name=group["name"])
    for item_id, reason, flags in connection.execute(
        sa.select(items.c.id, items.c.review_reason, items.c.review_flags).where(
            items.c.id.in_(sa.select(item_partners.c.item_id).where(item_partners.c.partner_id == copy_id))
        )
    ).all():
        flags = json.loads(flags) if isinstance(flags, str) else list(flags or [])
        connection.execute(
            items.update()
            .where(items.c.id == item_id)
            .values(
                needs_review=True,
                review_reason="\n".join(filter(None, [reason, message])),
                review_flags=[*flags, {"code": "group-without-members", "message": message}],
            )
        )


def _recompute_keys(connection: sa.Connection, normalize: Callable[[str], str], scoped: bool) -> None:
    """Every alias row gets the key `normalize` gives; a key already held in its scope (across the directory when
    not `scoped`) by an earlier partner is dropped, or, for a partner's name, the name is numbered."""
    held: set[tuple[str, str]] = set()
    rows = connection.execute(
        sa.select(partners.c.id, partners.c.name).order_by(partners.c.created_at, partners.c.id)
    ).all()
    for partner_id, name in rows:
        names = connection.execute(
            sa.select(aliases.c.id, aliases.c.alias, aliases.c.scope_key).where(
                aliases.c.partner_id == partner_id
            )
        ).all()
        names = sorted(names, key=lambda row: (row.alias != name, row.alias))  # its name first
        for alias_id, alias, scope in names:
            scope = scope if scoped else ""
            key = normalize(alias)
            if alias == name and (scope, key) in held:
                count = 2
                while (scope, normalize(f"{name} ({count})")) in held:
                    count += 1
                alias = f"{name} ({count})"
                key = normalize(alias)
                connection.execute(partners.update().where(partners.c.id == partner_id).values(name=alias))
            elif (scope, key) in held:
                connection.execute(aliases.delete().where(aliases.c.id == alias_id))
                continue
            held.add((scope, key))
            connection.execute(
                aliases.update().where(aliases.c.id == alias_id).values(alias=alias, normalized=key)
            )


def downgrade() -> None:
    connection = op.get_bind()
    with op.batch_alter_table("partner_aliases", schema=None) as batch_op:
        batch_op.drop_constraint("uq_partner_aliases_scope_key_normalized", type_="unique")
    _recompute_keys(connection, _former_normalize, scoped=False)
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_key", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_plans_import_key"), ["import_key"])
    with op.batch_alter_table("plan_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_imports_plan_id"))
    op.drop_table("plan_imports")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("review_flags")
    with op.batch_alter_table("partner_aliases", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_partner_aliases_normalized"), ["normalized"])
        batch_op.drop_column("scope_key")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_partners_one_scope"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_partners_organisation_unscoped"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_partners_scope_plan_id_plans"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_partners_scope_plan_id"))
        batch_op.create_unique_constraint(batch_op.f("uq_partners_name"), ["name"])
        batch_op.drop_column("scope_territory")
        batch_op.drop_column("scope_plan_id")
