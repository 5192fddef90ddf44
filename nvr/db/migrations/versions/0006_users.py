"""Dashboard accounts: users, the cameras each viewer may watch, install windows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        # NULL for the owner, who signs in with the key passphrase.
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'viewer', 'installer')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    # At most one owner, whichever writer gets there first (two first-run requests race).
    op.create_index(
        "ix_users_one_owner",
        "users",
        ["role"],
        unique=True,
        sqlite_where=sa.text("role = 'owner'"),
        postgresql_where=sa.text("role = 'owner'"),
    )
    op.create_table(
        "viewer_cameras",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_viewer_cameras_camera_id_cameras")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_viewer_cameras_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "camera_id", name=op.f("pk_viewer_cameras")),
    )
    op.create_table(
        "install_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opened_by", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["users.id"], name=op.f("fk_install_windows_opened_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_install_windows")),
    )
    op.create_index(op.f("ix_install_windows_expires_at"), "install_windows", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_install_windows_expires_at"), table_name="install_windows")
    op.drop_table("install_windows")
    op.drop_table("viewer_cameras")
    op.drop_index("ix_users_one_owner", table_name="users")
    op.drop_table("users")
