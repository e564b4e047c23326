"""Daily problem prompts: each channel's schedule, each day's post, and who started from it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("hhmm", sa.String(5), nullable=False),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("days", sa.String(40), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("skips", sa.Text, nullable=False, server_default="[]"),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("paused_reason", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "daily_posts",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("local_date", sa.String(10), primary_key=True),
        sa.Column("problem", sa.String(80), nullable=False),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("claimed_at", sa.Float, nullable=False),
    )
    op.create_table(
        "daily_starts",
        sa.Column("post_ts", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("interview_id", sa.String(64), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("daily_starts")
    op.drop_table("daily_posts")
    op.drop_table("schedules")
