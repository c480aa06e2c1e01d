"""agreement, signatures, outcome, satisfaction, playback jobs, roles and stored deadlines

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 01:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("agreements") as batch:
        batch.add_column(sa.Column("sitting_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("status", sa.String(20), nullable=False, server_default="draft"))
        batch.add_column(sa.Column("template", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("terms", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("amount", sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column("performance_due_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("performed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("verification_code", sa.String(24), nullable=True))
        batch.add_column(sa.Column("pdf_path", sa.String(500), nullable=True))
        batch.add_column(sa.Column("pdf_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("updated_at", TZ, nullable=True))
        batch.create_foreign_key("fk_agreements_sitting", "sittings", ["sitting_id"], ["id"])
        batch.create_unique_constraint("uq_agreements_verification_code", ["verification_code"])
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("participant_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("image_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("voided_at", TZ, nullable=True))
    with op.batch_alter_table("sittings") as batch:
        batch.add_column(sa.Column("outcome_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("scheduled_at", TZ, nullable=True))
        batch.add_column(sa.Column("next_sitting_at", TZ, nullable=True))
    with op.batch_alter_table("mediators") as batch:
        batch.add_column(
            sa.Column("role", sa.String(20), nullable=False, server_default="mediator")
        )
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("acceptance_due_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("conclusion_due_on", sa.Date(), nullable=True))
    op.create_table(
        "satisfaction",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("sitting_id", sa.Integer(), sa.ForeignKey("sittings.id"), nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("invitation_id", sa.String(32), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False, server_default=""),
        sa.Column("at", TZ, nullable=False),
        sa.UniqueConstraint("case_id", "role", name="uq_satisfaction_case_role"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_satisfaction_rating"),
    )
    op.create_index("ix_satisfaction_case_id", "satisfaction", ["case_id"])
    op.create_table(
        "playback_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("sitting_id", sa.Integer(), sa.ForeignKey("sittings.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False, server_default="0"),
        sa.Column("requested_by", sa.String(120), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("path", sa.String(500), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("started_at", TZ, nullable=True),
        sa.Column("heartbeat_at", TZ, nullable=True),
        sa.Column("finished_at", TZ, nullable=True),
    )
    op.create_index("ix_playback_jobs_case_id", "playback_jobs", ["case_id"])
    op.create_index("ix_playback_jobs_status", "playback_jobs", ["status"])


def downgrade() -> None:
    op.drop_table("playback_jobs")
    op.drop_table("satisfaction")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("conclusion_due_on")
        batch.drop_column("acceptance_due_on")
    with op.batch_alter_table("mediators") as batch:
        batch.drop_column("role")
    with op.batch_alter_table("sittings") as batch:
        batch.drop_column("next_sitting_at")
        batch.drop_column("scheduled_at")
        batch.drop_column("outcome_reason")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_column("voided_at")
        batch.drop_column("image_sha256")
        batch.drop_column("participant_id")
    with op.batch_alter_table("agreements") as batch:
        batch.drop_constraint("uq_agreements_verification_code", type_="unique")
        batch.drop_constraint("fk_agreements_sitting", type_="foreignkey")
        for name in (
            "updated_at",
            "pdf_sha256",
            "pdf_path",
            "verification_code",
            "performed_on",
            "performance_due_on",
            "amount",
            "terms",
            "version",
            "template",
            "status",
            "sitting_id",
        ):
            batch.drop_column(name)
