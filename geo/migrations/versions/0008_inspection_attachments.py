"""Attachments of enterprise inspections (issue 16 part 3): 现场照片 and 签字文书 of an inspection.

``attachments`` gains a third owner, ``inspection_id`` (deleted with its inspection), and two kinds,
``scene`` and ``document``; the owner check accepts any of the three. ``attachments`` already bumps
``data_versions`` (0006).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS_BEFORE = "'finding', 'before', 'after', 'evidence', 'report'"
_KINDS_AFTER = _KINDS_BEFORE + ", 'scene', 'document'"


def upgrade() -> None:
    """Apply the migration."""
    op.add_column('attachments', sa.Column('inspection_id', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_attachments_inspection_id_inspections'), 'attachments', 'inspections',
                          ['inspection_id'], ['id'], ondelete='CASCADE')
    op.create_index('ix_attachments_inspection_id', 'attachments', ['inspection_id'], unique=False,
                    postgresql_where=sa.text('inspection_id IS NOT NULL'))
    op.drop_constraint(op.f('ck_attachments_owner'), 'attachments', type_='check')
    op.create_check_constraint(
        op.f('ck_attachments_owner'), 'attachments',
        '(hazard_id IS NOT NULL) OR (report_id IS NOT NULL) OR (inspection_id IS NOT NULL)')
    op.drop_constraint(op.f('ck_attachments_kind'), 'attachments', type_='check')
    op.create_check_constraint(op.f('ck_attachments_kind'), 'attachments', f'kind IS NULL OR kind IN ({_KINDS_AFTER})')


def downgrade() -> None:
    """Revert the migration (an inspection's attachments go with the column)."""
    op.execute("DELETE FROM attachments WHERE hazard_id IS NULL AND report_id IS NULL")
    op.drop_constraint(op.f('ck_attachments_kind'), 'attachments', type_='check')
    op.create_check_constraint(op.f('ck_attachments_kind'), 'attachments', f'kind IS NULL OR kind IN ({_KINDS_BEFORE})')
    op.drop_constraint(op.f('ck_attachments_owner'), 'attachments', type_='check')
    op.create_check_constraint(op.f('ck_attachments_owner'), 'attachments',
                               '(hazard_id IS NOT NULL) OR (report_id IS NOT NULL)')
    op.drop_index('ix_attachments_inspection_id', table_name='attachments',
                  postgresql_where=sa.text('inspection_id IS NOT NULL'))
    op.drop_constraint(op.f('fk_attachments_inspection_id_inspections'), 'attachments', type_='foreignkey')
    op.drop_column('attachments', 'inspection_id')
