"""``safegrid etl schedule``: watch an inbox directory, load what arrives, file it under done/ or failed/.

File names say what they hold: ``<kind>[_level<N>][_anything].<ext>``, e.g. ``enterprises_2025-09.xlsx``,
``boundaries_level5_grids.geojson``, ``hazard-sources.csv``. Files are loaded top-down (boundaries by
level, then persons, enterprises, hazard sources, hazards, inspections). After anything loaded the
derived tables are refreshed with ``etl.refresh.refresh_all`` when that module exists. A file with
foreign field names brings its saved mapping beside it: ``<stem>.mapping.json`` (``--save-mapping``).
"""

from __future__ import annotations

import importlib
import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from etl.load import LoadResult, UsageError, load_file
from etl.mapping import MappingError, read_mapping
from geo import etl_sql

log = logging.getLogger(__name__)
ORDER = ("boundaries", "persons", "enterprises", "hazard-sources", "hazards", "inspections", "accidents",
         "denominators")
SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm", ".geojson", ".json", ".gpkg", ".shp"}
SIDECARS = (".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml")
MAPPING_SIDECAR = ".mapping.json"  # <file stem>.mapping.json: the --save-mapping of that file's department
_NAME = re.compile(
    r"^(?P<kind>boundaries|persons|enterprises|hazard[-_]sources|hazards|inspections|accidents|denominators)"
    r"(?:_level(?P<level>[1-5]))?(?:[_\-.\s].*)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class InboxFile:
    """A file waiting in the inbox with the kind (and level) its name announces."""

    path: Path
    kind: str
    level: int | None

    @property
    def order(self) -> tuple[int, int, str]:
        """Sort key: kind order, then level, then name."""
        return ORDER.index(self.kind), self.level or 0, self.path.name


def classify(path: Path) -> InboxFile | None:
    """Read kind and level from a file name, or None when the name does not say."""
    if path.suffix.lower() not in SUFFIXES:
        return None
    match = _NAME.match(path.stem)
    if not match:
        return None
    kind = match.group("kind").lower().replace("_", "-")
    level = int(match.group("level")) if match.group("level") else None
    return InboxFile(path, kind, level)


def pending(inbox: Path, *, settle_seconds: float = 0.0) -> tuple[list[InboxFile], list[Path]]:
    """Files ready to load (unchanged for ``settle_seconds``), sorted top-down, and unrecognised names."""
    ready: list[InboxFile] = []
    unknown: list[Path] = []
    now = time.time()
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        if path.suffix.lower() in SIDECARS or path.name.endswith((".result.txt", MAPPING_SIDECAR)):
            continue
        if now - path.stat().st_mtime < settle_seconds:
            continue
        item = classify(path)
        if item is None:
            unknown.append(path)
        else:
            ready.append(item)
    return sorted(ready, key=lambda f: f.order), unknown


def _file_away(path: Path, target: Path, report: str) -> Path:
    """Move a file (and its shapefile sidecars) into ``target`` with a report beside it."""
    target.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = target / f"{stamp}_{path.name}"
    for sidecar in (*(path.with_suffix(s) for s in SIDECARS), mapping_sidecar(path)):
        if sidecar.exists():
            shutil.move(str(sidecar), target / f"{stamp}_{sidecar.name}")
    shutil.move(str(path), dest)
    dest.with_name(dest.name + ".result.txt").write_text(report, encoding="utf-8")
    return dest


def mapping_sidecar(path: Path) -> Path:
    """Return where a file's saved field mapping sits in the inbox: ``<stem>.mapping.json`` beside it."""
    return path.with_name(path.stem + MAPPING_SIDECAR)


def _report(result: LoadResult) -> str:
    lines = [f"run {result.run_id} {result.kind} {result.status}", result.message]
    lines += [f"第 {n} 行：{'；'.join(errors)}" for n, errors in result.rejects[:200]]
    return "\n".join(lines) + "\n"


def refresh_hook() -> Callable[..., object] | None:
    """``etl.refresh.refresh_all`` when that module is installed, else None."""
    try:
        module = importlib.import_module("etl.refresh")
    except ImportError:
        return None
    return getattr(module, "refresh_all", None)


def run_once(inbox: Path, *, url: str | None = None, settle_seconds: float = 0.0,
             refresh: bool = True) -> list[LoadResult]:
    """Load every ready inbox file once; move each to done/ (ok, partial) or failed/ (refused)."""
    inbox.mkdir(parents=True, exist_ok=True)
    ready, unknown = pending(inbox, settle_seconds=settle_seconds)
    for path in unknown:
        reason = f"文件名无法识别数据类型：应为 <类型>[_level<N>]_任意.扩展名，类型为 {'、'.join(ORDER)}\n"
        _file_away(path, inbox / "failed", reason)
    results: list[LoadResult] = []
    for item in ready:
        # SIGINT/SIGTERM: the run is recorded 已中断, the file stays in the inbox, LoadInterrupted goes up.
        sidecar = mapping_sidecar(item.path)
        try:
            fields = read_mapping(sidecar, kind=item.kind) if sidecar.exists() else None
            result = load_file(item.kind, item.path, level=item.level, url=url, fields=fields)
        except (MappingError, UsageError) as exc:
            _file_away(item.path, inbox / "failed", f"映射文件 {sidecar.name} 无法使用：{exc}\n")
            log.info("%s → failed: %s", item.path.name, exc)
            continue
        results.append(result)
        folder = "done" if result.status in ("ok", "partial") else "failed"
        _file_away(item.path, inbox / folder, _report(result))
        log.info("%s → %s: %s", item.path.name, folder, result.message)
    if refresh and any(r.rows_loaded for r in results):
        hook = refresh_hook()
        if hook is None:
            log.warning("etl.refresh.refresh_all 不可用：未刷新派生表")
        else:
            hook(url=url)
    return results


def run_forever(inbox: Path, *, poll_seconds: float, url: str | None = None, settle_seconds: float = 5.0) -> None:
    """Poll the inbox until interrupted."""
    while True:
        try:
            run_once(inbox, url=url, settle_seconds=settle_seconds)
        except DBAPIError as exc:  # database down, disk full…: one line, the traceback at debug level
            log.error("收件目录处理失败：%s", etl_sql.describe_db_error(exc))
            log.debug("inbox run failed", exc_info=exc)
        except Exception:  # keep the scheduler alive; the run log holds the details
            log.exception("inbox run failed")
        time.sleep(poll_seconds)
