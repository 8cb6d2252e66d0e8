"""Demo work recorded in the app (issue 16): patrols, inspections with findings and penalties, 双随机 draws.

The ledgers of :mod:`etl.demo.build` are what a bureau hands over; what its people then record in SafeGrid is
written here, by the demo accounts (``safegrid users demo``), through the same storage functions the pages call
(:func:`geo.patrols.record`, :func:`geo.inspections_app.record_inspection`, :func:`geo.draws.make_draw`) — scope
checks, validation and audit included, nothing inserted around them. So a newcomer signing in sees every issue-16
feature at once: the grid manager's patrols of the last weeks (a few 发现隐患) and today's cells still to patrol,
inspections by both inspectors in the grid manager's township (checklists with findings, 责令整改, 行政处罚 with an
amount, 停产整顿, scene photos and a signed document), one 双随机 draw worked to completion and one in progress.

Deterministic for a seed and a day: choices come from ``numpy.random.default_rng([seed, 16])`` over rows read in
a fixed order; every record has a fixed request key (patrols: per day and cell), so running it again adds only
the days not yet recorded. Draw seeds derive from the seed, so the draws are the same for the same pool.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import Connection

from domain.draws import DrawError, DrawOptions
from domain.inspection_rules import checklists_for
from geo.draws import DrawInputError, DrawNotFoundError, PoolFilter, draw_detail, make_draw
from geo.inspections_app import NewInspection, inspected_enterprise, inspection_settings, record_inspection
from geo.patrols import NewPatrol, cell_enterprises, cell_point, patrol_cells, record
from geo.users import get_user_by_name

PATROL_DAYS = 21  # patrols of the last three weeks
PATROL_SHARE = 0.8  # of the cells patrolled on a past day
PATROL_SHARE_TODAY = 0.35  # so 待办 still lists cells to patrol today
PATROL_FINDING_SHARE = 0.06
PATROL_NOTES = ("沿街商铺消防通道堆放杂物", "出租屋电动车楼道充电", "小作坊使用瓶装液化气未设报警器",
                "工地临时用电私拉乱接", "仓库安全出口上锁")
KEY = "safegrid-demo"


@dataclass(frozen=True)
class DemoPhoto:
    """A generated picture as :func:`geo.attachments.store` takes it (PNG written by Pillow, no metadata)."""

    data: bytes
    mime: str
    width: int
    height: int


@dataclass
class ActivitySummary:
    """What the run recorded (new rows only) and what it skipped."""

    patrols: int = 0
    inspections: int = 0
    attachments: int = 0
    draws: int = 0
    notes: list[str] = field(default_factory=list)

    def message(self) -> str:
        """One Chinese line for the command line."""
        head = (f"演示工作记录：新增巡查 {self.patrols} 条、检查 {self.inspections} 条（附件 {self.attachments} 个）、"
                f"双随机抽查 {self.draws} 次。")
        return " ".join([head, *self.notes])


def picture(kind: str, label: int) -> DemoPhoto:
    """Return a deterministic PNG: a 现场照片 (a shelf in a corridor) or a 签字文书 (a signed page)."""
    if kind == "document":
        image = Image.new("RGB", (600, 840), (250, 250, 246))
        pen = ImageDraw.Draw(image)
        pen.rectangle((40, 40, 560, 800), outline=(60, 60, 60), width=3)
        for y in range(120, 640, 36):
            pen.line((80, y, 520 - (y * 7 + label * 13) % 120, y), fill=(90, 90, 90), width=3)
        pen.ellipse((380, 660, 520, 780), outline=(200, 30, 30), width=6)  # the seal
        pen.line((90, 730, 300, 700), fill=(20, 20, 120), width=4)  # the signature
    else:
        image = Image.new("RGB", (800, 600), (205, 200, 190))
        pen = ImageDraw.Draw(image)
        pen.polygon(((0, 600), (260, 300), (540, 300), (800, 600)), fill=(150, 145, 135))  # corridor floor
        pen.rectangle((300, 120, 500, 300), fill=(230, 230, 225))  # exit door
        pen.rectangle((330, 140, 470, 180), fill=(20, 150, 60))  # exit sign
        for i in range(3 + label % 3):  # boxes blocking it
            pen.rectangle((250 + 70 * i, 380 - 30 * (i % 2), 340 + 70 * i, 520), fill=(170, 120, 60),
                          outline=(90, 60, 30), width=3)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return DemoPhoto(out.getvalue(), "image/png", image.width, image.height)


def _patrols(conn: Connection, rng: np.random.Generator, *, username: str, scope: str, today: date,
             summary: ActivitySummary) -> None:
    cells = patrol_cells(conn, scope=scope, today=today)
    if not cells:
        summary.notes.append("网格管理员的范围内没有网格，未生成巡查记录。")
        return
    firms = {c.code: [e.credit_code for e in cell_enterprises(conn, scope=scope, cell_code=c.code)] for c in cells}
    points = {c.code: cell_point(conn, scope=scope, cell_code=c.code) for c in cells}
    for back in range(PATROL_DAYS, -1, -1):
        day = today - timedelta(days=back)
        share = PATROL_SHARE_TODAY if back == 0 else PATROL_SHARE
        draws = rng.random((len(cells), 4))  # patrolled?, finding?, an enterprise?, which
        for cell, (go, found, with_firm, which) in zip(cells, draws, strict=True):
            if go >= share:
                continue
            firm = firms[cell.code][int(which * len(firms[cell.code]))] if firms[cell.code] and with_firm < 0.3 \
                else None
            point = points[cell.code]
            hazard = found < PATROL_FINDING_SHARE
            new = NewPatrol(cell_code=cell.code, result="hazard_found" if hazard else "clear",
                            request_key=f"{KEY}-patrol-{day:%Y%m%d}-{cell.code}", enterprise_code=firm,
                            note=PATROL_NOTES[int(which * len(PATROL_NOTES))] if hazard else "",
                            lon=point[0] if point else None, lat=point[1] if point else None,
                            accuracy_m=15.0 if point else None)
            summary.patrols += record(conn, scope=scope, username=username, new=new, today=day)[1]


# Inspections in the township: (days back, inspector index, kind, result, findings, document, penalty, photos).
_INSPECTIONS = (
    (3, 0, "routine", "passed", 0, "", "", ("scene",)),
    (9, 1, "unannounced", "ordered_rectify", 2, "（许魏）应急责改〔2026〕31号", "", ("scene", "document")),
    (16, 0, "special", "penalized", 1, "（许魏）应急罚〔2026〕12号", "20000", ("document",)),
    (24, 1, "routine", "passed", 0, "", "", ()),
    (33, 0, "review", "passed", 0, "", "", ()),
    (41, 1, "special", "closed_down", 3, "（许魏）应急停〔2026〕2号", "", ("scene",)),
    (52, 0, "unannounced", "ordered_rectify", 1, "（许魏）应急责改〔2026〕17号", "", ()),
    (67, 1, "routine", "penalized", 2, "（许魏）应急罚〔2026〕5号", "8000", ()),
)


def _inspect(conn: Connection, rng: np.random.Generator, *, inspector: str, scope: str, credit_code: str,
             today: date, spec: tuple[int, int, str, str, int, str, str, tuple[str, ...]], key: str,
             draw_id: int | None = None) -> tuple[bool, int]:
    back, _, kind, result, findings, document, penalty, photos = spec
    lists, _ = inspection_settings(conn)
    enterprise = inspected_enterprise(conn, scope=scope, credit_code=credit_code)
    if enterprise is None:
        return False, 0
    checklist = checklists_for(enterprise.industry, lists)[0]
    answers = {i.id: "ok" for i in checklist.items}
    for at in sorted(rng.choice(len(checklist.items), size=min(findings, len(checklist.items)), replace=False)):
        answers[checklist.items[int(at)].id] = "fail"
    new = NewInspection(credit_code=credit_code, kind=kind, result=result, request_key=key,
                        inspected_at=today - timedelta(days=back), checklist_id=checklist.id, answers=answers,
                        document_no=document, penalty_yuan=penalty, draw_id=draw_id,
                        note="演示：现场检查记录" + ("，发现问题已责令限期整改" if findings else "，未发现问题"))
    files = [(k, picture(k, back + i)) for i, k in enumerate(photos)]
    _, created = record_inspection(conn, scope=scope, username=inspector, new=new, today=today,
                                   checklists=lists, attachments=files)
    return created, len(files) if created else 0


def _township_firms(conn: Connection, *, scope: str, township_scope: str) -> list[str]:
    cells = patrol_cells(conn, scope=township_scope, today=date.min)
    return [e.credit_code for c in cells for e in cell_enterprises(conn, scope=scope, cell_code=c.code)]


def record_activity(conn: Connection, *, seed: int, today: date, gridmgr: str = "gridmgr",
                    inspectors: tuple[str, str] = ("inspector", "inspector2"),
                    leader: str = "leader") -> ActivitySummary:
    """Record the demo's app work as the demo accounts (see the module docstring); return what was new."""
    rng = np.random.default_rng([seed, 16])
    summary = ActivitySummary()
    gm, lead = get_user_by_name(conn, username=gridmgr), get_user_by_name(conn, username=leader)
    staff = [get_user_by_name(conn, username=u) for u in inspectors]
    if gm is None or lead is None or any(s is None for s in staff):
        summary.notes.append("缺少演示账户（safegrid users demo），未生成工作记录。")
        return summary
    _patrols(conn, rng, username=gm.username, scope=gm.scope_path, today=today, summary=summary)
    inspector_scope = staff[0].scope_path  # type: ignore[union-attr]
    firms = _township_firms(conn, scope=inspector_scope, township_scope=gm.scope_path)
    if not firms:
        summary.notes.append("网格管理员的乡镇内没有执法人员可检查的企业，未生成检查和抽查。")
        return summary
    picked = rng.choice(len(firms), size=min(len(firms), len(_INSPECTIONS)), replace=False)
    for n, (at, spec) in enumerate(zip(picked, _INSPECTIONS, strict=False)):
        created, files = _inspect(conn, rng, inspector=inspectors[spec[1]], scope=inspector_scope,
                                  credit_code=firms[int(at)], today=today, spec=spec, key=f"{KEY}-inspection-{n:02d}")
        summary.inspections += created
        summary.attachments += files
    _draws(conn, rng, seed=seed, leader=lead.username, scope=lead.scope_path, area=gm.scope_code,
           inspector_scope=inspector_scope, today=today, summary=summary)
    return summary


