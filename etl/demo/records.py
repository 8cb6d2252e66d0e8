"""Seeded demo ledgers: persons, enterprises, hazard sources, hazards, inspections, accidents and denominators.

Tables are column-oriented (``dict`` of column key → numpy array or list, keys as in
``etl.columns.LEDGERS``); values are the English enum values, the writer turns them into the
Chinese labels a bureau writes. Everything is vectorised with numpy so 1,000,000 enterprises
stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import shapely

from domain.accidents import grade_of
from domain.codes import CREDIT_CHARSET, credit_check_char, org_check_char
from domain.labels import ACCIDENT_GRADE, ACCIDENT_TYPE
from etl.demo import names
from etl.demo.geometry import DemoUnit

Table = dict[str, np.ndarray]
BASE_ENTERPRISES = 20_000
# Industry mix of ~20,000 enterprises in a 许昌-sized city (share of all enterprises).
INDUSTRY_MIX = {
    "机械": 0.19, "商贸": 0.19, "轻工": 0.14, "建筑施工": 0.12, "建材": 0.07, "纺织": 0.06, "交通运输": 0.05,
    "冶金": 0.02, "危险化学品": 0.015, "有色": 0.01, "非煤矿山": 0.008, "城镇燃气": 0.004, "烟草": 0.001,
    "民用爆炸物品": 0.0002, "烟花爆竹": 0.0003,
}
# How much riskier than average an industry tends to be (drives the colour ranking).
INDUSTRY_RISK = {
    "危险化学品": 2.5, "烟花爆竹": 2.5, "民用爆炸物品": 2.5, "非煤矿山": 2.0, "冶金": 1.6, "城镇燃气": 1.8,
    "有色": 1.3, "建筑施工": 1.0, "建材": 0.8, "交通运输": 0.6, "机械": 0.4, "纺织": 0.3, "轻工": 0.3,
    "商贸": 0.0, "烟草": 0.0, "其他": 0.0,
}
COLOUR_SHARES = (("red", 0.02), ("orange", 0.08), ("yellow", 0.30), ("blue", 0.55))  # rest: not assessed
DEPARTMENTS = {
    "危险化学品": "应急管理局", "非煤矿山": "应急管理局", "烟花爆竹": "应急管理局", "冶金": "应急管理局",
    "有色": "应急管理局", "建材": "工业和信息化局", "机械": "工业和信息化局", "轻工": "工业和信息化局",
    "纺织": "工业和信息化局", "烟草": "烟草专卖局", "商贸": "商务局", "建筑施工": "住房和城乡建设局",
    "交通运输": "交通运输局", "城镇燃气": "城市管理局", "民用爆炸物品": "工业和信息化局", "其他": "市场监督管理局",
}
SOURCE_INDUSTRIES = ("危险化学品", "冶金", "有色", "城镇燃气")
SUBSTANCES = ("液氨", "液氯", "甲醇", "氢气", "天然气", "液化石油气", "硫酸", "苯", "丙烯", "煤气", "氧气")


@dataclass(frozen=True)
class Scale:
    """How many records of each kind the build writes."""

    enterprises: int = BASE_ENTERPRISES
    hazards_per_enterprise: float = 0.75
    sources_per_enterprise: float = 300 / BASE_ENTERPRISES
    enterprise_inspections_per_enterprise: float = 0.5
    village_days: int = 60  # daily village inspections are generated for this many days only
    township_days: int = 365
    years: int = 3

    @property
    def hazards(self) -> int:
        """Number of hidden hazards."""
        return round(self.enterprises * self.hazards_per_enterprise)

    @property
    def sources(self) -> int:
        """Number of major hazard sources."""
        return max(1, round(self.enterprises * self.sources_per_enterprise))


def _dates(as_of: date, days_back: np.ndarray) -> np.ndarray:
    return np.datetime64(as_of, "D") - days_back.astype("timedelta64[D]")


def _shuffle_unique(rng: np.random.Generator, n: int, space: int) -> np.ndarray:
    """``n`` distinct integers in [0, space) in a seeded order (an affine bijection, no big sets)."""
    step = 1_000_003  # prime, coprime with 31**6
    start = int(rng.integers(0, space))
    return (start + np.arange(n, dtype=np.int64) * step) % space


def credit_codes(rng: np.random.Generator, divisions: np.ndarray) -> np.ndarray:
    """Make valid 统一社会信用代码: '91' (enterprise) + division code + 'MA' + 6 characters + checks."""
    n = len(divisions)
    nums = _shuffle_unique(rng, n, 31**6)
    chars = np.array(list(CREDIT_CHARSET))
    body = np.full(n, "MA", dtype="<U8")
    for k in range(5, -1, -1):
        body = np.char.add(body, chars[(nums // 31**k) % 31])
    out = []
    for div, org in zip(divisions.tolist(), body.tolist(), strict=True):
        head = "91" + div + org + org_check_char(org)
        out.append(head + credit_check_char(head))
    return np.array(out)


def persons(rng: np.random.Generator, units: list[DemoUnit], as_of: date, vacancy: float = 0.03) -> Table:
    """List the duties of every unit: first 1, leader 1, supervisor 2, + info officer (villages) / grid worker."""
    unit_code, unit_name, role, seq = [], [], [], []
    for u in units:
        slots = [("first", 1), ("leader", 1), ("supervisor", 1), ("supervisor", 2)]
        if u.level == 4:
            slots.append(("info_officer", 1))
        if u.level == 5:
            slots.append(("grid_worker", 1))
        for r, s in slots:
            unit_code.append(u.code)
            unit_name.append(u.name)
            role.append(r)
            seq.append(s)
    n = len(role)
    keep = rng.random(n) >= vacancy
    names_ = names.person_names(rng, n)
    phone = names.phones(rng, n)
    roles = np.array(role)
    uname = np.array(unit_name)
    org = np.where(np.char.endswith(uname, "网格"), np.char.add(uname, "工作站"), uname)
    titles = {"first": "书记", "leader": "副主任", "supervisor": "安全监管员", "info_officer": "信息员",
              "grid_worker": "专职网格员"}
    title = np.array([titles[r] for r in role])
    since = _dates(as_of, rng.integers(30, 1500, n))
    keys = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    table: Table = {
        "unit_code": np.array(unit_code), "unit_name": uname, "role": roles, "seq": np.array(seq),
        "name": names_, "phone": phone, "org": org, "title": title, "since": since, "person_key": keys,
    }
    return {k: v[keep] for k, v in table.items()}


def _place_points(rng: np.random.Generator, cells: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """One random point (6 decimals) strictly inside ``cells[i]`` for every i in ``idx``."""
    shapely.prepare(cells)
    bounds = shapely.bounds(cells)
    out = np.empty((len(idx), 2))
    todo = np.arange(len(idx))
    while len(todo):
        b = bounds[idx[todo]]
        x = np.round(rng.uniform(b[:, 0], b[:, 2]), 6)
        y = np.round(rng.uniform(b[:, 1], b[:, 3]), 6)
        ok = shapely.contains_xy(cells[idx[todo]], x, y)
        out[todo[ok]] = np.column_stack([x[ok], y[ok]])
        todo = todo[~ok]
    return out


def enterprises(rng: np.random.Generator, units: list[DemoUnit], scale: Scale, as_of: date) -> tuple[Table, np.ndarray]:
    """Enterprises placed in grid cells (denser in 街道 and 开发区); returns the table and their grid index."""
    n = scale.enterprises
    by_code = {u.code: u for u in units}
    grids = [u for u in units if u.level == 5]
    cells = np.array([g.geom for g in grids], dtype=object)
    town = [by_code[by_code[g.parent or ""].parent or ""] for g in grids]
    county = [by_code[t.parent or ""] for t in town]
    density = np.array([
        40.0 if t.kind == "dev_zone" or c.kind == "county_other"
        else 20.0 if t.kind in ("subdistrict", "township_other") else 1.0
        for t, c in zip(town, county, strict=True)
    ])
    weight = shapely.area(cells) * density
    gidx = rng.choice(len(grids), size=n, p=weight / weight.sum())
    gidx.sort()  # ledger ordered by place, like an export from a registry
    xy = _place_points(rng, cells, gidx)

    inds = list(INDUSTRY_MIX)
    p = np.array([INDUSTRY_MIX[i] for i in inds])
    industry = rng.choice(np.array([*inds, "其他"]), size=n, p=np.append(p, 1 - p.sum()))

    latent = np.array([INDUSTRY_RISK[i] for i in industry]) + rng.normal(0, 1.0, n)
    order = np.argsort(-latent, kind="stable")
    risk = np.full(n, "", dtype="<U6")
    start = 0
    for colour, share in COLOUR_SHARES:
        k = round(share * n)
        risk[order[start:start + k]] = colour
        start += k
    risk[rng.random(n) < 0.04] = ""  # ~4% not yet assessed (picked at random across colours)

    scale_draw = rng.choice(np.array(["large", "medium", "small", "micro"]), size=n, p=[0.02, 0.1, 0.45, 0.43])
    employees = np.select(
        [scale_draw == "large", scale_draw == "medium", scale_draw == "small"],
        [rng.integers(1000, 5000, n), rng.integers(300, 1000, n), rng.integers(20, 300, n)],
        rng.integers(3, 20, n),
    )
    # 属地监管层级: large ones 市属, every tenth of them 央属 and the next 省属 (by position: no extra draw, so the
    # other columns keep their values for a seed); medium 县属, the rest 乡属.
    large, position = scale_draw == "large", np.arange(n)
    tier = np.select([large & (position % 10 == 0), large & (position % 10 == 1), large, scale_draw == "medium"],
                     [4, 5, 1, 2], 3)
    county_code = np.array([c.code for c in county])[gidx]
    county_name = np.array([c.name for c in county])[gidx]
    town_name = np.array([t.name for t in town])[gidx]
    dept_scope = np.where(np.isin(tier, [1, 4, 5]), "许昌市", county_name)  # 市级管央属、省属、市属 (许昌 plan)
    dept = np.char.add(dept_scope, np.array([DEPARTMENTS[i] for i in industry]))
    place = np.where(np.isin(county_code, ["411081", "411082"]), np.char.replace(county_name, "市", ""), "许昌")
    hazardous = np.isin(industry, ["危险化学品", "烟花爆竹", "民用爆炸物品"])
    std = rng.choice(np.array(["grade1", "grade2", "grade3", "small_micro", "none"]), size=n,
                     p=[0.01, 0.06, 0.38, 0.45, 0.10])
    road = rng.choice(np.array(names.ROADS), size=n)
    addr = np.char.add(np.char.add(np.char.add(np.char.add("许昌市", county_name), town_name), road),
                       np.char.add(rng.integers(1, 999, n).astype(str), "号"))
    assessed = _dates(as_of, rng.integers(20, 700, n))
    table: Table = {
        "credit_code": credit_codes(rng, county_code),
        "name": names.enterprise_names(rng, industry, place),
        "industry": industry,
        "industry_detail": np.full(n, "", dtype="<U1"),
        "scale": scale_draw,
        "employees": employees,
        "supervising_dept": dept,
        "supervision_tier": tier,
        "risk_level": risk,
        "risk_method": np.where(risk == "", "", np.where(hazardous, "HAZOP/LEC", "LEC")),
        "risk_assessed_at": np.where(risk == "", np.datetime64("NaT"), assessed),
        "std_grade": std,
        "key_hazardous_process": hazardous & (rng.random(n) < 0.3),
        "key_hazardous_chemical": hazardous & (rng.random(n) < 0.6),
        "has_major_hazard_source": np.zeros(n, dtype=bool),
        # 重点监管单位 the grids name: 红 enterprises and hazardous ones with 100+ employees
        "key_supervision": (risk == "red") | (hazardous & (employees >= 100)),
        "address": addr,
        "legal_rep": names.person_names(rng, n),
        "legal_rep_phone": names.phones(rng, n),
        "safety_manager": names.person_names(rng, n),
        "safety_manager_phone": names.phones(rng, n),
        "lon": xy[:, 0],
        "lat": xy[:, 1],
        "grid_code": np.full(n, "", dtype="<U1"),
    }
    return table, gidx


def r_grade(r: np.ndarray) -> np.ndarray:
    """GB 18218 grade from R: 一级 R≥100, 二级 50≤R<100, 三级 10≤R<50, 四级 R<10."""
    return np.select([r >= 100, r >= 50, r >= 10], [1, 2, 3], 4)


def hazard_sources(rng: np.random.Generator, ent: Table, scale: Scale, as_of: date) -> Table:
    """Major hazard sources on chemical/metallurgy/gas enterprises (sets their 构成重大危险源 flag)."""
    candidates = np.flatnonzero(np.isin(ent["industry"], SOURCE_INDUSTRIES))
    n = min(scale.sources, 2 * len(candidates))
    owners = np.sort(rng.choice(candidates, size=n, replace=len(candidates) < n))
    ent["has_major_hazard_source"][owners] = True
    r = np.round(rng.lognormal(2.6, 1.0, n), 2)
    subst = rng.choice(np.array(SUBSTANCES), size=n)
    code = np.char.add(np.char.add("WXY", np.char.replace(ent["credit_code"][owners], " ", "")),
                       np.char.zfill((np.arange(n) % 1000 + 1).astype(str), 3))
    return {
        "code": code,
        "credit_code": ent["credit_code"][owners],
        "name": np.char.add(subst, rng.choice(np.array(["储罐区", "生产装置", "仓库", "装卸区"]), size=n)),
        "grade": r_grade(r),
        "r_value": r,
        "substances": subst,
        "recorded_at": _dates(as_of, rng.integers(30, 1800, n)),
        "main_person": names.person_names(rng, n), "main_person_phone": names.phones(rng, n),
        "tech_person": names.person_names(rng, n), "tech_person_phone": names.phones(rng, n),
        "op_person": names.person_names(rng, n), "op_person_phone": names.phones(rng, n),
        "lon": np.full(n, np.nan), "lat": np.full(n, np.nan),
    }


def hazards(rng: np.random.Generator, ent: Table, grid_codes: np.ndarray, gidx: np.ndarray, cells: np.ndarray,
            scale: Scale, as_of: date) -> Table:
    """Hidden hazards over the last ``scale.years`` years, in every status and channel."""
    n = scale.hazards
    span = 365 * scale.years
    age = np.minimum(rng.random(n) ** 1.6 * span, span - 1).astype(int)  # more recent than old
    found = _dates(as_of, age)
    major = rng.random(n) < 0.08
    channel = rng.choice(np.array(["self_check", "inspection", "public_report"]), size=n, p=[0.5, 0.4, 0.1])
    weight = np.select([ent["risk_level"] == c for c in ("red", "orange", "yellow", "blue")], [8, 4, 2, 1], 1.5)
    owner = rng.choice(len(ent["credit_code"]), size=n, p=weight / weight.sum())
    anonymous = (channel == "public_report") & (rng.random(n) < 0.5)  # reports about a place, not a firm
    limit = np.where(major, rng.integers(30, 91, n), rng.integers(3, 31, n))
    deadline = found + limit.astype("timedelta64[D]")
    # the older a hazard, the likelier it is closed; a few old ones linger (overdue)
    p_open = np.clip(0.7 * np.exp(-age / 45) + 0.02, 0, 1)
    open_ = rng.random(n) < p_open
    status = np.where(open_, rng.choice(np.array(["reported", "rectifying", "verifying"]), size=n, p=[0.25, 0.55, 0.2]),
                      "closed")
    took = np.minimum(np.round(limit * rng.uniform(0.3, 1.3, n)).astype(int), np.maximum(age, 0))
    closed_at = np.where(open_, np.datetime64("NaT"), found + took.astype("timedelta64[D]"))
    verified_at = np.where((status == "verifying") | (status == "closed"),
                           np.where(open_, found + np.minimum(took, age).astype("timedelta64[D]"), closed_at),
                           np.datetime64("NaT"))
    supervised = major & (rng.random(n) < 0.45)
    sup_level = np.where(supervised, rng.choice([1, 2, 3], size=n, p=[0.2, 0.4, 0.4]), 0)
    sup_delay = np.minimum(rng.integers(1, 10, n), np.maximum(age, 0)).astype("timedelta64[D]")
    sup_at = np.where(supervised, found + sup_delay, np.datetime64("NaT"))
    cats = list(names.HAZARD_TITLES)
    cat = rng.choice(np.array(cats), size=n)
    title = np.array([names.HAZARD_TITLES[c][k % len(names.HAZARD_TITLES[c])]
                      for c, k in zip(cat.tolist(), rng.integers(0, 100, n).tolist(), strict=True)])
    year = found.astype("datetime64[Y]").astype(int) + 1970
    code = np.char.add(np.char.add("YH", year.astype(str)), np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    unit_code = np.where(anonymous, grid_codes[gidx[owner]], "")
    xy = np.full((n, 2), np.nan)
    if anonymous.any():
        xy[anonymous] = _place_points(rng, cells, gidx[owner[anonymous]])
    return {
        "code": code,
        "credit_code": np.where(anonymous, "", ent["credit_code"][owner]),
        "unit_code": unit_code,
        "title": title,
        "description": np.char.add(title, "，需按“五到位”要求整改"),
        "category": cat,
        "level": np.where(major, "major", "general"),
        "channel": channel,
        "status": status,
        "found_at": found,
        "deadline": deadline,
        "verified_at": verified_at,
        "closed_at": closed_at,
        "reporter": names.person_names(rng, n),
        "supervision_level": sup_level,
        "supervision_at": sup_at,
        "resp_person": names.person_names(rng, n),
        "resp_person_phone": names.phones(rng, n),
        "measures": np.char.add("落实整改：", title),
        "funds_yuan": np.round(rng.lognormal(8, 1.2, n), -1),
        "contingency_plan": np.where(major, "制定专项应急预案，设置警戒区", "设置警示标志"),
        "lon": xy[:, 0],
        "lat": xy[:, 1],
    }


def inspections(rng: np.random.Generator, units: list[DemoUnit], ent: Table, grid_codes: np.ndarray,
                gidx: np.ndarray, scale: Scale, as_of: date) -> Table:
    """四查 inspections: city quarterly, county monthly, township weekly, village daily — with gaps.

    Each unit level inspects on its cadence (a few units stop before ``as_of`` so they show as
    overdue); enterprise inspections (双随机, 四不两直, 专项, 复查) scale with the enterprises.
    """
    ent_path = [grid_codes[g] for g in gidx.tolist()]
    # the enterprises of every unit (index ranges: enterprises are sorted by grid code)
    first_of: dict[str, int] = {}
    count_of: dict[str, int] = {}
    for i, g in enumerate(ent_path):
        for code in (g, g[:12], g[:9], g[:6], "411000"):
            first_of.setdefault(code, i)
            count_of[code] = count_of.get(code, 0) + 1
    rows: dict[str, list[object]] = {k: [] for k in ("unit_code", "ent", "inspector_level", "kind", "inspected_at")}

    def emit(code: str, level: int, days_back: np.ndarray, kind: str = "routine") -> None:
        k = len(days_back)
        if not k:
            return
        if code in count_of:  # inspect one of the unit's enterprises, else the unit itself
            picks = first_of[code] + rng.integers(0, count_of[code], k)
            rows["unit_code"].extend(grid_codes[gidx[picks]].tolist())
            rows["ent"].extend(picks.tolist())
        else:
            rows["unit_code"].extend([code] * k)
            rows["ent"].extend([-1] * k)
        rows["inspector_level"].extend([level] * k)
        rows["kind"].extend([kind] * k)
        rows["inspected_at"].extend((np.datetime64(as_of, "D") - days_back.astype("timedelta64[D]")).tolist())

    span = 365 * scale.years
    for u in units:
        if u.level == 1:
            days = np.arange(5, span, 91) + rng.integers(0, 20, len(range(5, span, 91)))
            emit(u.code, 1, days)
        elif u.level == 2:
            stop = int(rng.integers(35, 70)) if rng.random() < 0.25 else 0
            days = np.arange(stop + int(rng.integers(0, 25)), span, 30)
            emit(u.code, 2, days[rng.random(len(days)) > 0.05])
        elif u.level == 3:
            stop = int(rng.integers(8, 30)) if rng.random() < 0.12 else 0
            days = np.arange(stop + int(rng.integers(0, 6)), scale.township_days, 7)
            emit(u.code, 3, days[rng.random(len(days)) > 0.08])
        elif u.level == 4:
            stop = int(rng.integers(2, 12)) if rng.random() < 0.06 else 0
            days = np.arange(stop, scale.village_days)
            emit(u.code, 4, days[rng.random(len(days)) > 0.15])
    n_ent = round(len(ent["credit_code"]) * scale.enterprise_inspections_per_enterprise)
    picks = rng.integers(0, len(ent["credit_code"]), n_ent)
    kinds = rng.choice(np.array(["double_random", "unannounced", "special", "review"]), size=n_ent,
                       p=[0.4, 0.25, 0.2, 0.15])
    levels = rng.choice([1, 2], size=n_ent, p=[0.2, 0.8])
    days = rng.integers(0, span, n_ent)
    rows["unit_code"].extend(grid_codes[gidx[picks]].tolist())
    rows["ent"].extend(picks.tolist())
    rows["inspector_level"].extend(levels.tolist())
    rows["kind"].extend(kinds.tolist())
    rows["inspected_at"].extend((np.datetime64(as_of, "D") - days.astype("timedelta64[D]")).tolist())

    at = np.array(rows["inspected_at"], dtype="datetime64[D]")
    order = np.argsort(at, kind="stable")
    n = len(order)
    ent_i = np.array(rows["ent"])[order]
    result = rng.choice(np.array(["passed", "hazards_found", "ordered_rectify", "penalized", "closed_down"]), size=n,
                        p=[0.72, 0.16, 0.09, 0.025, 0.005])
    found = np.where(result == "passed", 0, rng.integers(1, 6, n))
    insp = np.char.add(np.char.add(names.person_names(rng, n), "、"), names.person_names(rng, n))
    return {
        "code": np.char.add("JC", np.char.zfill(np.arange(1, n + 1).astype(str), 8)),
        "unit_code": np.array(rows["unit_code"])[order],
        "credit_code": np.where(ent_i >= 0, ent["credit_code"][np.maximum(ent_i, 0)], ""),
        "inspector_level": np.array(rows["inspector_level"])[order],
        "kind": np.array(rows["kind"])[order],
        "inspected_at": at[order],
        "inspectors": insp,
        "result": result,
        "hazards_found": found,
        "note": np.full(n, "", dtype="<U1"),
    }



# --- accidents and the five-year targets' denominators (issue 18) ----------------------------------------------

# Accidents per year in the whole city, falling like the plans ask (the build's own year scaled to its date).
ACCIDENTS_PER_YEAR = {2020: 9, 2021: 8, 2022: 8, 2023: 7, 2024: 6, 2025: 6, 2026: 5}
# GB 6441 types an accident of an industry plausibly has (domain.labels.ACCIDENT_TYPE codes).
ACCIDENT_TYPES = {
    "机械": ("machinery", "struck_by", "lifting"), "建筑施工": ("fall", "collapse", "struck_by", "lifting"),
    "危险化学品": ("poisoning", "fire", "other_explosion", "burn"), "冶金": ("burn", "lifting", "other_explosion"),
    "有色": ("burn", "machinery"), "建材": ("machinery", "collapse", "struck_by"), "轻工": ("machinery", "fire"),
    "纺织": ("machinery", "fire"), "商贸": ("fire", "electrocution", "fall"), "交通运输": ("vehicle",),
    "城镇燃气": ("other_explosion", "poisoning"), "非煤矿山": ("roof_fall", "blasting", "collapse"),
    "烟花爆竹": ("explosive",), "民用爆炸物品": ("explosive",), "烟草": ("machinery",), "其他": ("other", "drowning"),
}
# 2020 denominators of the demo's level-2 units (demo values, docs/demo_data.md): GDP 亿元, 工矿商贸 employees,
# motor vehicles; the city's own figures are their sum (about 许昌's published order of magnitude).
DENOMINATORS_2020 = {
    "411002": (480.0, 95_000, 210_000), "411003": (450.0, 110_000, 180_000), "411024": (330.0, 70_000, 150_000),
    "411025": (350.0, 85_000, 160_000), "411071": (230.0, 60_000, 50_000), "411081": (820.0, 190_000, 300_000),
    "411082": (790.0, 175_000, 270_000),
}
GDP_GROWTH = {2021: 1.075, 2022: 1.04, 2023: 1.05, 2024: 1.055, 2025: 1.055}  # nominal, demo values


def accidents(rng: np.random.Generator, ent: Table, as_of: date) -> Table:
    """Generate a few dozen accidents from 2020 to ``as_of`` (own random stream: the other ledgers do not change).

    Most at an enterprise (riskier industries more often), a quarter road traffic accidents at an enterprise's
    gate (a point, no credit code); deaths mostly 0-1, a rare 较大 (3 deaths); the grade follows the toll
    (``domain.accidents.grade_of``); older accidents are 已结案, this year's 已报告 or 调查中.
    """
    weights = np.array([INDUSTRY_RISK.get(i, 0.0) + 0.3 for i in ent["industry"].tolist()])
    weights /= weights.sum()
    rows: dict[str, list[object]] = {k: [] for k in (
        "code", "title", "occurred_on", "credit_code", "industry", "accident_type", "road_traffic", "deaths",
        "injuries", "direct_loss_wan", "grade", "investigation", "report", "lon", "lat")}
    for year in range(2020, as_of.year + 1):
        n = ACCIDENTS_PER_YEAR.get(year, 5)
        span = (min(as_of, date(year, 12, 31)) - date(year, 1, 1)).days + 1
        n = round(n * span / 365) if year == as_of.year else n
        days = np.sort(rng.integers(0, span, n))
        for seq, day in enumerate(days.tolist(), start=1):
            on = date.fromordinal(date(year, 1, 1).toordinal() + day)
            i = int(rng.choice(len(weights), p=weights))
            road = bool(rng.random() < 0.25) and not np.isnan(ent["lon"][i])  # a road accident needs the point
            industry = "交通运输" if road else str(ent["industry"][i])
            kind = "vehicle" if road else str(rng.choice(ACCIDENT_TYPES.get(industry, ("other",))))
            deaths = int(rng.choice([0, 1, 2, 3], p=[0.25, 0.55, 0.14, 0.06]))
            injuries = int(rng.integers(0, 3))
            loss = round(float(rng.uniform(15, 400)), 1)
            age = as_of.year - year
            inv = "closed" if age >= 2 or (age == 1 and rng.random() < 0.7) else str(
                rng.choice(["reported", "investigating"]))
            place = "道路交通" if road else str(ent["name"][i])
            rows["code"].append(f"SG{year}{seq:04d}")
            rows["title"].append(f"{place}“{on.month}·{on.day}”{ACCIDENT_TYPE[kind]}事故")
            rows["occurred_on"].append(np.datetime64(on, "D"))
            rows["credit_code"].append("" if road else str(ent["credit_code"][i]))
            rows["industry"].append(industry)
            rows["accident_type"].append(kind)
            rows["road_traffic"].append(road)
            rows["deaths"].append(deaths)
            rows["injuries"].append(injuries)
            rows["direct_loss_wan"].append(loss)
            rows["grade"].append(ACCIDENT_GRADE[grade_of(deaths, injuries, loss)])
            rows["investigation"].append(inv)
            rows["report"].append(f"{ACCIDENT_TYPE[kind]}事故，造成 {deaths} 人死亡、{injuries} 人重伤，"
                                  f"直接经济损失约 {loss} 万元（示意数据）。")
            rows["lon"].append(float(ent["lon"][i]))
            rows["lat"].append(float(ent["lat"][i]))
    table: Table = {k: np.array(v) for k, v in rows.items()}
    table["occurred_on"] = np.array(rows["occurred_on"], dtype="datetime64[D]")
    table["lon"] = np.array(rows["lon"], dtype=float)
    table["lat"] = np.array(rows["lat"], dtype=float)
    table["direct_loss_wan"] = np.array(rows["direct_loss_wan"], dtype=float)
    return table


def denominators(units: list[DemoUnit], as_of: date) -> Table:
    """Yearly GDP, 工矿商贸 employees and motor vehicles of every level-2 unit from 2020 to the last full year.

    Demo values (docs/demo_data.md): 2020 from ``DENOMINATORS_2020``, then GDP by ``GDP_GROWTH``, employees
    +1 % and vehicles +6 % a year; the build's own year has none yet (published after the year ends).
    """
    rows: dict[str, list[object]] = {k: [] for k in ("unit_code", "unit_name", "year", "gdp_yi",
                                                      "industrial_employees", "motor_vehicles")}
    for u in sorted((u for u in units if u.level == 2), key=lambda u: u.code):
        gdp, emp, veh = DENOMINATORS_2020.get(u.code, (200.0, 50_000, 80_000))
        for year in range(2020, as_of.year):
            if year > 2020:
                gdp *= GDP_GROWTH.get(year, 1.05)
                emp = round(emp * 1.01)
                veh = round(veh * 1.06)
            rows["unit_code"].append(u.code)
            rows["unit_name"].append(u.name)
            rows["year"].append(year)
            rows["gdp_yi"].append(round(gdp, 2))
            rows["industrial_employees"].append(emp)
            rows["motor_vehicles"].append(veh)
    table: Table = {k: np.array(v) for k, v in rows.items()}
    table["gdp_yi"] = np.array(rows["gdp_yi"], dtype=float)
    return table
