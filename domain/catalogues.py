"""Catalogues an administrator may extend: industries (with the spellings ledgers use) and key-industry groups.

Stored values are the industries' names; ``app_config`` key ``industries`` adds industries, spellings and groups
over the defaults (``{"industries": [{"name": "文旅", "aliases": ["文化旅游"]}], "groups": {"…": ["…"]}}``), edited
on /admin/rules. Pure: the defaults, reading the setting, the catalogue's text form, normalising a ledger value.

Sources of the defaults (cited in docs/domain.md): the 许昌 plan (``000_7885b8a7c8c626eb.txt``) names 煤矿、非煤矿山、
危险化学品、烟花爆竹、民用爆炸物品 as one group, 工贸行业 and 交通运输 "两客一危"; the 招贤镇 plan
(``001_a889cb10ecd46732.txt``) the 重点行业领域 of 治本攻坚 (危险化学品、冶金、铝加工(深井铸造)、建筑施工、交通运输)
and 粉尘涉爆; 工贸's eight industries and its three special areas (粉尘涉爆、涉氨制冷、有限空间) follow
《工贸企业重大事故隐患判定标准》 (应急管理部令第10号).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_INDUSTRIES = 200
MAX_NAME = 30  # enterprises.industry is varchar(30)


class CatalogueError(ValueError):
    """A catalogue an administrator entered that cannot be used (message in Chinese)."""


@dataclass(frozen=True)
class Industry:
    """An industry as stored, and the other spellings ledgers use for it."""

    name: str
    aliases: tuple[str, ...] = ()


DEFAULT_INDUSTRIES: tuple[Industry, ...] = (
    Industry("煤矿", ("煤炭", "煤矿企业", "煤炭开采")),
    Industry("非煤矿山", ("非煤", "金属非金属矿山", "矿山", "尾矿库")),
    Industry("危险化学品", ("危化", "危化品", "危险化学品生产", "危险化学品经营", "化工", "危险化学品企业")),
    Industry("烟花爆竹", ("烟花", "烟花爆竹经营", "烟花爆竹生产")),
    Industry("民用爆炸物品", ("民爆", "民用爆破器材", "民爆物品")),
    Industry("冶金", ("钢铁", "冶金工贸")),
    Industry("有色", ("有色金属", "有色金属冶炼")),
    Industry("铝加工(深井铸造)", ("深井铸造", "铝加工", "铝加工（深井铸造）", "铝合金深井铸造")),
    Industry("建材", ("建筑材料", "水泥", "陶瓷")),
    Industry("机械", ("机械制造", "装备制造")),
    Industry("轻工", ("轻工业", "食品加工", "造纸")),
    Industry("纺织", ("纺织业", "服装")),
    Industry("烟草", ("烟草制品",)),
    Industry("商贸", ("商业", "商贸流通", "批发零售", "仓储物流")),
    Industry("粉尘涉爆", ("涉爆粉尘", "粉尘防爆", "粉尘")),
    Industry("涉氨制冷", ("液氨制冷", "氨制冷", "冷库")),
    Industry("有限空间", ("有限空间作业",)),
    Industry("城镇燃气", ("燃气", "天然气", "液化石油气", "城镇燃气经营")),
    Industry("建筑施工", ("建筑", "建筑业", "在建工程", "房屋建筑")),
    Industry("交通运输", ("两客一危", "交通运输/两客一危", "道路运输", "客运", "危险货物运输", "交通")),
    Industry("其他", ("其它", "其他行业")),
)
DEFAULT_GROUPS: dict[str, tuple[str, ...]] = {
    "高危行业": ("煤矿", "非煤矿山", "危险化学品", "烟花爆竹", "民用爆炸物品"),
    "工贸行业": ("冶金", "有色", "建材", "机械", "轻工", "纺织", "烟草", "商贸"),
    "工贸重点领域": ("粉尘涉爆", "涉氨制冷", "有限空间", "铝加工(深井铸造)"),
    "治本攻坚重点行业": ("危险化学品", "冶金", "铝加工(深井铸造)", "建筑施工", "交通运输"),
    "城市运行": ("城镇燃气", "建筑施工", "交通运输"),
}


def _key(text: str) -> str:
    """Compare spellings as people type them: full-width folded, spaces and brackets' width ignored, lower case."""
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", folded).lower()


