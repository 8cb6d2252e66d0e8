"""The hazard closed loop worked in the app (issue 15).

Versions, idempotency, 延期, 督办 deadline, event actions, and enterprise accounts.

``hazards.version`` guards every transition (``UPDATE … WHERE version = :v``); ``request_key`` makes a
double-submitted report create one hazard; ``hazard_events.action``/``detail`` record what the app's
action entered (NULL for ledger loads). ``users.enterprise_id`` scopes an ``enterprise`` account.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
OLD_ROLES = "'admin', 'leader', 'grid_manager', 'planner', 'inspector'"
NEW_ROLES = OLD_ROLES + ", 'enterprise'"


def upgrade() -> None:
    """Apply the migration."""
    op.add_column('hazards', sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False))
    op.add_column('hazards', sa.Column('request_key', sa.String(length=64), nullable=True))
    op.add_column('hazards', sa.Column('extensions', sa.SmallInteger(), server_default=sa.text('0'), nullable=False))
    op.add_column('hazards', sa.Column('submitted_by', sa.String(length=50), nullable=True))
    op.add_column('hazards', sa.Column('supervision_deadline', sa.Date(), nullable=True))
    op.create_unique_constraint(op.f('uq_hazards_request_key'), 'hazards', ['request_key'])
    op.add_column('hazard_events', sa.Column('action', sa.String(length=20), nullable=True))
    op.add_column('hazard_events', sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('users', sa.Column('enterprise_id', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_users_enterprise_id_enterprises'), 'users', 'enterprises', ['enterprise_id'],
                          ['id'], ondelete='RESTRICT')
    op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
    op.create_check_constraint(op.f('ck_users_role'), 'users', f"role IS NULL OR role IN ({NEW_ROLES})")


def downgrade() -> None:
    """Revert the migration."""
    op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
    op.create_check_constraint(op.f('ck_users_role'), 'users', f"role IS NULL OR role IN ({OLD_ROLES})")
    op.drop_constraint(op.f('fk_users_enterprise_id_enterprises'), 'users', type_='foreignkey')
    op.drop_column('users', 'enterprise_id')
    op.drop_column('hazard_events', 'detail')
    op.drop_column('hazard_events', 'action')
    op.drop_constraint(op.f('uq_hazards_request_key'), 'hazards', type_='unique')
    for column in ('supervision_deadline', 'submitted_by', 'extensions', 'request_key', 'version'):
        op.drop_column('hazards', column)
