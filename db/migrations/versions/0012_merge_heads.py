"""merge heads: 0007 engagement, 0008 broadcasts, 0009 surveys, 0010 privacy and limits, 0011 digest log,
each made on top of 0006, join here (nothing to change in the schema)

Revision ID: 0012
Revises: 0007, 0008, 0009, 0010, 0011
Create Date: 2026-11-25 12:49:41.336577
"""

from __future__ import annotations

revision = '0012'
down_revision = ('0007', '0008', '0009', '0010', '0011')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
