"""Share links to export bundles (docs/design/share-links.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bundle", sa.String(length=64), nullable=True),
        sa.Column("file", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_downloads", sa.Integer(), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=2000), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_links")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_share_links_token_sha256")),
    )
    op.create_index(op.f("ix_share_links_consent_id"), "share_links", ["consent_id"])
    # Never deleted (revocation, expiry and use are states), like consents.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER share_links_never_deleted BEFORE DELETE ON share_links "
            "BEGIN SELECT RAISE(ABORT, 'share_links rows are never deleted'); END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER share_links_never_deleted BEFORE DELETE ON share_links "
            "FOR EACH ROW EXECUTE FUNCTION porchlight_never_deleted()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS share_links_never_deleted")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS share_links_never_deleted ON share_links")
    op.drop_index(op.f("ix_share_links_consent_id"), table_name="share_links")
    op.drop_table("share_links")
