"""Pair interviews: who interviews and who started it, and the interviewer's scorecard.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interviews") as batch:
        batch.add_column(sa.Column("mode", sa.String(16), nullable=False, server_default="solo"))
        batch.add_column(sa.Column("interviewer_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("creator_id", sa.String(32), nullable=True))
    op.create_table(
        "scorecards",
        sa.Column(
            "interview_id",
            sa.String(64),
            sa.ForeignKey("interviews.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("interviewer_id", sa.String(32), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("submitted_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("self_rating", sa.Text, nullable=True),
        sa.Column("posted_channel", sa.String(32), nullable=True),
        sa.Column("posted_ts", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("scorecards")
    with op.batch_alter_table("interviews") as batch:
        batch.drop_column("creator_id")
        batch.drop_column("interviewer_id")
        batch.drop_column("mode")
