"""Photos of hazards, public reports and inspections, kept in PostgreSQL (``attachments.data``) by SHA-256.

Why bytea and not a media folder: see :class:`geo.models.Attachment` (the photo commits with its
event, every instance and the replica see it, the backup holds it). Only photos that went through
the image pipeline (:mod:`dashboard.components.photos`: sniffed, re-encoded without metadata) are
stored: :func:`store` takes their bytes, mime and size and checks the bytes' signature once more.

Every read is scope-checked in SQL through the owner: a hazard's photo through the hazard's unit
(its enterprise's cell when it names only the enterprise), a public report's photo through the
report's grid cell, an inspection's 现场照片 / 签字文书 (migration 0008) through its enterprise's cell
(its own unit when it names no enterprise). Outside the scope reads exactly like a missing id (None).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, text

from domain.labels import ATTACHMENT_KIND
from geo.scope import NO_DEPARTMENT, enterprise_id_in_department, path_in_scope, scope_params

_SIGNATURES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",), "image/webp": (b"RIFF",)}
# The unit a hazard stands in (its own, else its enterprise's), as in geo.hazard_actions.
_HAZARD_UNIT = ('coalesce(h."unit_id", (SELECT e."unit_id" FROM "enterprises" e '
                'WHERE e."id" = h."enterprise_id"))')
# The unit an inspection stands in: its enterprise's cell, else its own unit.
_INSPECTION_UNIT = ('coalesce((SELECT e."unit_id" FROM "enterprises" e WHERE e."id" = x."enterprise_id"), '
                    'x."unit_id")')
_OWNER_JOINS = (
    'LEFT JOIN "hazards" h ON h."id" = a."hazard_id" '
    f'LEFT JOIN "units" hu ON hu."id" = {_HAZARD_UNIT} '
    'LEFT JOIN "public_reports" r ON r."id" = a."report_id" '
    'LEFT JOIN "units" ru ON ru."id" = r."unit_id" '
    'LEFT JOIN "inspections" x ON x."id" = a."inspection_id" '
    f'LEFT JOIN "units" xu ON xu."id" = {_INSPECTION_UNIT} '
)
# The kinds an inspection's attachments take.
INSPECTION_KINDS = ("scene", "document")


def _visible(reports: bool, enterprise_id: int | None) -> str:
    """Return the SQL condition: the attachment's owner lies in the scope (bind :func:`geo.scope.scope_params`).

    A hazard's photo: its hazard is in scope (an enterprise account: only its own enterprise's hazards).
    A report's photo still waiting for a hazard: only for ``reports`` readers (the public queue).
    An inspection's attachment: its inspection's enterprise (or unit) is in scope; an enterprise account
    sees those of its own enterprise's inspections.
    """
    own = enterprise_id is not None
    hazard = (f'(a."hazard_id" IS NOT NULL AND {path_in_scope("hu.path")} '
              f'AND {enterprise_id_in_department("h.enterprise_id")}')
    hazard += ' AND h."enterprise_id" = :own_enterprise)' if own else ")"
    inspection = (f'(a."inspection_id" IS NOT NULL AND {path_in_scope("xu.path")} '
                  f'AND {enterprise_id_in_department("x.enterprise_id")}')
    inspection += ' AND x."enterprise_id" = :own_enterprise)' if own else ")"
    if own or not reports:
        return f"({hazard} OR {inspection})"
    return (f'({hazard} OR {inspection} OR (a."hazard_id" IS NULL AND a."report_id" IS NOT NULL '
            f'AND {path_in_scope("ru.path")} AND {NO_DEPARTMENT}))')


class ImageLike(Protocol):
    """A photo ready to store (what :class:`dashboard.components.photos.CleanPhoto` is)."""

    @property
    def data(self) -> bytes:
        """The re-encoded bytes."""

    @property
    def mime(self) -> str:
        """Their mime type."""

    @property
    def width(self) -> int:
        """Width in pixels."""

    @property
    def height(self) -> int:
        """Height in pixels."""


@dataclass(frozen=True)
class AttachmentInfo:
    """One stored photo without its bytes (lists)."""

    id: int
    hazard_id: int | None
    report_id: int | None
    event_id: int | None
    kind: str
    sha256: str
    mime: str
    size_bytes: int
    width: int | None
    height: int | None
    inspection_id: int | None = None

    @property
    def kind_label(self) -> str:
        """The kind in Chinese."""
        return ATTACHMENT_KIND.get(self.kind, self.kind)


@dataclass(frozen=True)
class AttachmentData:
    """One stored photo with its bytes (serving)."""

    id: int
    sha256: str
    mime: str
    data: bytes


_INFO_COLUMNS = ('a."id", a."hazard_id", a."report_id", a."event_id", a."kind", a."sha256", a."mime", '
                 'a."size_bytes", a."width", a."height", a."inspection_id"')


def store(conn: Connection, photo: ImageLike, *, kind: str, by: str | None, hazard_id: int | None = None,
          report_id: int | None = None, event_id: int | None = None, inspection_id: int | None = None) -> int:
    """Store one cleaned photo of a hazard and/or a report, or of an inspection; the same bytes twice are kept once."""
    if kind not in ATTACHMENT_KIND:
        raise ValueError(f"unknown attachment kind {kind!r}")
    if hazard_id is None and report_id is None and inspection_id is None:
        raise ValueError("an attachment needs a hazard, a report or an inspection")
    if inspection_id is not None and (hazard_id is not None or report_id is not None or kind not in INSPECTION_KINDS):
        raise ValueError("an inspection's attachment is a scene photo or a signed document of that inspection only")
    signatures = _SIGNATURES.get(photo.mime)
    if not photo.data or signatures is None or not photo.data.startswith(signatures):
        raise ValueError("only re-encoded JPEG, PNG or WebP photos are stored")
    digest = hashlib.sha256(photo.data).hexdigest()
    found = conn.execute(text(
        'SELECT "id" FROM "attachments" WHERE "sha256" = :s AND "hazard_id" IS NOT DISTINCT FROM :h '
        'AND "report_id" IS NOT DISTINCT FROM :r AND "inspection_id" IS NOT DISTINCT FROM :x'),
        {"s": digest, "h": hazard_id, "r": report_id, "x": inspection_id}).scalar()
    if found is not None:
        return int(found)
    return int(conn.execute(text(
        'INSERT INTO "attachments" ("hazard_id", "report_id", "event_id", "inspection_id", "kind", "sha256", "mime", '
        '"size_bytes", "width", "height", "data", "created_by") '
        'VALUES (:h, :r, :e, :x, :k, :s, :m, :n, :w, :ht, :d, :by) RETURNING "id"'),
        {"h": hazard_id, "r": report_id, "e": event_id, "x": inspection_id, "k": kind, "s": digest, "m": photo.mime,
         "n": len(photo.data), "w": photo.width, "ht": photo.height, "d": photo.data, "by": by}).scalar_one())


def save_photos(conn: Connection, *, hazard_id: int, event_id: int | None, kind: str, files: Sequence[ImageLike],
                by: str) -> list[int]:
    """Store a hazard event's cleaned photos (in the event's transaction); return their ids.

    ``files`` come from :func:`dashboard.components.photos.photos_from_upload` (or ``clean_photos``).
    The caller has read the hazard within the actor's scope (``geo.hazard_actions``).
    """
    return [store(conn, f, kind=kind, by=by, hazard_id=hazard_id, event_id=event_id) for f in files]


def save_inspection_files(conn: Connection, *, inspection_id: int, files: Sequence[tuple[str, ImageLike]],
                          by: str) -> list[int]:
    """Store an inspection's cleaned ``(kind, photo)`` pairs (in the inspection's transaction); return their ids.

    The caller has just written the inspection within the actor's scope (``geo.inspections_app``).
    """
    return [store(conn, f, kind=kind, by=by, inspection_id=inspection_id) for kind, f in files]


def inspection_attachments(conn: Connection, *, scope: str, inspection_ids: Sequence[int],
                           enterprise_id: int | None = None) -> dict[int, list[AttachmentInfo]]:
    """Return the attachments of inspections in ``scope`` by inspection id, oldest first."""
    if not inspection_ids:
        return {}
    sql = (f'SELECT {_INFO_COLUMNS} FROM "attachments" a {_OWNER_JOINS}'  # noqa: S608 - fixed fragments
           f'WHERE a."inspection_id" = ANY(:ids) AND {_visible(False, enterprise_id)} ORDER BY a."id"')
    out: dict[int, list[AttachmentInfo]] = {}
    params = {"ids": list(inspection_ids), "own_enterprise": enterprise_id, **scope_params(scope)}
    for row in conn.execute(text(sql), params).mappings():
        info = AttachmentInfo(**row)
        out.setdefault(int(info.inspection_id or 0), []).append(info)
    return out


def hazard_attachments(conn: Connection, *, scope: str, hazard_id: int,
                       enterprise_id: int | None = None) -> list[AttachmentInfo]:
    """Return the photos of a hazard in ``scope``, oldest first (none when the hazard lies outside)."""
    sql = (f'SELECT {_INFO_COLUMNS} FROM "attachments" a {_OWNER_JOINS}'  # noqa: S608 - fixed fragments
           f'WHERE a."hazard_id" = :id AND {_visible(False, enterprise_id)} ORDER BY a."id"')
    params = {"id": hazard_id, "own_enterprise": enterprise_id, **scope_params(scope)}
    return [AttachmentInfo(**r) for r in conn.execute(text(sql), params).mappings()]


def report_attachments(conn: Connection, *, scope: str, report_ids: Sequence[int]) -> dict[int, list[AttachmentInfo]]:
    """Return the photos of public reports in ``scope`` by report id, oldest first."""
    if not report_ids:
        return {}
    sql = (f'SELECT {_INFO_COLUMNS} FROM "attachments" a {_OWNER_JOINS}'  # noqa: S608 - fixed fragments
           f'WHERE a."report_id" = ANY(:ids) AND {path_in_scope("ru.path")} AND {NO_DEPARTMENT} ORDER BY a."id"')
    out: dict[int, list[AttachmentInfo]] = {}
    for row in conn.execute(text(sql), {"ids": list(report_ids), **scope_params(scope)}).mappings():
        info = AttachmentInfo(**row)
        out.setdefault(int(info.report_id or 0), []).append(info)
    return out


def read_attachment(conn: Connection, *, scope: str, attachment_id: int, reports: bool,
                    enterprise_id: int | None = None) -> AttachmentData | None:
    """One photo with its bytes if its owner lies in ``scope``, else None (the same as a missing id).

    ``reports``: the reader works the public queue (may see photos of reports not yet confirmed);
    ``enterprise_id``: an enterprise account, which sees only its own enterprise's hazards.
    """
    sql = (f'SELECT a."id", a."sha256", a."mime", a."data" FROM "attachments" a {_OWNER_JOINS}'  # noqa: S608
           f'WHERE a."id" = :id AND {_visible(reports, enterprise_id)}')
    row = conn.execute(text(sql), {"id": attachment_id, "own_enterprise": enterprise_id,
                                   **scope_params(scope)}).one_or_none()
    return AttachmentData(int(row[0]), str(row[1]), str(row[2]), bytes(row[3])) if row else None
