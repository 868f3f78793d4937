"""Add the signup key that makes a re-sent submission idempotent.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTERs, not batch mode: on SQLite a batch rebuild of the table would lose
# the expression index on lower(email), which SQLAlchemy cannot reflect.


def upgrade() -> None:
    op.add_column("account", sa.Column("signup_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("account", "signup_key")
