"""Signed consents to release a clip (docs/design/consent-and-export.md).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("record", sa.String(), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_consents_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_request_id"), "consents", ["request_id"])
    # Never deleted (revocation is a state): the database refuses DELETE, like requests.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER consents_never_deleted BEFORE DELETE ON consents "
            "BEGIN SELECT RAISE(ABORT, 'consents rows are never deleted'); END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER consents_never_deleted BEFORE DELETE ON consents "
            "FOR EACH ROW EXECUTE FUNCTION porchlight_never_deleted()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS consents_never_deleted")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS consents_never_deleted ON consents")
    op.drop_index(op.f("ix_consents_request_id"), table_name="consents")
    op.drop_table("consents")
