"""GeoAlchemy2 models: the schema of SafeGrid (DESIGN.md core names), kept identical to the migrations."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domain import labels
from domain.cadence import PATROL_RESULT, Cadence

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Stored values of every vocabulary come from domain.labels (values and labels side by side).
UNIT_KINDS = labels.UNIT_KIND.codes
DUTY_ROLES = labels.DUTY_ROLE.codes
RISK_LEVELS = labels.RISK_LEVEL.codes
STD_GRADES = labels.STD_GRADE.codes
SCALES = labels.SCALE.codes
SUPERVISION_TIERS = labels.SUPERVISION_TIER.codes
HAZARD_LEVELS = labels.HAZARD_LEVEL.codes
HAZARD_CHANNELS = labels.HAZARD_CHANNEL.codes
HAZARD_STATUSES = labels.HAZARD_STATUS.codes
INSPECTION_KINDS = labels.INSPECTION_KIND.codes
INSPECTION_RESULTS = labels.INSPECTION_RESULT.codes
USER_ROLES = labels.USER_ROLE.codes
ETL_STATUSES = labels.ETL_STATUS.codes
PUBLIC_REPORT_STATUSES = labels.PUBLIC_REPORT_STATUS.codes
ATTACHMENT_KINDS = labels.ATTACHMENT_KIND.codes
PATROL_RESULTS = PATROL_RESULT.codes
CADENCES = tuple(c.value for c in Cadence)
ACCIDENT_TYPES = labels.ACCIDENT_TYPE.codes
ACCIDENT_GRADES = labels.ACCIDENT_GRADE.codes
INVESTIGATION_STATUSES = labels.INVESTIGATION_STATUS.codes


def _in(column: str, values: tuple[str, ...]) -> str:
    """Render a CHECK expression ``column IN (...)`` that also admits NULL."""
    quoted = ", ".join(f"'{v}'" for v in values)  # same rendering as labels.Vocab.sql_list
    return f"{column} IS NULL OR {column} IN ({quoted})"


def _between(column: str, low: int, high: int) -> str:
    """Render a CHECK expression for a nullable small integer range."""
    return f"{column} IS NULL OR {column} BETWEEN {low} AND {high}"


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


# Resolutions of the H3 cells stored with every point (migration 0002) and their columns.
POINT_H3_RESOLUTIONS = (6, 7, 8, 9)
H3_CELL_COLUMNS = tuple(f"h3_r{res}" for res in POINT_H3_RESOLUTIONS)


class PointRow:
    """Columns every point ledger ends with: the point, its H3 cells (0002), provenance, timestamps.

    ``h3_r6``..``h3_r9`` are written by the loaders (or filled by the refresh) and cleared by a trigger
    when the point moves.
    """

    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=True)
    h3_r6: Mapped[int | None] = mapped_column(BigInteger)
    h3_r7: Mapped[int | None] = mapped_column(BigInteger)
    h3_r8: Mapped[int | None] = mapped_column(BigInteger)
    h3_r9: Mapped[int | None] = mapped_column(BigInteger)
    source_run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class Unit(Base):
    """A unit of the five-level grid: city, county, township, village or grid cell."""

    __tablename__ = "units"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
        CheckConstraint(_in("kind", UNIT_KINDS), name="kind"),
        CheckConstraint("path LIKE '%.'", name="path_format"),
        Index("ix_units_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
        Index("ix_units_parent_id", "parent_id"),
        Index("ix_units_level", "level"),
        Index("ix_units_geom", "geom", postgresql_using="gist"),
        Index("ix_units_geom_display", "geom_display", postgresql_using="gist"),
        Index("ix_units_label_point", "label_point", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    code_edition: Mapped[str] = mapped_column(String(10), server_default="2023")
    name: Mapped[str] = mapped_column(String(100))
    short_name: Mapped[str | None] = mapped_column(String(50))
    level: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[str | None] = mapped_column(String(20))
    is_statutory: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    # Subtree key: parent path + own code + '.', e.g. '411000.411002.411002001.'; a btree with
    # text_pattern_ops serves ``path LIKE '411000.411002.%'`` (everything under 魏都区).
    path: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=True
    )
    geom_display: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=True
    )
    label_point: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=True
    )
    area_km2: Mapped[float | None] = mapped_column(Float)
    is_demo_geometry: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    source_run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class Person(Base):
    """A named person who can hold duties."""

    __tablename__ = "persons"
    __table_args__ = (Index("ix_persons_name", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(30))
    org: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = _created()


class Duty(Base):
    """A person's responsibility for a unit (1 leader + 2 supervisors per unit, etc.)."""

    __tablename__ = "duties"
    __table_args__ = (
        CheckConstraint(_in("role", DUTY_ROLES), name="role"),
        CheckConstraint("seq BETWEEN 1 AND 9", name="seq"),
        CheckConstraint("until IS NULL OR since IS NULL OR until >= since", name="period"),
        Index("ix_duties_unit_id", "unit_id"),
        Index("ix_duties_person_id", "person_id"),
        Index(
            "uq_duties_current_slot", "unit_id", "role", "seq",
            unique=True, postgresql_where=text("until IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"))
    since: Mapped[date | None] = mapped_column(Date)
    until: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)


