"""Requests for footage, their change history and sealed paperwork; holds name a request.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

BASES = (
    "basis IN ('voluntary', 'preservation', 'subpoena', 'court_order', 'search_warrant', "
    "'emergency_claim')"
)
STATES = (
    "state IN ('received', 'under_review', 'fulfilled', 'partially_fulfilled', 'declined', "
    "'expired', 'withdrawn')"
)


# The three tables refuse DELETE in the database itself (docs/design/requests.md): the ORM
# refuses too, but a trigger also stops a bulk ``DELETE FROM`` and a hand-typed one.
NEVER_DELETED = ("requests", "request_changes", "request_papers")
PG_FUNCTION = """
CREATE FUNCTION porchlight_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted', TG_TABLE_NAME;
END $$
"""


def _guard_deletes() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
    for table in NEVER_DELETED:
        if dialect == "sqlite":
            op.execute(
                f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are never deleted'); END"
            )
        elif dialect == "postgresql":
            op.execute(
                f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION porchlight_never_deleted()"
            )


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("badge", sa.String(length=100), nullable=False),
        sa.Column("contact", sa.String(length=300), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("basis", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cameras", sa.String(length=2000), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("notes", sa.String(length=10000), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(BASES, name=op.f("ck_requests_basis")),
        sa.CheckConstraint(STATES, name=op.f("ck_requests_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
    )
    op.create_index(op.f("ix_requests_deadline"), "requests", ["deadline"])
    op.create_index(op.f("ix_requests_state"), "requests", ["state"])
    op.create_table(
        "request_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("actor_user", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("changes", sa.String(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_request_changes_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_changes")),
    )
    op.create_index(op.f("ix_request_changes_request_id"), "request_changes", ["request_id"])
    op.create_table(
        "request_papers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("meta_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_request_papers_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_papers")),
        sa.UniqueConstraint("path", name=op.f("uq_request_papers_path")),
    )
    op.create_index(op.f("ix_request_papers_request_id"), "request_papers", ["request_id"])
    _guard_deletes()
    with op.batch_alter_table("holds") as batch:
        batch.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_holds_request_id_requests"), "requests", ["request_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("holds") as batch:
        batch.drop_constraint(batch.f("fk_holds_request_id_requests"), type_="foreignkey")
        batch.drop_column("request_id")
    op.drop_index(op.f("ix_request_papers_request_id"), table_name="request_papers")
    op.drop_table("request_papers")
    op.drop_index(op.f("ix_request_changes_request_id"), table_name="request_changes")
    op.drop_table("request_changes")
    op.drop_index(op.f("ix_requests_state"), table_name="requests")
    op.drop_index(op.f("ix_requests_deadline"), table_name="requests")
    op.drop_table("requests")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION porchlight_never_deleted()")
