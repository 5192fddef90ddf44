"""Sealed event index: camera and hour bucket only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Deliberately nothing else in plaintext: no type, no exact time, no score, and no
    # thumbnail column (docs/threat-model.md, "What the disk reveals without a key").
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("hour_bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed_path", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_events_camera_id_cameras")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("sealed_path", name=op.f("uq_events_sealed_path")),
    )
    op.create_index(op.f("ix_events_camera_id_hour_bucket"), "events", ["camera_id", "hour_bucket"])
    op.create_index(op.f("ix_events_hour_bucket"), "events", ["hour_bucket"])


def downgrade() -> None:
    op.drop_index(op.f("ix_events_hour_bucket"), table_name="events")
    op.drop_index(op.f("ix_events_camera_id_hour_bucket"), table_name="events")
    op.drop_table("events")
