"""Loading over HTTP: the ``load_job`` table, one row per uploaded file loaded in the background.

Revision ID: 0002_loading
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_loading"
down_revision = "0007_lifecycle_security"
branch_labels = None
depends_on = None

JSONB_EMPTY = sa.text("'{}'::jsonb")


def upgrade() -> None:
    op.create_table(
        "load_job",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), server_default="queued", nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False, comment="the uploaded file's name, made safe"),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("options", postgresql.JSONB(), server_default=JSONB_EMPTY, nullable=False),
        sa.Column("scope", postgresql.ARRAY(sa.Text()), nullable=True, comment="region scope; NULL = unrestricted"),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("client_addr", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("worker", sa.Text(), nullable=True, comment="host:pid of the process running the job"),
        sa.Column("rows_done", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows_total", sa.BigInteger(), nullable=True),
        sa.Column("batch_id", sa.BigInteger(), nullable=True),
        sa.Column("exit_code", sa.SmallInteger(), nullable=True, comment="as `landgis load` would exit"),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("report", postgresql.JSONB(), nullable=True, comment="the load report with every issue"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('parcels', 'enterprises', 'occupancy', 'figures')", name="ck_load_job_kind"),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'partial', 'failed')", name="ck_load_job_status"
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["load_batch.id"], name="fk_load_job_batch_id_load_batch", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_load_job"),
    )
    op.create_index("ix_load_job_status", "load_job", ["status"])
    op.create_index("ix_load_job_created_at", "load_job", ["created_at"])


def downgrade() -> None:
    op.drop_table("load_job")
