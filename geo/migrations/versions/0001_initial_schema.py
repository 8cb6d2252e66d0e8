"""Initial schema: the five-level grid, ledgers, derived tables, users and ETL bookkeeping.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:37:36.086763
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Tables whose writes bump data_versions (everything the cached map and risk routes read).
VERSIONED_TABLES = ("units", "unit_stats", "h3_stats", "enterprises", "hazard_sources", "hazards", "duties",
                    "persons", "inspections")


def upgrade() -> None:
    """Apply the migration."""
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # Distinct 2-character substrings of a text: 2-character name search (pg_trgm needs 3), geo/search.py.
    op.execute(
        "CREATE OR REPLACE FUNCTION sg_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
        "AS $$ SELECT coalesce(array_agg(DISTINCT substr(t, i, 2)), '{}') FROM generate_series(1, char_length(t) - 1) i $$"
    )
    op.create_table('app_config',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_app_config'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('username', sa.String(length=50), nullable=True),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
    op.create_table('etl_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=40), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), server_default='running', nullable=False),
    sa.Column('rows_in', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('rows_loaded', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.CheckConstraint("status IS NULL OR status IN ('running', 'ok', 'partial', 'rejected', 'failed')", name=op.f('ck_etl_runs_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_etl_runs'))
    )
    op.create_index('ix_etl_runs_started_at', 'etl_runs', ['started_at'], unique=False)
    op.create_table('h3_stats',
    sa.Column('res', sa.SmallInteger(), nullable=False),
    sa.Column('cell', sa.String(length=16), nullable=False),
    sa.Column('enterprises', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ent_red', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ent_orange', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ent_yellow', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ent_blue', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('hazards_open', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('hazards_major_open', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('hazards_overdue', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('sources', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('risk_score', sa.Float(), server_default=sa.text('0'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint('res BETWEEN 0 AND 15', name=op.f('ck_h3_stats_res')),
    sa.PrimaryKeyConstraint('res', 'cell', name=op.f('pk_h3_stats'))
    )
    op.create_index('ix_h3_stats_geom', 'h3_stats', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('persons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_key', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('org', sa.String(length=100), nullable=True),
    sa.Column('title', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_persons')),
    sa.UniqueConstraint('person_key', name=op.f('uq_persons_person_key'))
    )
    op.create_index('ix_persons_name', 'persons', ['name'], unique=False)
    op.create_table('dq_findings',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('entity', sa.String(length=30), nullable=False),
    sa.Column('entity_key', sa.String(length=60), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('found_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['etl_runs.id'], name=op.f('fk_dq_findings_run_id_etl_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dq_findings'))
    )
    op.create_index('ix_dq_findings_entity', 'dq_findings', ['entity', 'entity_key'], unique=False)
    op.create_index('ix_dq_findings_run_id', 'dq_findings', ['run_id'], unique=False)
    op.create_table('etl_rejects',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('errors', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['etl_runs.id'], name=op.f('fk_etl_rejects_run_id_etl_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_etl_rejects'))
    )
    op.create_index('ix_etl_rejects_run_id', 'etl_rejects', ['run_id', 'row_number'], unique=False)
    op.create_table('refresh_state',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['etl_runs.id'], name=op.f('fk_refresh_state_run_id_etl_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_refresh_state'))
    )
    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('code_edition', sa.String(length=10), server_default='2023', nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('short_name', sa.String(length=50), nullable=True),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=True),
    sa.Column('is_statutory', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('geom_display', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('label_point', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('area_km2', sa.Float(), nullable=True),
    sa.Column('is_demo_geometry', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('source_run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IS NULL OR kind IN ('city', 'district', 'county', 'county_city', 'county_other', 'subdistrict', 'town', 'township', 'dev_zone', 'township_other', 'community', 'village', 'village_other', 'grid')", name=op.f('ck_units_kind')),
    sa.CheckConstraint("path LIKE '%%.'", name=op.f('ck_units_path_format')),
    sa.CheckConstraint('level BETWEEN 1 AND 5', name=op.f('ck_units_level')),
    sa.ForeignKeyConstraint(['parent_id'], ['units.id'], name=op.f('fk_units_parent_id_units'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['source_run_id'], ['etl_runs.id'], name=op.f('fk_units_source_run_id_etl_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units')),
    sa.UniqueConstraint('code', name=op.f('uq_units_code'))
    )
    op.create_index('ix_units_geom', 'units', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_units_geom_display', 'units', ['geom_display'], unique=False, postgresql_using='gist')
    op.create_index('ix_units_label_point', 'units', ['label_point'], unique=False, postgresql_using='gist')
    op.create_index('ix_units_level', 'units', ['level'], unique=False)
    op.create_index('ix_units_parent_id', 'units', ['parent_id'], unique=False)
    op.create_index('ix_units_path_prefix', 'units', ['path'], unique=False, postgresql_ops={'path': 'text_pattern_ops'})
    op.create_table('duties',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('seq', sa.SmallInteger(), server_default=sa.text('1'), nullable=False),
    sa.Column('since', sa.Date(), nullable=True),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("role IS NULL OR role IN ('first', 'leader', 'supervisor', 'info_officer', 'grid_worker')", name=op.f('ck_duties_role')),
    sa.CheckConstraint('seq BETWEEN 1 AND 9', name=op.f('ck_duties_seq')),
    sa.CheckConstraint('until IS NULL OR since IS NULL OR until >= since', name=op.f('ck_duties_period')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_duties_person_id_persons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_duties_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duties'))
    )
    op.create_index('ix_duties_person_id', 'duties', ['person_id'], unique=False)
    op.create_index('ix_duties_unit_id', 'duties', ['unit_id'], unique=False)
    op.create_index('uq_duties_current_slot', 'duties', ['unit_id', 'role', 'seq'], unique=True, postgresql_where=sa.text('until IS NULL'))
    op.create_table('enterprises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('industry', sa.String(length=30), nullable=True),
    sa.Column('industry_detail', sa.String(length=100), nullable=True),
    sa.Column('scale', sa.String(length=10), nullable=True),
    sa.Column('employees', sa.Integer(), nullable=True),
    sa.Column('supervising_dept', sa.String(length=100), nullable=True),
    sa.Column('supervision_tier', sa.SmallInteger(), nullable=True),
    sa.Column('risk_level', sa.String(length=10), nullable=True),
    sa.Column('risk_method', sa.String(length=100), nullable=True),
    sa.Column('risk_assessed_at', sa.Date(), nullable=True),
    sa.Column('std_grade', sa.String(length=20), nullable=True),
    sa.Column('key_hazardous_process', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('key_hazardous_chemical', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('has_major_hazard_source', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('legal_rep', sa.String(length=50), nullable=True),
    sa.Column('legal_rep_phone', sa.String(length=30), nullable=True),
    sa.Column('safety_manager', sa.String(length=50), nullable=True),
    sa.Column('safety_manager_phone', sa.String(length=30), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('source_run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("risk_level IS NULL OR risk_level IN ('red', 'orange', 'yellow', 'blue')", name=op.f('ck_enterprises_risk_level')),
    sa.CheckConstraint("scale IS NULL OR scale IN ('large', 'medium', 'small', 'micro')", name=op.f('ck_enterprises_scale')),
    sa.CheckConstraint("std_grade IS NULL OR std_grade IN ('grade1', 'grade2', 'grade3', 'small_micro', 'none')", name=op.f('ck_enterprises_std_grade')),
    sa.CheckConstraint('char_length(credit_code) = 18', name=op.f('ck_enterprises_credit_code_length')),
    sa.CheckConstraint('supervision_tier IS NULL OR supervision_tier BETWEEN 1 AND 3', name=op.f('ck_enterprises_supervision_tier')),
    sa.ForeignKeyConstraint(['source_run_id'], ['etl_runs.id'], name=op.f('fk_enterprises_source_run_id_etl_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_enterprises_unit_id_units'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprises')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_enterprises_credit_code'))
    )
    op.create_index('ix_enterprises_geom', 'enterprises', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_enterprises_industry', 'enterprises', ['industry'], unique=False)
    op.create_index('ix_enterprises_risk_level', 'enterprises', ['risk_level'], unique=False)
    op.create_index('ix_enterprises_unit_id', 'enterprises', ['unit_id'], unique=False)
    op.create_index('ix_enterprises_name_trgm', 'enterprises', ['name'], unique=False, postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
    op.create_index('ix_enterprises_name_bigrams', 'enterprises', [sa.text('sg_bigrams(name)')], unique=False, postgresql_using='gin')
    op.create_index('ix_enterprises_address_trgm', 'enterprises', ['address'], unique=False, postgresql_using='gin', postgresql_ops={'address': 'gin_trgm_ops'})
    op.create_table('unit_stats',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=False),
    sa.Column('children', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('enterprises', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ent_red', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ent_orange', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ent_yellow', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ent_blue', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ent_unassessed', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('hazards_open', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('hazards_overdue', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('hazards_major_open', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('hazards_supervised', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('hazards_stock_open', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('hazards_increment_open', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('sources_g1', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('sources_g2', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('sources_g3', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('sources_g4', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('persons_present', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('persons_required', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('vacancies_subtree', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('last_inspection_at', sa.Date(), nullable=True),
    sa.Column('inspection_overdue', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('risk_score', sa.Float(), server_default=sa.text('0'), nullable=False),
    sa.Column('risk_class', sa.String(length=10), nullable=True),
    sa.Column('risk_explain', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("risk_class IS NULL OR risk_class IN ('red', 'orange', 'yellow', 'blue')", name=op.f('ck_unit_stats_risk_class')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_stats_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('unit_id', name=op.f('pk_unit_stats'))
    )
    op.create_index('ix_unit_stats_level', 'unit_stats', ['level'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=50), nullable=False),
    sa.Column('display_name', sa.String(length=50), nullable=True),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('scope_unit_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('session_version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('failed_logins', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IS NULL OR role IN ('admin', 'leader', 'grid_manager', 'planner', 'inspector')", name=op.f('ck_users_role')),
    sa.ForeignKeyConstraint(['scope_unit_id'], ['units.id'], name=op.f('fk_users_scope_unit_id_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('enterprise_risk_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('risk_level', sa.String(length=10), nullable=True),
    sa.Column('risk_method', sa.String(length=100), nullable=True),
    sa.Column('assessed_at', sa.Date(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("risk_level IS NULL OR risk_level IN ('red', 'orange', 'yellow', 'blue')", name=op.f('ck_enterprise_risk_history_risk_level')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_enterprise_risk_history_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise_risk_history'))
    )
    op.create_index('ix_enterprise_risk_history_enterprise_id', 'enterprise_risk_history', ['enterprise_id'], unique=False)
    op.create_table('hazard_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('grade', sa.SmallInteger(), nullable=True),
    sa.Column('r_value', sa.Numeric(precision=12, scale=3), nullable=True),
    sa.Column('substances', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.Date(), nullable=True),
    sa.Column('main_person', sa.String(length=50), nullable=True),
    sa.Column('main_person_phone', sa.String(length=30), nullable=True),
    sa.Column('tech_person', sa.String(length=50), nullable=True),
    sa.Column('tech_person_phone', sa.String(length=30), nullable=True),
    sa.Column('op_person', sa.String(length=50), nullable=True),
    sa.Column('op_person_phone', sa.String(length=30), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('source_run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('grade IS NULL OR grade BETWEEN 1 AND 4', name=op.f('ck_hazard_sources_grade')),
    sa.CheckConstraint('r_value IS NULL OR r_value >= 0', name=op.f('ck_hazard_sources_r_value')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_hazard_sources_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_run_id'], ['etl_runs.id'], name=op.f('fk_hazard_sources_source_run_id_etl_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_hazard_sources_unit_id_units'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_sources')),
    sa.UniqueConstraint('code', name=op.f('uq_hazard_sources_code'))
    )
    op.create_index('ix_hazard_sources_enterprise_id', 'hazard_sources', ['enterprise_id'], unique=False)
    op.create_index('ix_hazard_sources_geom', 'hazard_sources', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_hazard_sources_unit_id', 'hazard_sources', ['unit_id'], unique=False)
    op.create_table('hazards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=50), nullable=True),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('found_at', sa.Date(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('verified_at', sa.Date(), nullable=True),
    sa.Column('closed_at', sa.Date(), nullable=True),
    sa.Column('reporter', sa.String(length=50), nullable=True),
    sa.Column('supervision_level', sa.SmallInteger(), nullable=True),
    sa.Column('supervision_at', sa.Date(), nullable=True),
    sa.Column('resp_person', sa.String(length=50), nullable=True),
    sa.Column('resp_person_phone', sa.String(length=30), nullable=True),
    sa.Column('measures', sa.Text(), nullable=True),
    sa.Column('funds_yuan', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('contingency_plan', sa.Text(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('source_run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("channel IS NULL OR channel IN ('self_check', 'inspection', 'public_report')", name=op.f('ck_hazards_channel')),
    sa.CheckConstraint("level IS NULL OR level IN ('general', 'major')", name=op.f('ck_hazards_level')),
    sa.CheckConstraint("status <> 'closed' OR closed_at IS NOT NULL", name=op.f('ck_hazards_closed_at')),
    sa.CheckConstraint("status IS NULL OR status IN ('reported', 'rectifying', 'verifying', 'closed')", name=op.f('ck_hazards_status')),
    sa.CheckConstraint('deadline IS NULL OR found_at IS NULL OR deadline >= found_at', name=op.f('ck_hazards_deadline')),
    sa.CheckConstraint('supervision_level IS NULL OR supervision_level BETWEEN 1 AND 3', name=op.f('ck_hazards_supervision_level')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_hazards_enterprise_id_enterprises'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_run_id'], ['etl_runs.id'], name=op.f('fk_hazards_source_run_id_etl_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_hazards_unit_id_units'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazards')),
    sa.UniqueConstraint('code', name=op.f('uq_hazards_code'))
    )
    op.create_index('ix_hazards_enterprise_id', 'hazards', ['enterprise_id'], unique=False)
    op.create_index('ix_hazards_found_at', 'hazards', ['found_at'], unique=False)
    op.create_index('ix_hazards_geom', 'hazards', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_hazards_open', 'hazards', ['unit_id', 'deadline'], unique=False, postgresql_where=sa.text("status <> 'closed'"))
    op.create_index('ix_hazards_unit_id', 'hazards', ['unit_id'], unique=False)
    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('inspector_level', sa.SmallInteger(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=True),
    sa.Column('inspected_at', sa.Date(), nullable=False),
    sa.Column('inspectors', sa.String(length=200), nullable=True),
    sa.Column('result', sa.String(length=20), nullable=True),
    sa.Column('hazards_found', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('source_run_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IS NULL OR kind IN ('routine', 'unannounced', 'double_random', 'special', 'review')", name=op.f('ck_inspections_kind')),
    sa.CheckConstraint("result IS NULL OR result IN ('passed', 'hazards_found', 'ordered_rectify', 'penalized', 'closed_down')", name=op.f('ck_inspections_result')),
    sa.CheckConstraint('inspector_level IS NULL OR inspector_level BETWEEN 1 AND 4', name=op.f('ck_inspections_inspector_level')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_inspections_enterprise_id_enterprises'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_run_id'], ['etl_runs.id'], name=op.f('fk_inspections_source_run_id_etl_runs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_inspections_unit_id_units'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections')),
    sa.UniqueConstraint('code', name=op.f('uq_inspections_code'))
    )
    op.create_index('ix_inspections_enterprise_id', 'inspections', ['enterprise_id'], unique=False)
    op.create_index('ix_inspections_unit_id', 'inspections', ['unit_id', 'inspected_at'], unique=False)
    op.create_table('hazard_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=12), nullable=True),
    sa.Column('to_status', sa.String(length=12), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('by', sa.String(length=50), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("from_status IS NULL OR from_status IN ('reported', 'rectifying', 'verifying', 'closed')", name=op.f('ck_hazard_events_from_status')),
    sa.CheckConstraint("to_status IS NULL OR to_status IN ('reported', 'rectifying', 'verifying', 'closed')", name=op.f('ck_hazard_events_to_status')),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], name=op.f('fk_hazard_events_hazard_id_hazards'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_events'))
    )
    op.create_index('ix_hazard_events_hazard_id', 'hazard_events', ['hazard_id', 'at'], unique=False)

    op.create_table('data_versions',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('version', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_data_versions'))
    )
    # A counter per table bumped by a statement trigger in the writing transaction, so the app's response
    # cache (dashboard/cache.py) sees a load, refresh or any other write the moment it commits.
    op.execute(
        "CREATE OR REPLACE FUNCTION sg_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO data_versions (name, version) VALUES (TG_TABLE_NAME, 1) "
        "ON CONFLICT (name) DO UPDATE SET version = data_versions.version + 1; RETURN NULL; END $$"
    )
    for table in VERSIONED_TABLES:
        op.execute(f'CREATE TRIGGER sg_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
                   "FOR EACH STATEMENT EXECUTE FUNCTION sg_bump_data_version()")


def downgrade() -> None:
    """Revert the migration."""
    op.execute("DROP FUNCTION IF EXISTS sg_bump_data_version() CASCADE")
    op.drop_table('data_versions')
    op.drop_index('ix_hazard_events_hazard_id', table_name='hazard_events')
    op.drop_table('hazard_events')
    op.drop_index('ix_inspections_unit_id', table_name='inspections')
    op.drop_index('ix_inspections_enterprise_id', table_name='inspections')
    op.drop_table('inspections')
    op.drop_index('ix_hazards_unit_id', table_name='hazards')
    op.drop_index('ix_hazards_open', table_name='hazards', postgresql_where=sa.text("status <> 'closed'"))
    op.drop_index('ix_hazards_geom', table_name='hazards', postgresql_using='gist')
    op.drop_index('ix_hazards_found_at', table_name='hazards')
    op.drop_index('ix_hazards_enterprise_id', table_name='hazards')
    op.drop_table('hazards')
    op.drop_index('ix_hazard_sources_unit_id', table_name='hazard_sources')
    op.drop_index('ix_hazard_sources_geom', table_name='hazard_sources', postgresql_using='gist')
    op.drop_index('ix_hazard_sources_enterprise_id', table_name='hazard_sources')
    op.drop_table('hazard_sources')
    op.drop_index('ix_enterprise_risk_history_enterprise_id', table_name='enterprise_risk_history')
    op.drop_table('enterprise_risk_history')
    op.drop_table('users')
    op.drop_index('ix_unit_stats_level', table_name='unit_stats')
    op.drop_table('unit_stats')
    op.drop_index('ix_enterprises_unit_id', table_name='enterprises')
    op.drop_index('ix_enterprises_name_trgm', table_name='enterprises', postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
    op.drop_index('ix_enterprises_name_bigrams', table_name='enterprises', postgresql_using='gin')
    op.drop_index('ix_enterprises_address_trgm', table_name='enterprises', postgresql_using='gin', postgresql_ops={'address': 'gin_trgm_ops'})
    op.drop_index('ix_enterprises_risk_level', table_name='enterprises')
    op.drop_index('ix_enterprises_industry', table_name='enterprises')
    op.drop_index('ix_enterprises_geom', table_name='enterprises', postgresql_using='gist')
    op.drop_table('enterprises')
    op.drop_index('uq_duties_current_slot', table_name='duties', postgresql_where=sa.text('until IS NULL'))
    op.drop_index('ix_duties_unit_id', table_name='duties')
    op.drop_index('ix_duties_person_id', table_name='duties')
    op.drop_table('duties')
    op.drop_index('ix_units_path_prefix', table_name='units', postgresql_ops={'path': 'text_pattern_ops'})
    op.drop_index('ix_units_parent_id', table_name='units')
    op.drop_index('ix_units_level', table_name='units')
    op.drop_index('ix_units_label_point', table_name='units', postgresql_using='gist')
    op.drop_index('ix_units_geom_display', table_name='units', postgresql_using='gist')
    op.drop_index('ix_units_geom', table_name='units', postgresql_using='gist')
    op.drop_table('units')
    op.drop_table('refresh_state')
    op.drop_index('ix_etl_rejects_run_id', table_name='etl_rejects')
    op.drop_table('etl_rejects')
    op.drop_index('ix_dq_findings_run_id', table_name='dq_findings')
    op.drop_index('ix_dq_findings_entity', table_name='dq_findings')
    op.drop_table('dq_findings')
    op.drop_index('ix_persons_name', table_name='persons')
    op.drop_table('persons')
    op.drop_index('ix_h3_stats_geom', table_name='h3_stats', postgresql_using='gist')
    op.drop_table('h3_stats')
    op.drop_index('ix_etl_runs_started_at', table_name='etl_runs')
    op.drop_table('etl_runs')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('app_config')
    op.execute("DROP FUNCTION IF EXISTS sg_bigrams(text)")
