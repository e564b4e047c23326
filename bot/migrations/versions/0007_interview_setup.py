"""What an interview is set up with and never changes (its practice suggestions) gets a column of
its own, written once, so a step no longer rewrites it with the state (it was ~80% of the state).

Revision ID: 0007
Revises: 0006
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SETUP_KEYS = ("suggestions",)
_interviews = sa.table(
    "interviews", sa.column("id", sa.String), sa.column("state", sa.Text), sa.column("setup", sa.Text)
)


def upgrade() -> None:
    op.add_column("interviews", sa.Column("setup", sa.Text, nullable=True))
    connection = op.get_bind()
    moved = []
    for interview_id, state in connection.execute(sa.select(_interviews.c.id, _interviews.c.state)):
        data = json.loads(state)
        setup = {key: data.pop(key) for key in SETUP_KEYS if key in data}
        moved.append({"b_id": interview_id, "b_state": json.dumps(data), "b_setup": json.dumps(setup)})
    if moved:
        connection.execute(
            sa.update(_interviews)
            .where(_interviews.c.id == sa.bindparam("b_id"))
            .values(state=sa.bindparam("b_state"), setup=sa.bindparam("b_setup")),
            moved,
        )


def downgrade() -> None:
    connection = op.get_bind()
    back = []
    for interview_id, state, setup in connection.execute(
        sa.select(_interviews.c.id, _interviews.c.state, _interviews.c.setup)
    ):
        back.append(
            {"b_id": interview_id, "b_state": json.dumps({**json.loads(setup or "{}"), **json.loads(state)})}
        )
    if back:
        connection.execute(
            sa.update(_interviews)
            .where(_interviews.c.id == sa.bindparam("b_id"))
            .values(state=sa.bindparam("b_state")),
            back,
        )
    with op.batch_alter_table("interviews") as batch:
        batch.drop_column("setup")
