"""Footage index: segments and legal holds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_segments_camera_id_cameras")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("path", name=op.f("uq_segments_path")),
        sa.UniqueConstraint("camera_id", "seq", name=op.f("uq_segments_camera_id_seq")),
    )
    op.create_index(
        op.f("ix_segments_camera_id_start_time"), "segments", ["camera_id", "start_time"]
    )
    op.create_index(op.f("ix_segments_state"), "segments", ["state"])
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_holds_camera_id_cameras")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )


def downgrade() -> None:
    op.drop_table("holds")
    op.drop_index(op.f("ix_segments_state"), table_name="segments")
    op.drop_index(op.f("ix_segments_camera_id_start_time"), table_name="segments")
    op.drop_table("segments")