@dataclass(frozen=True)
class Catalogue:
    """The industries in force and their groups."""

    industries: tuple[Industry, ...] = DEFAULT_INDUSTRIES
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_GROUPS))

    @property
    def names(self) -> tuple[str, ...]:
        """The industries' stored names, in catalogue order."""
        return tuple(i.name for i in self.industries)

    def spellings(self) -> dict[str, str]:
        """Every accepted spelling (compared by :func:`_key`) → the stored name."""
        out: dict[str, str] = {}
        for industry in self.industries:
            for spelling in (industry.name, *industry.aliases):
                out.setdefault(_key(spelling), industry.name)
        return out

    def normalise(self, value: str) -> tuple[str, bool]:
        """Return ``(stored value, known)``: a known spelling becomes its industry's name; others stay as given."""
        text = value.strip()
        hit = self.spellings().get(_key(text))
        return (hit, True) if hit else (text, False)

    def members(self, group_or_industry: str) -> tuple[str, ...]:
        """Return the industries a group names, or the one industry."""
        return tuple(self.groups.get(group_or_industry, (group_or_industry,)))

    def config(self) -> dict[str, Any]:
        """Return the ``app_config`` value that restores this catalogue."""
        return {"industries": [{"name": i.name, "aliases": list(i.aliases)} for i in self.industries],
                "groups": {g: list(m) for g, m in self.groups.items()}}


def catalogue_from_config(value: Mapping[str, Any] | None) -> Catalogue:
    """Return the catalogue of an ``app_config`` value: its industries and groups over the defaults."""
    value = dict(value or {})
    by_name = {i.name: i for i in DEFAULT_INDUSTRIES}
    for entry in value.get("industries") or []:
        if not isinstance(entry, Mapping):
            raise CatalogueError("行业目录的每一项应为“名称 + 别名”")
        name = _check_name(entry.get("name"), "行业名称")
        aliases = tuple(_check_name(a, f"“{name}”的别名") for a in entry.get("aliases") or [])
        old = by_name.get(name)
        by_name[name] = Industry(name, tuple(dict.fromkeys((*(old.aliases if old else ()), *aliases))))
    if len(by_name) > MAX_INDUSTRIES:
        raise CatalogueError(f"行业目录最多 {MAX_INDUSTRIES} 项")
    groups = dict(DEFAULT_GROUPS)
    for group, members in dict(value.get("groups") or {}).items():
        group = _check_name(group, "行业组名称")
        if not isinstance(members, list | tuple) or not members:
            raise CatalogueError(f"行业组“{group}”应至少包含一个行业")
        unknown = [m for m in members if m not in by_name]
        if unknown:
            raise CatalogueError(f"行业组“{group}”中的行业不在目录中：{'、'.join(map(str, unknown))}")
        groups[group] = tuple(members)
    catalogue = Catalogue(tuple(by_name.values()), groups)
    _check_spellings(catalogue)
    return catalogue


def _check_name(value: Any, what: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise CatalogueError(f"{what}不能为空")
    if len(text) > MAX_NAME or any(c in text for c in ",，:：;；\n"):
        raise CatalogueError(f"{what}“{text[:40]}”无效（最多 {MAX_NAME} 个字，不含逗号、冒号、分号）")
    return text


def _check_spellings(catalogue: Catalogue) -> None:
    """Refuse a spelling that would name two industries."""
    seen: dict[str, str] = {}
    for industry in catalogue.industries:
        for spelling in dict.fromkeys(_key(s) for s in (industry.name, *industry.aliases)):
            if seen.get(spelling, industry.name) != industry.name:
                raise CatalogueError(f"“{spelling}”同时是“{seen[spelling]}”和“{industry.name}”的写法")
            seen[spelling] = industry.name


# --- the text form an administrator edits ----------------------------------------------------------------

def catalogue_text(catalogue: Catalogue) -> tuple[str, str]:
    """Render the catalogue as two texts: "行业: 别名、别名" lines and "行业组: 行业、行业" lines."""
    industries = "\n".join(f"{i.name}: {'、'.join(i.aliases)}" if i.aliases else i.name for i in catalogue.industries)
    groups = "\n".join(f"{g}: {'、'.join(m)}" for g, m in catalogue.groups.items())
    return industries, groups


def _lines(text: str) -> list[tuple[str, list[str]]]:
    """Read "名称: 甲、乙" lines (full-width colon and commas accepted; blank lines skipped)."""
    out = []
    for raw in (text or "").splitlines():
        head, _, tail = raw.strip().replace("：", ":").partition(":")
        if head.strip():
            out.append((head.strip(), [p.strip() for p in re.split(r"[、,，;；]", tail) if p.strip()]))
    return out


def catalogue_from_text(industries: str, groups: str) -> Catalogue:
    """Parse the two texts of :func:`catalogue_text` (the defaults are kept: lines add to them)."""
    config = {"industries": [{"name": n, "aliases": a} for n, a in _lines(industries)],
              "groups": {g: m for g, m in _lines(groups)}}
    return catalogue_from_config(config)


# --- supervising departments (管行业必须管安全, issue 18 part 5) ------------------------------------------------

MAX_DEPARTMENTS = 60
DEPARTMENT_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,19}$")  # stored in enterprises/users.dept_code (varchar 20)
FALLBACK_DEPARTMENT = "yingji"  # 应急管理局: the comprehensive supervisor of what no industry department claims


