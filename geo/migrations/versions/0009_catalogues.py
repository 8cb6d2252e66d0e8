"""Catalogues (issue 17 part 5): supervision tiers 央属/省属 and the 重点监管 flag of enterprises.

``supervision_tier`` keeps its codes (1 市属, 2 县属, 3 乡属) and gains 4 央属 and 5 省属
(``domain.labels.SUPERVISION_TIER`` lists them in the plans' order); ``key_supervision`` marks the
重点监管单位 the 许昌 plan asks each grid to name ("明确各监管网格内重点监管单位…加大对重点单位的检查频次").
Industries stay text: their catalogue is data (``app_config`` ``industries``, domain/catalogues.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the migration."""
    op.drop_constraint(op.f('ck_enterprises_supervision_tier'), 'enterprises', type_='check')
    op.create_check_constraint(op.f('ck_enterprises_supervision_tier'), 'enterprises',
                               'supervision_tier IS NULL OR supervision_tier BETWEEN 1 AND 5')
    op.add_column('enterprises', sa.Column('key_supervision', sa.Boolean(), server_default=sa.text('false'),
                                           nullable=False))


def downgrade() -> None:
    """Revert the migration (央属/省属 enterprises lose their tier)."""
    op.drop_column('enterprises', 'key_supervision')
    op.execute("UPDATE enterprises SET supervision_tier = NULL WHERE supervision_tier > 3")
    op.drop_constraint(op.f('ck_enterprises_supervision_tier'), 'enterprises', type_='check')
    op.create_check_constraint(op.f('ck_enterprises_supervision_tier'), 'enterprises',
                               'supervision_tier IS NULL OR supervision_tier BETWEEN 1 AND 3')