class Enterprise(PointRow, Base):
    """A production unit (生产经营单位) placed in one grid cell."""

    __tablename__ = "enterprises"
    __table_args__ = (
        CheckConstraint(_in("risk_level", RISK_LEVELS), name="risk_level"),
        CheckConstraint(_in("std_grade", STD_GRADES), name="std_grade"),
        CheckConstraint(_in("scale", SCALES), name="scale"),
        CheckConstraint(_between("supervision_tier", min(SUPERVISION_TIERS), max(SUPERVISION_TIERS)),
                        name="supervision_tier"),
        CheckConstraint("char_length(credit_code) = 18", name="credit_code_length"),
        Index("ix_enterprises_unit_id", "unit_id"),
        Index("ix_enterprises_industry", "industry"),
        Index("ix_enterprises_risk_level", "risk_level"),
        Index("ix_enterprises_dept_code", "dept_code", "id"),  # department scope (0012, geo/scope.py)
        Index("ix_enterprises_geom", "geom", postgresql_using="gist"),
        Index("ix_enterprises_h3_missing", "id", postgresql_where=text("h3_r9 IS NULL AND geom IS NOT NULL")),
        # Trigram indexes for search (substring LIKE and fuzzy word_similarity, geo/search.py).
        Index("ix_enterprises_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
        # 2-character fragments have no trigram: sg_bigrams() (created by the migration) serves them.
        Index("ix_enterprises_name_bigrams", text("sg_bigrams(name)"), postgresql_using="gin"),
        Index("ix_enterprises_address_trgm", "address", postgresql_using="gin",
              postgresql_ops={"address": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(30))
    industry_detail: Mapped[str | None] = mapped_column(String(100))
    scale: Mapped[str | None] = mapped_column(String(10))
    employees: Mapped[int | None] = mapped_column(Integer)
    supervising_dept: Mapped[str | None] = mapped_column(String(100))
    # The supervising department's catalogue code (domain/catalogues.py; 0012), from supervising_dept or the industry.
    dept_code: Mapped[str | None] = mapped_column(String(20))
    supervision_tier: Mapped[int | None] = mapped_column(SmallInteger)
    risk_level: Mapped[str | None] = mapped_column(String(10))
    risk_method: Mapped[str | None] = mapped_column(String(100))
    risk_assessed_at: Mapped[date | None] = mapped_column(Date)
    std_grade: Mapped[str | None] = mapped_column(String(20))
    key_hazardous_process: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    key_hazardous_chemical: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    has_major_hazard_source: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    key_supervision: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))  # 重点监管单位 (0009)
    address: Mapped[str | None] = mapped_column(String(300))
    legal_rep: Mapped[str | None] = mapped_column(String(50))
    legal_rep_phone: Mapped[str | None] = mapped_column(String(30))
    safety_manager: Mapped[str | None] = mapped_column(String(50))
    safety_manager_phone: Mapped[str | None] = mapped_column(String(30))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))


