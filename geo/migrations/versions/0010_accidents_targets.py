"""Accidents and the five-year targets' denominators (issue 18 parts 1-2).

``accidents`` is the accident register (事故): GB 6441 type, toll, grade by 《生产安全事故报告和调查处理条例》
第三条, investigation; a point ledger like hazards (H3 cells, grid cell) that the app also writes
(``created_by``, ``request_key``). ``area_denominators`` holds an area's yearly GDP, 工矿商贸 employees and
motor vehicles, the denominators of the 临邑 plan's rates. Both bump ``data_versions`` like 0007's tables.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
VERSIONED = ("accidents", "area_denominators")
_TYPES = ("'struck_by', 'vehicle', 'machinery', 'lifting', 'electrocution', 'drowning', 'burn', 'fire', 'fall', "
          "'collapse', 'roof_fall', 'water_inrush', 'blasting', 'explosive', 'gas_explosion', 'boiler_explosion', "
          "'vessel_explosion', 'other_explosion', 'poisoning', 'other'")


def upgrade() -> None:
    """Apply the migration."""
    op.create_table('accidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('industry', sa.String(length=30), nullable=True),
    sa.Column('accident_type', sa.String(length=20), nullable=True),
    sa.Column('road_traffic', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('deaths', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('injuries', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('direct_loss_wan', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('grade', sa.String(length=12), nullable=False),
    sa.Column('investigation', sa.String(length=16), nullable=True),
    sa.Column('report', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=50), nullable=True),
    sa.Column('request_key', sa.String(length=64), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('h3_r6', sa.BigInteger(), nullable=True),
    sa.Column('h3_r7', sa.BigInteger(), nullable=True),
    sa.Column('h3_r8', sa.BigInteger(), nullable=True),
    sa.Column('h3_r9', sa.BigInteger(), nullable=True),
    sa.Column('source_run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint(f"accident_type IS NULL OR accident_type IN ({_TYPES})", name=op.f('ck_accidents_accident_type')),
    sa.CheckConstraint("grade IS NULL OR grade IN ('general', 'larger', 'major', 'extra_major')", name=op.f('ck_accidents_grade')),
    sa.CheckConstraint("investigation IS NULL OR investigation IN ('reported', 'investigating', 'closed')", name=op.f('ck_accidents_investigation')),
    sa.CheckConstraint('deaths >= 0 AND injuries >= 0', name=op.f('ck_accidents_toll')),
    sa.CheckConstraint('direct_loss_wan IS NULL OR direct_loss_wan >= 0', name=op.f('ck_accidents_direct_loss_wan')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_accidents_enterprise_id_enterprises'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_run_id'], ['etl_runs.id'], name=op.f('fk_accidents_source_run_id_etl_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_accidents_unit_id_units'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accidents')),
    sa.UniqueConstraint('code', name=op.f('uq_accidents_code')),
    sa.UniqueConstraint('request_key', name=op.f('uq_accidents_request_key'))
    )
    op.create_index('ix_accidents_enterprise_id', 'accidents', ['enterprise_id'], unique=False)
    op.create_index('ix_accidents_geom', 'accidents', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_accidents_occurred_on', 'accidents', ['occurred_on'], unique=False)
    op.create_index('ix_accidents_unit_id', 'accidents', ['unit_id', 'occurred_on'], unique=False)
    op.create_table('area_denominators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.SmallInteger(), nullable=False),
    sa.Column('gdp_yi', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('industrial_employees', sa.Integer(), nullable=True),
    sa.Column('motor_vehicles', sa.Integer(), nullable=True),
    sa.Column('source_run_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('year BETWEEN 2000 AND 2100', name=op.f('ck_area_denominators_year')),
    sa.CheckConstraint('gdp_yi IS NULL OR gdp_yi > 0', name=op.f('ck_area_denominators_gdp_yi')),
    sa.CheckConstraint('industrial_employees IS NULL OR industrial_employees > 0', name=op.f('ck_area_denominators_industrial_employees')),
    sa.CheckConstraint('motor_vehicles IS NULL OR motor_vehicles > 0', name=op.f('ck_area_denominators_motor_vehicles')),
    sa.ForeignKeyConstraint(['source_run_id'], ['etl_runs.id'], name=op.f('fk_area_denominators_source_run_id_etl_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_area_denominators_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_area_denominators')),
    sa.UniqueConstraint('code', name=op.f('uq_area_denominators_code'))
    )
    op.create_index('uq_area_denominators_unit_year', 'area_denominators', ['unit_id', 'year'], unique=True)
    for table in VERSIONED:
        op.execute(f'CREATE TRIGGER sg_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
                   'FOR EACH STATEMENT EXECUTE FUNCTION sg_bump_data_version()')


def downgrade() -> None:
    """Revert the migration."""
    op.drop_index('uq_area_denominators_unit_year', table_name='area_denominators')
    op.drop_table('area_denominators')
    op.drop_index('ix_accidents_unit_id', table_name='accidents')
    op.drop_index('ix_accidents_occurred_on', table_name='accidents')
    op.drop_index('ix_accidents_geom', table_name='accidents', postgresql_using='gist')
    op.drop_index('ix_accidents_enterprise_id', table_name='accidents')
    op.drop_table('accidents')
