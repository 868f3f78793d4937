"""One canonical email key carries the unique index; only a hash of the signup key is kept.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Upgrade: adds account.email_key (validation.email_key(email): NFKC, case-folded), filled in
Python in batches, NOT NULL, unique; drops the unique index on lower(email). Replaces
signup_key by signup_key_hash (SHA-256 hex, unique), kept only for keys that can still be
honoured: those of accounts made in the last 24 hours, and of two accounts sharing a key, only
the older one's.

Two existing accounts whose addresses have the same key (e.g. 'STRASSE@x' and 'straße@x')
stop the upgrade before anything is changed, with their ids: which one keeps the address is
the operator's decision, not the migration's.

Downgrade: restores signup_key (empty: a hash cannot be turned back into a key) and the index
on lower(email). It refuses, before changing anything, when the database's lower() makes two
remaining addresses one (possible only where lower() and the email key disagree).
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from signup_app.accounts.models import signup_key_hash
from signup_app.accounts.validation import email_key

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH_ROWS = 1000
KEY_MAX_CHARS = 254
SIGNUP_KEY_LIFETIME = timedelta(hours=24)

_account = sa.table(
    "account",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("email_key", sa.String),
    sa.column("signup_key", sa.String),
    sa.column("signup_key_hash", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


class EmailKeyCollision(RuntimeError):
    """Existing accounts that the new unique email key would make one: resolve them first."""


def _rows(bind: sa.Connection) -> Iterator[sa.Row]:
    """Every account, by id, BATCH_ROWS at a time."""
    last = 0
    while True:
        query = (
            sa.select(_account.c.id, _account.c.email, _account.c.signup_key, _account.c.created_at)
            .where(_account.c.id > last)
            .order_by(_account.c.id)
            .limit(BATCH_ROWS)
        )
        batch = bind.execute(query).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].id


def _new_values(bind: sa.Connection) -> list[dict[str, object]]:
    """Each row's email key and key hash; raises EmailKeyCollision before anything is written."""
    cutoff = datetime.now(UTC) - SIGNUP_KEY_LIFETIME
    values: list[dict[str, object]] = []
    holders: dict[str, list[int]] = {}
    seen_hashes: set[str] = set()
    too_long: list[int] = []
    for row in _rows(bind):
        key = email_key(row.email)
        holders.setdefault(key, []).append(row.id)
        if len(key) > KEY_MAX_CHARS:
            too_long.append(row.id)
        created = row.created_at
        if isinstance(created, str):  # SQLite without type affinity
            created = datetime.fromisoformat(created)
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        key_hash = None
        if row.signup_key and created is not None and created > cutoff:
            key_hash = signup_key_hash(row.signup_key)
            if key_hash in seen_hashes:  # rows come oldest id first: the first keeps it
                key_hash = None
            else:
                seen_hashes.add(key_hash)
        values.append({"row_id": row.id, "key": key, "key_hash": key_hash})
    collisions = [ids for ids in holders.values() if len(ids) > 1]
    if collisions or too_long:
        raise EmailKeyCollision(
            "account email keys: accounts with the same email key (ids) "
            f"{collisions[:20]}{' ...' if len(collisions) > 20 else ''}; "
            f"email keys over {KEY_MAX_CHARS} characters (ids) {too_long[:20]}. "
            "Merge or change those accounts' addresses, then migrate again."
        )
    return values


def upgrade() -> None:
    bind = op.get_bind()
    values = _new_values(bind)
    op.add_column("account", sa.Column("email_key", sa.String(length=KEY_MAX_CHARS), nullable=True))
    op.add_column("account", sa.Column("signup_key_hash", sa.String(length=64), nullable=True))
    update = (
        sa.update(_account)
        .where(_account.c.id == sa.bindparam("row_id"))
        .values(email_key=sa.bindparam("key"), signup_key_hash=sa.bindparam("key_hash"))
    )
    for start in range(0, len(values), BATCH_ROWS):
        bind.execute(update, values[start : start + BATCH_ROWS])
    # Dropped before the batch below: on SQLite that rebuilds the table, and SQLAlchemy cannot
    # reflect this expression index to carry it over.
    op.drop_index("uq_account_email_lower", table_name="account")
    with op.batch_alter_table("account") as batch:
        batch.alter_column("email_key", existing_type=sa.String(length=KEY_MAX_CHARS), nullable=False)
        batch.drop_column("signup_key")
    op.create_index("uq_account_email_key", "account", ["email_key"], unique=True)
    op.create_index("uq_account_signup_key_hash", "account", ["signup_key_hash"], unique=True)


def downgrade() -> None:
    lowered = sa.func.lower(_account.c.email)
    clashes = (
        op.get_bind()
        .execute(sa.select(lowered).group_by(lowered).having(sa.func.count() > 1).limit(20))
        .scalars()
        .all()
    )
    if clashes:
        raise EmailKeyCollision(f"addresses that lower(email) would make one: {clashes}; change them first.")
    op.drop_index("uq_account_signup_key_hash", table_name="account")
    op.drop_index("uq_account_email_key", table_name="account")
    with op.batch_alter_table("account") as batch:
        batch.drop_column("signup_key_hash")
        batch.drop_column("email_key")
        batch.add_column(sa.Column("signup_key", sa.String(length=64), nullable=True))
    op.create_index("uq_account_email_lower", "account", [sa.text("lower(email)")], unique=True)
