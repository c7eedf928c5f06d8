"""grievance draft token: one case per intake draft (a Send pressed again finds the case already stored)

A unique index rather than a unique constraint, so SQLite adds it without rebuilding the grievances table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 12:49:53.268178
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('grievances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('draft_token', sa.String(length=32), nullable=True))
        batch_op.create_index('uq_grievances_member_draft', ['member_id', 'draft_token'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('grievances', schema=None) as batch_op:
        batch_op.drop_index('uq_grievances_member_draft')
        batch_op.drop_column('draft_token')
