"""``safegrid demo load``: load a built demo through the public loaders, then refresh."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from etl.demo.build import MANIFEST
from etl.refresh import RefreshResult, refresh_all


class DemoLoadError(RuntimeError):
    """The demo cannot be loaded (message in Chinese)."""


@dataclass
class DemoLoadResult:
    """What each file's load returned, and the refresh."""

    loads: list[tuple[str, Any]] = field(default_factory=list)
    refresh: RefreshResult | None = None

    @property
    def ok(self) -> bool:
        """Tell whether every file loaded without rejected rows."""
        return all(getattr(r, "status", None) == "ok" for _, r in self.loads)


def read_manifest(directory: Path) -> dict[str, Any]:
    """Read ``manifest.json`` of a built demo."""
    path = directory / MANIFEST
    if not path.exists():
        raise DemoLoadError(f"{directory} 中没有 {MANIFEST}：请先运行 safegrid demo build {directory}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_demo(directory: Path, *, url: str | None = None, as_of: date | None = None,
              progress: Callable[[str, Any], None] | None = None,
              before_refresh: Callable[[dict[str, Any]], None] | None = None) -> DemoLoadResult:
    """Load every file of the manifest in order with ``etl.load.load_file``, then ``refresh_all``.

    ``before_refresh(manifest)`` runs between the loads and the refresh (the command line records the demo's
    app work there, :mod:`etl.demo.activity`, so the refresh counts its patrols and inspections for 四查).
    """
    try:
        from etl.load import load_file
    except ImportError as exc:  # the loaders are a separate work item
        raise DemoLoadError(f"导入程序 etl.load.load_file 不可用：{exc}") from exc
    manifest = read_manifest(directory)
    result = DemoLoadResult()
    for entry in manifest["load_order"]:
        path = directory / entry["file"]
        outcome = load_file(entry["kind"], path, level=entry.get("level"), url=url)
        result.loads.append((entry["file"], outcome))
        if progress is not None:
            progress(entry["file"], outcome)
        if getattr(outcome, "status", None) not in ("ok", "partial"):
            raise DemoLoadError(f"{entry['file']} 导入失败：{getattr(outcome, 'message', outcome)}")
    if before_refresh is not None:
        before_refresh(manifest)
    result.refresh = refresh_all(url, as_of=as_of)
    if progress is not None:
        progress("refresh", result.refresh)
    return result