# Two draws in the grid manager's township: 3 enterprises all inspected (完成), 4 with one inspected (进行中).
_DRAWS = (("第一批双随机抽查（演示）", 3, 3, 20), ("第二批双随机抽查（演示）", 4, 1, 4))


def _draws(conn: Connection, rng: np.random.Generator, *, seed: int, leader: str, scope: str, area: str,
           inspector_scope: str, today: date, summary: ActivitySummary) -> None:
    results = ("passed", "ordered_rectify", "passed", "penalized")
    for d, (title, n, worked, back) in enumerate(_DRAWS):
        try:
            draw_id, created = make_draw(conn, scope=scope, username=leader, title=title,
                                         filters=PoolFilter(area_code=area),
                                         options=DrawOptions(n=n, weighting="risk", min_high_share=0.25),
                                         request_key=f"{KEY}-draw-{d}", seed=seed * 100 + d)
        except (DrawError, DrawInputError, DrawNotFoundError) as exc:  # e.g. too few enterprises or inspectors
            summary.notes.append(f"{title}未生成：{exc}")
            continue
        summary.draws += created
        detail = draw_detail(conn, scope=scope, draw_id=draw_id)
        if detail is None:
            continue
        for item in detail[1][:worked]:
            result = results[item.seq % len(results)]
            spec = (back - item.seq, 0, "double_random", result, 1 if result != "passed" else 0,
                    f"（许魏）应急双随机〔2026〕{d}{item.seq}号" if result != "passed" else "",
                    "5000" if result == "penalized" else "", ())
            created_i, _ = _inspect(conn, rng, inspector=item.inspector1, scope=inspector_scope,
                                    credit_code=item.credit_code, today=today, spec=spec,
                                    key=f"{KEY}-draw-{d}-item-{item.seq}", draw_id=draw_id)
            summary.inspections += created_i