@dataclass(frozen=True)
class Department:
    """A supervising department (行业主管部门): its code, name, the industries it supervises, other spellings."""

    code: str
    name: str
    industries: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


# A Chinese city's usual 行业主管部门; industries are the industry catalogue's names (an industry's default department
# is the first that lists it). Ledgers write the department with the city or county in front
# (“许昌市应急管理局”, “魏都区住建局”): :meth:`DepartmentCatalogue.match` finds the name or alias inside the text.
DEFAULT_DEPARTMENTS: tuple[Department, ...] = (
    Department("yingji", "应急管理局", ("煤矿", "非煤矿山", "危险化学品", "烟花爆竹", "冶金", "有色",
                                    "铝加工(深井铸造)", "建材", "机械", "轻工", "纺织", "粉尘涉爆", "涉氨制冷",
                                    "有限空间", "其他"),
               ("应急局", "应急管理委员会", "安监局", "安全生产监督管理局", "安全生产监督管理委员会", "应急管理")),
    Department("zhujian", "住房和城乡建设局", ("建筑施工", "城镇燃气"),
               ("住建局", "住建委", "住房城乡建设局", "住房和城乡建设委员会", "城乡建设局", "建设局", "住建")),
    Department("jiaotong", "交通运输局", ("交通运输",), ("交通局", "交通运输委员会", "交运局", "交通运输")),
    Department("shichang", "市场监督管理局", (),
               ("市场监管局", "市监局", "质监局", "质量技术监督局", "工商局", "市场监管")),
    Department("xiaofang", "消防救援支队", (), ("消防救援大队", "消防支队", "消防大队", "消防救援")),
    Department("gongxin", "工业和信息化局", ("民用爆炸物品",),
               ("工信局", "工业和信息化委员会", "工信委", "经信委", "经济和信息化委员会", "经济和信息化局",
                "工业信息化局")),
    Department("jiaoyu", "教育局", (), ("教体局", "教育和体育局", "教育体育局", "教育委员会")),
    Department("wenlv", "文化广电和旅游局", (), ("文旅局", "文广旅局", "文化和旅游局", "文广新局", "文化旅游局")),
    Department("shangwu", "商务局", ("商贸",), ("商务委员会", "商务委")),
    Department("nongye", "农业农村局", (), ("农业局", "农委", "农业农村委员会", "农牧局")),
    Department("shuili", "水利局", (), ("水务局", "水利委员会")),
    Department("chengguan", "城市管理局", (), ("城管局", "城市管理综合执法局", "城市管理委员会", "城管委", "城市管理")),
    Department("yancao", "烟草专卖局", ("烟草",), ("烟草局", "烟草公司", "烟草专卖")),
)


