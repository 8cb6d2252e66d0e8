"""``safegrid demo build``: write the 许昌市 demo ledgers and a manifest into a directory."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from domain import clock
from etl.demo import records
from etl.demo.geometry import build_units
from etl.demo.records import Scale
from etl.demo.writer import sha256, write_csv, write_geojson, write_xlsx

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BuildOptions:
    """What to build: seed, reference date, sizes and the xlsx/csv switch."""

    seed: int = 4110
    as_of: date = field(default_factory=clock.today)
    scale: Scale = field(default_factory=Scale)
    # a ledger with more rows than this is written as csv (writing xlsx is slow for big tables)
    xlsx_max_rows: int = 60_000


def build(out_dir: Path, options: BuildOptions | None = None) -> dict[str, Any]:
    """Generate the demo into ``out_dir`` and return the manifest (also written as manifest.json)."""
    opts = options or BuildOptions()
    out_dir.mkdir(parents=True, exist_ok=True)
    units = build_units(opts.seed)
    rng = np.random.default_rng([opts.seed, 20])
    files: list[dict[str, Any]] = []

    def add(kind: str, name: str, rows: int, level: int | None = None) -> None:
        files.append({"kind": kind, "file": name, "level": level, "rows": rows, "sha256": sha256(out_dir / name)})

    write_geojson(out_dir / "boundaries_level1_2.geojson", [u for u in units if u.level <= 2])
    add("boundaries", "boundaries_level1_2.geojson", sum(u.level <= 2 for u in units))
    for level in (3, 4, 5):
        name = f"boundaries_level{level}.geojson"
        write_geojson(out_dir / name, [u for u in units if u.level == level])
        add("boundaries", name, sum(u.level == level for u in units), level)

    def ledger(kind: str, stem: str, table: dict[str, np.ndarray], force_csv: bool = False) -> None:
        rows = len(next(iter(table.values())))
        if force_csv or rows > opts.xlsx_max_rows:
            name = f"{stem}.csv"
            write_csv(out_dir / name, kind, table)
        else:
            name = f"{stem}.xlsx"
            write_xlsx(out_dir / name, kind, table, opts.as_of)
        for other in (f"{stem}.csv", f"{stem}.xlsx"):
            if other != name:
                (out_dir / other).unlink(missing_ok=True)
        add(kind, name, rows)

    ledger("persons", "persons", records.persons(rng, units, opts.as_of))
    ent, gidx = records.enterprises(rng, units, opts.scale, opts.as_of)
    sources = records.hazard_sources(rng, ent, opts.scale, opts.as_of)  # sets the 重大危险源 flags first
    ledger("enterprises", "enterprises", ent)
    ledger("hazard-sources", "hazard_sources", sources)
    grids = [u for u in units if u.level == 5]
    grid_codes = np.array([g.code for g in grids])
    cells = np.array([g.geom for g in grids], dtype=object)
    ledger("hazards", "hazards", records.hazards(rng, ent, grid_codes, gidx, cells, opts.scale, opts.as_of))
    insp = records.inspections(rng, units, ent, grid_codes, gidx, opts.scale, opts.as_of)
    ledger("inspections", "inspections", insp, force_csv=True)
    # Accidents and the targets' denominators (issue 18): their own random stream, the ledgers above unchanged.
    ledger("accidents", "accidents", records.accidents(np.random.default_rng([opts.seed, 18]), ent, opts.as_of))
    ledger("denominators", "denominators", records.denominators(units, opts.as_of))

    counts = {f"units_level{lvl}": sum(u.level == lvl for u in units) for lvl in range(1, 6)}
    counts |= {f["kind"]: f["rows"] for f in files if f["kind"] != "boundaries"}
    manifest = {
        "dataset": "许昌市 demo (SafeGrid)",
        "note": "市、县两级边界为真实数据 (建安区与许昌经济技术开发区之间的分界为示意)；"
                "乡镇、村、网格边界及全部台账均为合成示意数据",
        "seed": opts.seed,
        "as_of": opts.as_of.isoformat(),
        "enterprises": opts.scale.enterprises,
        "counts": counts,
        "load_order": files,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest
