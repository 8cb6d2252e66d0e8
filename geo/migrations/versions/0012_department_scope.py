"""Department scope (issue 18 part 5): enterprises and accounts carry a supervising department's code.

``enterprises.dept_code`` is the catalogue code (domain/catalogues.py) of the enterprise's 行业主管部门, indexed with
``id`` for the department predicate of geo/scope.py; it is backfilled from the free-text ``supervising_dept`` (a
department name or alias found in it) and, where that names none, from the industry's default department.
``users.dept_code`` scopes an account to one department. The defaults of the catalogue are used: nothing is
stored under ``app_config`` ``departments`` before this revision.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 16:50:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from domain.catalogues import DepartmentCatalogue

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the migration."""
    op.add_column('enterprises', sa.Column('dept_code', sa.String(length=20), nullable=True))
    op.add_column('users', sa.Column('dept_code', sa.String(length=20), nullable=True))
    conn = op.get_bind()
    catalogue = DepartmentCatalogue()
    pairs = conn.execute(sa.text('SELECT DISTINCT "supervising_dept", "industry" FROM "enterprises"')).all()
    rows = [{"t": text or "", "i": industry or "", "c": catalogue.assign(text, industry)[0]} for text, industry in pairs]
    if rows:  # one hash join over the distinct (text, industry) pairs, not one scan per pair
        conn.execute(sa.text(
            'UPDATE "enterprises" e SET "dept_code" = m.c '
            'FROM jsonb_to_recordset(CAST(:m AS jsonb)) AS m(t text, i text, c text) '
            'WHERE coalesce(e."supervising_dept", \'\') = m.t AND coalesce(e."industry", \'\') = m.i'),
            {"m": json.dumps(rows, ensure_ascii=False)})
    op.create_index('ix_enterprises_dept_code', 'enterprises', ['dept_code', 'id'], unique=False)


def downgrade() -> None:
    """Revert the migration."""
    op.drop_index('ix_enterprises_dept_code', table_name='enterprises')
    op.drop_column('users', 'dept_code')
    op.drop_column('enterprises', 'dept_code')
