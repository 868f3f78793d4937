"""Sign-in sessions and the tickets a tab exchanges for its cookie.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sign_in_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        _timestamp("created_at"),
        _timestamp("last_seen_at"),
        _timestamp("idle_expires_at"),
        _timestamp("absolute_expires_at"),
        sa.Column("device", sa.String(length=80), nullable=False),
        _timestamp("revoked_at", nullable=True),
    )
    op.create_index("ix_sign_in_session_account_id", "sign_in_session", ["account_id"])
    op.create_index("ix_sign_in_session_absolute_expires_at", "sign_in_session", ["absolute_expires_at"])
    op.create_table(
        "sign_in_ticket",
        sa.Column("ticket_hash", sa.String(length=64), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("tab_hash", sa.String(length=64), nullable=False),
        _timestamp("expires_at"),
    )
    op.create_index("ix_sign_in_ticket_expires_at", "sign_in_ticket", ["expires_at"])


def downgrade() -> None:
    op.drop_table("sign_in_ticket")
    op.drop_table("sign_in_session")
