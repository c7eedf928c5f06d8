"""sla reminders: the deadline each reminder was sent for

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('grievances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledge_reminded_for', db.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('resolve_reminded_for', db.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('grievances', schema=None) as batch_op:
        batch_op.drop_column('resolve_reminded_for')
        batch_op.drop_column('acknowledge_reminded_for')