class EnterpriseRiskHistory(Base):
    """Every risk colour an enterprise has been assessed with."""

    __tablename__ = "enterprise_risk_history"
    __table_args__ = (
        CheckConstraint(_in("risk_level", RISK_LEVELS), name="risk_level"),
        Index("ix_enterprise_risk_history_enterprise_id", "enterprise_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    risk_level: Mapped[str | None] = mapped_column(String(10))
    risk_method: Mapped[str | None] = mapped_column(String(100))
    assessed_at: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = _created()


class HazardSource(PointRow, Base):
    """A major hazard source (重大危险源) of an enterprise, graded from its R value (GB 18218)."""

    __tablename__ = "hazard_sources"
    __table_args__ = (
        CheckConstraint(_between("grade", 1, 4), name="grade"),
        CheckConstraint("r_value IS NULL OR r_value >= 0", name="r_value"),
        Index("ix_hazard_sources_enterprise_id", "enterprise_id"),
        Index("ix_hazard_sources_unit_id", "unit_id"),
        Index("ix_hazard_sources_geom", "geom", postgresql_using="gist"),
        Index("ix_hazard_sources_h3_missing", "id", postgresql_where=text("h3_r9 IS NULL AND geom IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    grade: Mapped[int | None] = mapped_column(SmallInteger)
    r_value: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))
    substances: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[date | None] = mapped_column(Date)
    main_person: Mapped[str | None] = mapped_column(String(50))
    main_person_phone: Mapped[str | None] = mapped_column(String(30))
    tech_person: Mapped[str | None] = mapped_column(String(50))
    tech_person_phone: Mapped[str | None] = mapped_column(String(30))
    op_person: Mapped[str | None] = mapped_column(String(50))
    op_person_phone: Mapped[str | None] = mapped_column(String(30))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))


class Hazard(PointRow, Base):
    """A hidden hazard (事故隐患) with its rectification life cycle and 五到位 record."""

    __tablename__ = "hazards"
    __table_args__ = (
        CheckConstraint(_in("level", HAZARD_LEVELS), name="level"),
        CheckConstraint(_in("channel", HAZARD_CHANNELS), name="channel"),
        CheckConstraint(_in("status", HAZARD_STATUSES), name="status"),
        CheckConstraint(_between("supervision_level", 1, 3), name="supervision_level"),
        CheckConstraint("deadline IS NULL OR found_at IS NULL OR deadline >= found_at", name="deadline"),
        CheckConstraint("status <> 'closed' OR closed_at IS NOT NULL", name="closed_at"),
        Index("ix_hazards_enterprise_id", "enterprise_id"),
        Index("ix_hazards_unit_id", "unit_id"),
        # Covering (0016, 0019): the scope counts of open hazards and 待办 read the index alone.
        Index("ix_hazards_open", "unit_id", "deadline", postgresql_where=text("status <> 'closed'"),
              postgresql_include=["id", "level", "supervision_level", "enterprise_id", "found_at", "closed_at",
                                  "status", "submitted_by", "supervision_at"]),
        # Covering (0018): /risk's trend and the big screen's new-majors alarm read the major hazards alone.
        Index("ix_hazards_major", "found_at", postgresql_where=text("level = 'major'"),
              postgresql_include=["unit_id", "level", "status", "closed_at", "deadline", "enterprise_id"]),
        Index("ix_hazards_open_deadline", "deadline", "code", postgresql_where=text("status <> 'closed'")),
        Index("ix_hazards_open_supervised", "supervision_level", "deadline", "code",
              postgresql_where=text("status <> 'closed' AND supervision_level IS NOT NULL")),
        Index("ix_hazards_found_at", "found_at"),
        Index("ix_hazards_closed_at", "closed_at", postgresql_where=text("closed_at IS NOT NULL")),
        Index("ix_hazards_geom", "geom", postgresql_using="gist"),
        Index("ix_hazards_h3_missing", "id",
              postgresql_where=text("h3_r9 IS NULL AND geom IS NOT NULL AND status <> 'closed'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id", ondelete="SET NULL"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(50))
    level: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    found_at: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date | None] = mapped_column(Date)
    verified_at: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[date | None] = mapped_column(Date)
    reporter: Mapped[str | None] = mapped_column(String(50))
    supervision_level: Mapped[int | None] = mapped_column(SmallInteger)
    supervision_at: Mapped[date | None] = mapped_column(Date)
    # 五到位: responsibility, measures, deadline (above), funds, contingency plan.
    resp_person: Mapped[str | None] = mapped_column(String(50))
    resp_person_phone: Mapped[str | None] = mapped_column(String(30))
    measures: Mapped[str | None] = mapped_column(Text)
    funds_yuan: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    contingency_plan: Mapped[str | None] = mapped_column(Text)
    # Worked in the app (0004): optimistic version, the reporter's idempotency key, 延期 count, who
    # submitted the current rectification (the verifier must be someone else), the 督办 deadline.
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    extensions: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    submitted_by: Mapped[str | None] = mapped_column(String(50))
    supervision_deadline: Mapped[date | None] = mapped_column(Date)


class HazardEvent(Base):
    """One status change of a hazard (who, when, note)."""

    __tablename__ = "hazard_events"
    __table_args__ = (
        CheckConstraint(_in("from_status", HAZARD_STATUSES), name="from_status"),
        CheckConstraint(_in("to_status", HAZARD_STATUSES), name="to_status"),
        Index("ix_hazard_events_hazard_id", "hazard_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    by: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(String(20))  # the app's action (0004); NULL for ledger loads
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # what the action entered (五到位, deadlines)


class Inspection(Base):
    """An inspection (检查) of a unit or an enterprise by an inspector of a given level."""

    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint(_between("inspector_level", 1, 4), name="inspector_level"),
        CheckConstraint(_in("kind", INSPECTION_KINDS), name="kind"),
        CheckConstraint(_in("result", INSPECTION_RESULTS), name="result"),
        Index("ix_inspections_unit_id", "unit_id", "inspected_at"),
        Index("ix_inspections_enterprise_id", "enterprise_id"),
        Index("ix_inspections_draw_id", "draw_id", postgresql_where=text("draw_id IS NOT NULL")),
        Index("ix_inspections_inspected_at", text("inspected_at DESC"), text("id DESC")),  # the ledger's order
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id", ondelete="SET NULL"))
    inspector_level: Mapped[int | None] = mapped_column(SmallInteger)
    kind: Mapped[str | None] = mapped_column(String(20))
    inspected_at: Mapped[date] = mapped_column(Date)
    inspectors: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[str | None] = mapped_column(String(20))
    hazards_found: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    source_run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    # Recorded in the app (0007): who, the checklist answered, enforcement details, the 双随机 draw it works.
    created_by: Mapped[str | None] = mapped_column(String(50))
    checklist: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    document_no: Mapped[str | None] = mapped_column(String(60))  # 执法文书编号
    penalty_yuan: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # 罚款金额（元）
    draw_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_draws.id", ondelete="SET NULL"))
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class User(Base):
    """An account with a role and a scope unit."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", USER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))
    scope_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    # An enterprise account's own enterprise (0004); its scope unit is that enterprise's grid cell.
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id", ondelete="RESTRICT"))
    # A department account's supervising department (0012): it reads that department's enterprises only.
    dept_code: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Bumped on disable / password change / scope change: older sessions stop working.
    session_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    failed_logins: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()


class AuditLog(Base):
    """Audit trail: logins, exports, user changes."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    username: Mapped[str | None] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(50))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    ip: Mapped[str | None] = mapped_column(String(64))


class EtlRun(Base):
    """One run of an ETL job (load or refresh)."""

    __tablename__ = "etl_runs"
    __table_args__ = (
        CheckConstraint(_in("status", ETL_STATUSES), name="status"),
        Index("ix_etl_runs_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    options: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), server_default="running")
    rows_in: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    rows_loaded: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    rows_rejected: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    message: Mapped[str | None] = mapped_column(Text)


class EtlReject(Base):
    """A rejected input row, kept with its row number, raw values and reasons (in Chinese)."""

    __tablename__ = "etl_rejects"
    __table_args__ = (Index("ix_etl_rejects_run_id", "run_id", "row_number"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("etl_runs.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    errors: Mapped[list[str]] = mapped_column(JSONB)


class DataQualityFinding(Base):
    """A data-quality finding that is not a rejection (point outside every grid cell, repaired polygon…)."""

    __tablename__ = "dq_findings"
    __table_args__ = (
        Index("ix_dq_findings_run_id", "run_id"),
        Index("ix_dq_findings_entity", "entity", "entity_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_runs.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(30))
    entity_key: Mapped[str | None] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AppConfig(Base):
    """Tunable configuration kept in the database (risk rule weights, stock cut-off date…)."""

    __tablename__ = "app_config"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class UnitStats(Base):
    """Roll-up of a unit's whole subtree, refreshed by ``safegrid etl refresh``."""

    __tablename__ = "unit_stats"
    __table_args__ = (
        CheckConstraint(_in("risk_class", RISK_LEVELS), name="risk_class"),
        Index("ix_unit_stats_level", "level"),
    )

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger)
    children: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    enterprises: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ent_red: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ent_orange: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ent_yellow: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ent_blue: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ent_unassessed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    hazards_open: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    hazards_overdue: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    hazards_major_open: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    hazards_supervised: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    hazards_stock_open: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    hazards_increment_open: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    sources_g1: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    sources_g2: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    sources_g3: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    sources_g4: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    persons_present: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    persons_required: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    vacancies_subtree: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_inspection_at: Mapped[date | None] = mapped_column(Date)
    inspection_overdue: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    risk_score: Mapped[float] = mapped_column(Float, server_default=text("0"))
    risk_class: Mapped[str | None] = mapped_column(String(10))
    risk_explain: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HazardMonth(Base):
    """Hazards found and closed per calendar month in a unit's whole subtree (migration 0015).

    Kept by statement triggers on ``hazards`` in the writing transaction (exact at every commit) and rebuilt
    by ``safegrid etl refresh`` (enterprises moved to another cell, units re-parented); a hazard counts in its
    own unit, else its enterprise's, and every ancestor, as in ``unit_stats``.
    """

    __tablename__ = "hazard_months"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    found: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    closed: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class H3Stats(Base):
    """The same inputs as ``unit_stats`` aggregated in H3 hexagons, for heatmaps."""

    __tablename__ = "h3_stats"
    __table_args__ = (
        CheckConstraint("res BETWEEN 0 AND 15", name="res"),
        Index("ix_h3_stats_geom", "geom", postgresql_using="gist"),
    )

    res: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    cell: Mapped[str] = mapped_column(String(16), primary_key=True)
    enterprises: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ent_red: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ent_orange: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ent_yellow: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ent_blue: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    hazards_open: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    hazards_major_open: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    hazards_overdue: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    sources: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    risk_score: Mapped[float] = mapped_column(Float, server_default=text("0"))
    geom: Mapped[Any] = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=False))


class RefreshState(Base):
    """When each derived table was last refreshed (shown in the UI as data freshness)."""

    __tablename__ = "refresh_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_runs.id", ondelete="SET NULL"))


class DataVersion(Base):
    """Write counter per table, bumped by a statement trigger (migration 0001); keys the app's response cache."""

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class UserSession(Base):
    """A signed-in session (migration 0003): the cookie carries a random id, this row its SHA-256.

    Checked with the account on every request (``geo.users.session_user``, the same query): logout
    deletes the row, an account change (disable, password, scope, role) deletes every row of the
    account, so a copied cookie is refused at its next request by every app instance.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex SHA-256 of the cookie's session id
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = _created()
    ip: Mapped[str | None] = mapped_column(String(64))


class PublicReport(Base):
    """A report from the public page (随手拍 / 群众举报, migration 0006): 待核实 until a grid manager acts.

    Written only by the public page (its own queue; it reads nothing back). ``ip_hash`` is a keyed hash of
    the address, kept for the per-address daily throttle, never the address itself.
    """

    __tablename__ = "public_reports"
    __table_args__ = (
        CheckConstraint(_in("status", PUBLIC_REPORT_STATUSES), name="status"),
        Index("ix_public_reports_pending", "unit_id", "created_at", postgresql_where=text("status = 'pending'")),
        Index("ix_public_reports_ip_hash", "ip_hash", "created_at"),
        Index("ix_public_reports_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(12), server_default=text("'pending'"))
    description: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(50))
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()
    handled_by: Mapped[str | None] = mapped_column(String(50))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_note: Mapped[str | None] = mapped_column(Text)
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))


class Attachment(Base):
    """A photo of a hazard (finding, before/after), of a public report (0006) or of an inspection (0008).

    Kept in PostgreSQL (``data``), not in a media folder: it commits with the event that records it,
    every app instance and the read replica see it, and the database backup holds it. Identified by
    the SHA-256 of its bytes (one copy per owner); the type is sniffed from the bytes, never the name.
    """

    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint(_in("kind", ATTACHMENT_KINDS), name="kind"),
        CheckConstraint("(hazard_id IS NOT NULL) OR (report_id IS NOT NULL) OR (inspection_id IS NOT NULL)",
                        name="owner"),
        CheckConstraint("size_bytes > 0", name="size"),
        Index("ix_attachments_hazard_id", "hazard_id"),
        Index("ix_attachments_report_id", "report_id"),
        Index("ix_attachments_inspection_id", "inspection_id", postgresql_where=text("inspection_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("public_reports.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("hazard_events.id", ondelete="SET NULL"))
    # An enterprise inspection's 现场照片 / 签字文书 (migration 0008, issue 16).
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = _created()


class ApiToken(Base):
    """A personal access token for desktop GIS clients (OGC API, migration 0006): shown once, hashed at rest."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the secret
    prefix: Mapped[str] = mapped_column(String(12))  # shown in lists so a user can tell tokens apart
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UnitCadence(Base):
    """四查 standing of every unit on the day of the last refresh (migration 0007, ``domain.cadence``).

    Derived like ``unit_stats``; ``id`` and ``unit_id`` are both the unit (the point-layer contract of
    ``geo.map_queries.PointSource``: ``id``, ``unit_id`` for the scope, ``geom`` = the unit's label point).
    """

    __tablename__ = "unit_cadence"
    __table_args__ = (
        CheckConstraint(_in("cadence", CADENCES), name="cadence"),
        Index("ix_unit_cadence_geom", "geom", postgresql_using="gist"),
        Index("ix_unit_cadence_behind", "unit_id", postgresql_where=text("behind")),
    )

    id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(SmallInteger)
    cadence: Mapped[str | None] = mapped_column(String(8))  # NULL: the level is not assessed
    period_start: Mapped[date | None] = mapped_column(Date)
    done: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    streak: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    behind: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    last_at: Mapped[date | None] = mapped_column(Date)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=True)


class Patrol(Base):
    """A patrol of a grid cell (网格巡查 / 村级日排查, migration 0007), optionally of one enterprise in it.

    ``geom`` is the browser's location when given; ``outside_m`` its distance from the cell (0 inside) and
    ``far`` the flag for a patrol recorded far outside its cell (flagged, never refused).
    """

    __tablename__ = "patrols"
    __table_args__ = (
        CheckConstraint(_in("result", PATROL_RESULTS), name="result"),
        Index("ix_patrols_unit_id", "unit_id", "patrol_date"),
        Index("ix_patrols_enterprise_id", "enterprise_id"),
        Index("ix_patrols_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id", ondelete="SET NULL"))
    patrol_date: Mapped[date] = mapped_column(Date)  # the business day (四查 periods)
    result: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    outside_m: Mapped[float | None] = mapped_column(Float)
    far: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_by: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = _created()
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class InspectionDraw(Base):
    """A 双随机 draw (migration 0007): pool filters, seed and options, reproducible with ``domain.draws``.

    A redraw is a new row naming the draw it replaces and why; nothing is ever replaced in place.
    """

    __tablename__ = "inspection_draws"
    __table_args__ = (Index("ix_inspection_draws_unit_id", "unit_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))  # the pool's area
    title: Mapped[str] = mapped_column(String(200))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB)  # n, weighting, min_high_share, rule version
    seed: Mapped[int] = mapped_column(BigInteger)
    pool_size: Mapped[int] = mapped_column(Integer)
    inspector_pool: Mapped[int] = mapped_column(Integer)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_draws.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    superseded: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_by: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = _created()


class DrawItem(Base):
    """One drawn enterprise with its two drawn inspectors (usernames), in draw order."""

    __tablename__ = "draw_items"
    __table_args__ = (Index("ix_draw_items_enterprise_id", "enterprise_id"),)

    draw_id: Mapped[int] = mapped_column(ForeignKey("inspection_draws.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    inspector1: Mapped[str] = mapped_column(String(50))
    inspector2: Mapped[str] = mapped_column(String(50))


class Accident(PointRow, Base):
    """A production safety accident (生产安全事故, migration 0010): toll, GB 6441 type, grade, investigation.

    Placed by its point, else by its enterprise's point and cell. ``grade`` always agrees with the toll
    (``domain.accidents.grade_of``: 《生产安全事故报告和调查处理条例》第三条); ``injuries`` are 重伤 (incl.
    急性工业中毒), ``direct_loss_wan`` 万元. ``road_traffic`` marks 道路交通事故 (the 万车死亡率 numerator).
    """

    __tablename__ = "accidents"
    __table_args__ = (
        CheckConstraint(_in("accident_type", ACCIDENT_TYPES), name="accident_type"),
        CheckConstraint(_in("grade", ACCIDENT_GRADES), name="grade"),
        CheckConstraint(_in("investigation", INVESTIGATION_STATUSES), name="investigation"),
        CheckConstraint("deaths >= 0 AND injuries >= 0", name="toll"),
        CheckConstraint("direct_loss_wan IS NULL OR direct_loss_wan >= 0", name="direct_loss_wan"),
        Index("ix_accidents_unit_id", "unit_id", "occurred_on"),
        Index("ix_accidents_enterprise_id", "enterprise_id"),
        Index("ix_accidents_occurred_on", "occurred_on"),
        Index("ix_accidents_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # 事故编号
    title: Mapped[str] = mapped_column(String(200))  # 事故名称
    occurred_on: Mapped[date] = mapped_column(Date)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id", ondelete="SET NULL"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    industry: Mapped[str | None] = mapped_column(String(30))
    accident_type: Mapped[str | None] = mapped_column(String(20))
    road_traffic: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    deaths: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    injuries: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    direct_loss_wan: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    grade: Mapped[str] = mapped_column(String(12))
    investigation: Mapped[str | None] = mapped_column(String(16))
    report: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(50))  # recorded in the app
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class AreaDenominator(Base):
    """One area's yearly denominators of the five-year targets (migration 0010): GDP, 工矿商贸 employees, vehicles.

    ``code`` is the ledger's natural key ``<unit code>-<year>``; a missing value is NULL ("缺少分母").
    """

    __tablename__ = "area_denominators"
    __table_args__ = (
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year"),
        CheckConstraint("gdp_yi IS NULL OR gdp_yi > 0", name="gdp_yi"),
        CheckConstraint("industrial_employees IS NULL OR industrial_employees > 0", name="industrial_employees"),
        CheckConstraint("motor_vehicles IS NULL OR motor_vehicles > 0", name="motor_vehicles"),
        Index("uq_area_denominators_unit_year", "unit_id", "year", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(SmallInteger)
    gdp_yi: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))  # 地区生产总值（亿元）
    industrial_employees: Mapped[int | None] = mapped_column(Integer)  # 工矿商贸就业人员（人）
    motor_vehicles: Mapped[int | None] = mapped_column(Integer)  # 机动车保有量（辆）
    source_run_id: Mapped[int | None] = mapped_column(ForeignKey("etl_runs.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = _created()
