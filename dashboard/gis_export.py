"""``/api/export/gis``: the command map's layers in a bbox as a GeoPackage or a zipped Shapefile, for offline GIS.

``?layers=units-3,enterprises,hazard-sources,open-hazards&bbox=w,s,e,n&format=gpkg|shp``: the layer ids are the
OGC API collection ids (:func:`dashboard.ogc.collections_for`, so the unit levels and every registered point
layer), the rows come from :func:`geo.ogc_queries.export_columns` inside the caller's scope, at most
:data:`MAX_FEATURES` per layer. Field names and coded values are Chinese: the property titles in the GeoPackage;
in the Shapefile short names of at most 10 bytes in GBK (the ``.dbf`` limit), the ``.dbf`` written in GBK with a
``.cpg`` saying so. The CRS is CGCS2000 (EPSG:4490; the stored WGS 84 coordinates agree with it to centimetres,
see docs/gis.md). Written with pyogrio (GDAL from its wheel) into a temporary directory; every export is audited.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
from dash import html
from flask import Flask, Response, request
from flask import send_file as flask_send_file

from dashboard.dry import attrs, static_html
from dashboard.errors import BadRequestError
from dashboard.ogc import LAYER_COLLECTION_IDS, OgcError, collections_for, parse_bbox
from dashboard.roles import Capability
from dashboard.scope import Account, client_ip, current_account, scoped_route
from domain import clock, labels
from geo.db import connect
from geo.ogc_queries import OgcCollection, OgcProperty, export_columns
from geo.users import audit
from layers.registry import UNITS, point_layers

log = logging.getLogger(__name__)

CRS = "EPSG:4490"  # CGCS2000
MAX_FEATURES = 200_000  # per layer and file
FORMATS = {"gpkg": "GPKG", "shp": "ESRI Shapefile"}
DBF_NAME_BYTES = 10
# Short dbf names (≤ 10 bytes in GBK) where a property's title is longer; otherwise the title is used.
SHORT_NAMES = {
    "code": "代码", "name": "名称", "parent_code": "上级代码", "hazards_open": "未销号隐患",
    "hazards_overdue": "逾期隐患", "hazards_major_open": "重大隐患", "enterprises": "企业数",
    "area_km2": "面积km2", "class_label": "分类名称", "credit_code": "信用代码", "enterprise": "企业名称",
    "has_major_hazard_source": "重大危险源", "grid_code": "网格代码", "supervision_level": "督办级别",
    "risk_score": "风险分值", "is_demo_geometry": "示意边界", "recorded_at": "备案日期",
}
# Coded values shown in Chinese, by property name.
VALUE_LABELS: dict[str, Any] = {
    "risk_class": labels.RISK_LEVEL_LONG, "risk_level": labels.RISK_LEVEL_LONG, "status": labels.HAZARD_STATUS,
    "scale": labels.SCALE, "kind": labels.UNIT_KIND, "supervision_level": labels.SUPERVISION_LEVEL,
}
GEOMETRY_TYPES = {"Point": "Point", "MultiPolygon": "MultiPolygon"}


def dbf_names(collection: OgcCollection) -> dict[str, str]:
    """Property name → a unique Chinese field name of at most 10 bytes in GBK."""
    out: dict[str, str] = {}
    for p in collection.properties:
        name = SHORT_NAMES.get(p.name) or p.title or p.name
        if collection.id.startswith("units") and p.name == "level":
            name = "层级"
        while len(name.encode("gbk")) > DBF_NAME_BYTES:
            name = name[:-1]
        base, n = name, 1
        while name in out.values():
            n += 1
            name = base[: len(base) - len(str(n))] + str(n)
        out[p.name] = name
    return out


def _vocab(prop: OgcProperty) -> Any:
    if prop.name == "level" and prop.enum:  # a hazard's level (a unit's level is a number)
        return labels.HAZARD_LEVEL
    return VALUE_LABELS.get(prop.name)


def _shown(prop: OgcProperty, values: list[Any]) -> list[Any]:
    """Return the values of one property as the file shows them: 是/否, ISO dates, coded values in Chinese."""
    if prop.type == "boolean":
        return [None if v is None else ("是" if v else "否") for v in values]
    if prop.type == "date":
        return [v.isoformat() if isinstance(v, date | datetime) else v for v in values]
    vocab = _vocab(prop)
    if vocab is not None:
        return [vocab.get(v, v) if isinstance(v, str | int) else v for v in values]
    return values


def _columns(collection: OgcCollection, columns: dict[str, list[Any]], names: dict[str, str]) -> tuple[
        list[np.ndarray], list[np.ndarray | None], list[str]]:
    """Typed numpy columns (integers with a null mask, numbers with NaN, the rest text) and their field names."""
    data: list[np.ndarray] = []
    masks: list[np.ndarray | None] = []
    fields: list[str] = []
    for p in collection.properties:
        values = _shown(p, columns[p.name])
        if p.type == "integer" and _vocab(p) is None:
            mask = np.array([v is None for v in values], dtype=bool)
            data.append(np.array([0 if v is None else int(v) for v in values], dtype=np.int64))
            masks.append(mask)
        elif p.type == "number":
            data.append(np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64))
            masks.append(None)
        else:
            data.append(np.array([v if v is None or isinstance(v, str) else str(v) for v in values], dtype=object))
            masks.append(None)
        fields.append(names[p.name])
    return data, masks, fields


def write_columns(path: Path, collection: OgcCollection, wkb: list[bytes | None], columns: dict[str, list[Any]], *,
                  driver: str, names: dict[str, str]) -> None:
    """Write one layer with pyogrio (GeoPackage: one layer of the file; Shapefile: its own .shp/.dbf/.prj/.cpg)."""
    geometry = np.array(wkb, dtype=object)
    data, masks, fields = _columns(collection, columns, names)
    options: dict[str, Any] = {}
    if driver == "ESRI Shapefile":
        options["encoding"] = "GBK"
    pyogrio.raw.write(str(path), geometry, data, fields, field_mask=masks, layer=collection.id, driver=driver,
                      geometry_type=GEOMETRY_TYPES[collection.geometry_type], crs=CRS, append=path.exists()
                      and driver == "GPKG", layer_metadata={"DESCRIPTION": collection.title}
                      if driver == "GPKG" else None, **options)


def write_layer(path: Path, collection: OgcCollection, rows: list[dict[str, Any]], *, driver: str,
                names: dict[str, str]) -> None:
    """:func:`write_columns` of rows as ``geo.ogc_queries.export_rows`` returns them."""
    wkb = [bytes(r["wkb"]) if r["wkb"] is not None else None for r in rows]
    write_columns(path, collection, wkb, {p.name: [r[p.name] for r in rows] for p in collection.properties},
                  driver=driver, names=names)


def export() -> Response:
    """Return the requested layers in the bbox as one .gpkg or one .zip of shapefiles (scope-limited, audited)."""
    fmt = request.args.get("format", "gpkg")
    if fmt not in FORMATS:
        raise BadRequestError("format 参数只能是 gpkg 或 shp。")
    account = current_account()
    available = {c.id: c for c in collections_for(account)}
    wanted = [x for x in (request.args.get("layers") or "").split(",") if x]
    unknown = [x for x in wanted if x not in available]
    if not wanted or unknown or len(set(wanted)) != len(wanted):
        raise BadRequestError(f"layers 参数应为以下图层的逗号分隔列表：{'、'.join(available)}")
    try:
        boxes = parse_bbox(request.args["bbox"]) if request.args.get("bbox") else ()
    except OgcError as exc:
        raise BadRequestError(exc.description) from exc
    counts: dict[str, int] = {}
    stamp = datetime.now(clock.zone()).strftime("%Y%m%d-%H%M")
    base = f"safegrid-{account.record.scope_code}-{stamp}"
    with tempfile.TemporaryDirectory(prefix="safegrid-gis-") as tmp, connect() as conn:
        folder = Path(tmp)
        target = folder / f"{base}.gpkg"
        for cid in wanted:
            c = available[cid]
            wkb, columns = export_columns(conn, scope=account.scope, collection=c, boxes=boxes, limit=MAX_FEATURES)
            counts[cid] = len(wkb)
            if fmt == "gpkg":
                write_columns(target, c, wkb, columns, driver="GPKG",
                              names={p.name: p.title or p.name for p in c.properties})
            else:
                write_columns(folder / f"{cid}.shp", c, wkb, columns, driver="ESRI Shapefile", names=dbf_names(c))
        audit(conn, username=account.username, action="export_gis", ip=client_ip(),
              detail={"format": fmt, "layers": counts, "bbox": request.args.get("bbox"),
                      "scope": account.record.scope_code})
        if fmt == "gpkg":
            payload, name, mimetype = target.read_bytes(), f"{base}.gpkg", "application/geopackage+sqlite3"
        else:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for file in sorted(folder.iterdir()):
                    zf.write(file, f"{base}/{file.name}")
            payload, name, mimetype = buf.getvalue(), f"{base}-shp.zip", "application/zip"
    log.info("GIS export %s: %s", fmt, counts)
    return flask_send_file(io.BytesIO(payload), mimetype=mimetype, as_attachment=True, download_name=name)


def init_app(server: Flask) -> None:
    """Register ``/api/export/gis`` (signed-in accounts with the export capability)."""
    server.add_url_rule("/api/export/gis", "export_gis", scoped_route(Capability.EXPORT)(export))


# --- the command map's download links --------------------------------------------------------------


def export_links(account: Account) -> Any:
    """Return the command map's two download links as HTML (no components, no callback).

    assets/map.js (``exportLinks``) writes their hrefs whenever the view changes — the map's bounds, its
    ticked overlays (``data-layers``: [title, collection id] in the registry's order; the unit polygons are
    exported one level below the unit shown) — rather than a
    callback on the map's bounds and ``cm-state``, which ran twice a drill-down step (~10 store updates of
    the whole page each).
    """
    # [title, collection id] in the layers control's order; the unit polygons' id is their level's, known in the browser
    order = [[UNITS.title, "units"]] + [[spec.title, LAYER_COLLECTION_IDS.get(spec.id, spec.id)]
                                        for spec in point_layers().values()]
    return static_html(html.Div([
        html.Span("导出当前视图：", className="cm-export-label"),
        html.A("GeoPackage", id="cm-export-gpkg", href="", download="", className="cm-export"),
        " · ",
        html.A("Shapefile（zip）", id="cm-export-shp", href="", download="", className="cm-export"),
    ], className="cm-export-links", hidden=not account.can(Capability.EXPORT),
        **attrs({"data-layers": json.dumps(order, ensure_ascii=False)})),
        "cm-export-host")