@dataclass(frozen=True)
class DepartmentCatalogue:
    """The supervising departments in force."""

    departments: tuple[Department, ...] = DEFAULT_DEPARTMENTS

    @property
    def codes(self) -> tuple[str, ...]:
        """The departments' codes, in catalogue order."""
        return tuple(d.code for d in self.departments)

    def get(self, code: str | None) -> Department | None:
        """Return the department with ``code`` (None when unknown)."""
        return next((d for d in self.departments if d.code == code), None)

    def label(self, code: str | None) -> str:
        """Return a department's name, or the code itself when it has left the catalogue ("" for None)."""
        department = self.get(code)
        return department.name if department else (code or "")

    def spellings(self) -> dict[str, str]:
        """Every spelling (code, name, alias; compared by ``_key``) → the department's code."""
        out: dict[str, str] = {}
        for d in self.departments:
            for spelling in (d.code, d.name, *d.aliases):
                out.setdefault(_key(spelling), d.code)
        return out

    def match(self, text: str | None) -> str | None:
        """Return the code of the department a free text names (exact spelling, else the longest one inside it)."""
        key = _key(text or "")
        if not key:
            return None
        spellings = self.spellings()
        if key in spellings:
            return spellings[key]
        inside = [s for s in spellings if len(s) >= 2 and s in key]
        return spellings[max(inside, key=len)] if inside else None

    def for_industry(self, industry: str | None) -> str | None:
        """Return the code of an industry's default department (the first that lists it), or the fallback."""
        hit = next((d.code for d in self.departments if industry and industry in d.industries), None)
        return hit or (FALLBACK_DEPARTMENT if self.get(FALLBACK_DEPARTMENT) else None)

    def assign(self, text: str | None, industry: str | None) -> tuple[str | None, bool]:
        """Return ``(code, named)``: the department the text names, else the industry's default (named False)."""
        code = self.match(text)
        return (code, True) if code else (self.for_industry(industry), False)

    def config(self) -> dict[str, Any]:
        """Return the ``app_config`` value that restores this catalogue."""
        return {"departments": [{"code": d.code, "name": d.name, "industries": list(d.industries),
                                 "aliases": list(d.aliases)} for d in self.departments]}


def departments_from_config(value: Mapping[str, Any] | None,
                            industries: Catalogue | None = None) -> DepartmentCatalogue:
    """Return the department catalogue of an ``app_config`` value: its entries over the defaults (by code).

    An entry replaces the default of the same code (name, industries, aliases); ``industries`` checks that each
    industry a department names is in the industry catalogue.
    """
    by_code = {d.code: d for d in DEFAULT_DEPARTMENTS}
    known = set((industries or Catalogue()).names)
    for entry in dict(value or {}).get("departments") or []:
        if not isinstance(entry, Mapping):
            raise CatalogueError("部门目录的每一项应为“代码、名称、行业、别名”")
        code = str(entry.get("code") or "").strip()
        if not DEPARTMENT_CODE_RE.match(code):
            raise CatalogueError(f"部门代码“{code[:30]}”无效：应为 2-20 位小写字母、数字或下划线，以字母开头")
        name = _check_name(entry.get("name"), f"部门“{code}”的名称")
        inds = tuple(dict.fromkeys(_check_name(i, f"部门“{name}”的行业") for i in entry.get("industries") or []))
        unknown = [i for i in inds if i not in known]
        if unknown:
            raise CatalogueError(f"部门“{name}”的行业不在行业目录中：{'、'.join(unknown)}")
        aliases = tuple(dict.fromkeys(_check_name(a, f"“{name}”的别名") for a in entry.get("aliases") or []))
        by_code[code] = Department(code, name, inds, aliases)
    if len(by_code) > MAX_DEPARTMENTS:
        raise CatalogueError(f"部门目录最多 {MAX_DEPARTMENTS} 项")
    catalogue = DepartmentCatalogue(tuple(by_code.values()))
    seen: dict[str, str] = {}
    for d in catalogue.departments:
        for spelling in dict.fromkeys(_key(s) for s in (d.code, d.name, *d.aliases)):
            if seen.get(spelling, d.code) != d.code:
                raise CatalogueError(f"“{spelling}”同时是部门“{seen[spelling]}”和“{d.code}”的写法")
            seen[spelling] = d.code
    return catalogue


def departments_text(catalogue: DepartmentCatalogue) -> str:
    """Render the catalogue as "代码 | 名称 | 行业、行业 | 别名、别名" lines."""
    return "\n".join(f"{d.code} | {d.name} | {'、'.join(d.industries)} | {'、'.join(d.aliases)}"
                     for d in catalogue.departments)


def departments_from_text(text: str, industries: Catalogue | None = None) -> DepartmentCatalogue:
    """Parse the text of :func:`departments_text` (lines add to or replace the defaults by code)."""
    entries = []
    for number, raw in enumerate((text or "").splitlines(), 1):
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.replace("｜", "|").split("|")]
        if len(parts) < 2:
            raise CatalogueError(f"部门目录第 {number} 行应为“代码 | 名称 | 行业、行业 | 别名、别名”")
        parts += [""] * (4 - len(parts))
        split = [[p.strip() for p in re.split(r"[、,，;；]", part) if p.strip()] for part in parts[2:4]]
        entries.append({"code": parts[0], "name": parts[1], "industries": split[0], "aliases": split[1]})
    return departments_from_config({"departments": entries}, industries)
