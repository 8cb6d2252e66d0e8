"""The printable briefing (通报, issue 18 part 4): the PDF's pages and text, forged requests, bad parameters, audit.

The PDF is opened with pypdfium2: its text is extracted (area, period, KPI numbers against the database's own
counts, hazard codes, the accident, the ranking, the targets) and its first page rendered to PNG
(``briefing_page1.png`` in :func:`tests.browser.screenshot_dir`). Runs on the session test database and live
server; the module adds polygons to the test tree's counties and township, hazards and an accident, and removes
them afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pypdfium2 as pdfium
import pytest
import requests
from sqlalchemy import Engine, text

from domain import clock
from domain.scorecards import last_complete_quarter
from geo.bigscreen_queries import grid_overview, screen_kpis
from layers.briefing import cjk_font_path, fit
from tests.browser import http_login, make_user, route_payload, screenshot_dir
from tests.test_scorecards import ENT_CODE, company  # noqa: F401  (the enterprise account fixture)

# unit code → (west, south) of a square polygon
SHAPES = {"411002": (113.80, 34.00), "411003": (113.86, 34.00), "411003100": (113.86, 34.00)}
PREFIX = "BRIEF-"


def _square(w: float, s: float, d: float = 0.05) -> str:
    return f"MULTIPOLYGON((({w} {s}, {w + d} {s}, {w + d} {s + d * 0.8}, {w} {s + d * 0.8}, {w} {s})))"


@pytest.fixture(scope="module")
def world(engine: Engine, unit_tree: dict[str, str]) -> Iterator[dict[str, str]]:
    """Polygons, an overdue and a 督办 hazard and an accident of the last complete quarter (removed afterwards)."""
    today = clock.today()
    quarter = last_complete_quarter(today)
    with engine.begin() as c:
        for code, (w, s) in SHAPES.items():
            c.execute(text("UPDATE units SET geom = ST_GeomFromText(:g, 4326) WHERE code = :c"),
                      {"g": _square(w, s), "c": code})
        c.execute(text("UPDATE unit_stats SET risk_class = 'red' WHERE unit_id = (SELECT id FROM units "
                       "WHERE code = '411003')"))
        for code, unit, deadline, sup in ((f"{PREFIX}OVERDUE", "41100200100101", today - timedelta(days=9), None),
                                          (f"{PREFIX}SUPERVISED", "41100310020001", today + timedelta(days=20), 2)):
            c.execute(text(
                "INSERT INTO hazards (code, unit_id, title, level, status, found_at, deadline, supervision_level) "
                "SELECT :code, id, :title, 'major', 'rectifying', :found, :deadline, :sup FROM units WHERE code = :u"),
                {"code": code, "title": f"通报测试隐患{code[-4:]}", "found": today - timedelta(days=60),
                 "deadline": deadline, "sup": sup, "u": unit})
        c.execute(text("INSERT INTO accidents (code, title, occurred_on, unit_id, deaths, grade) SELECT :code, "
                       "'通报测试事故', :d, id, 1, 'general' FROM units WHERE code = '41100200100101'"),
                  {"code": f"{PREFIX}ACC", "d": quarter.start + timedelta(days=40)})
    yield {"quarter": quarter.key, "label": quarter.label}
    with engine.begin() as c:
        c.execute(text("DELETE FROM hazards WHERE code LIKE :p"), {"p": f"{PREFIX}%"})
        c.execute(text("DELETE FROM accidents WHERE code LIKE :p"), {"p": f"{PREFIX}%"})
        c.execute(text("UPDATE units SET geom = NULL WHERE code = ANY(:c)"), {"c": list(SHAPES)})
        c.execute(text("UPDATE unit_stats SET risk_class = 'orange' WHERE unit_id = (SELECT id FROM units "
                       "WHERE code = '411003')"))


def _pages(content: bytes) -> list[str]:
    doc = pdfium.PdfDocument(content)
    return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]


def _value_of(page: str, label: str) -> str:
    """The KPI box's value: drawn just before its label, so the line before it in the extracted text."""
    lines = [x.strip() for x in page.splitlines()]
    return lines[lines.index(label) - 1]


def test_the_font_is_found_and_cells_are_shortened() -> None:
    assert cjk_font_path() is not None and "NotoSansCJK" in str(cjk_font_path())
    assert fit("许昌市魏都区西大街道", 6) == "许昌市魏都…" and fit("ABC", 6) == "ABC" and fit(None, 3) == ""


def test_pdf_pages_text_kpis_and_audit(live_server: str, engine: Engine, world: dict[str, str]) -> None:
    user, password = make_user(engine, role="leader", scope="411000")
    s = http_login(live_server, user, password)
    r = s.get(f"{live_server}/export/briefing.pdf", timeout=60)  # default: the last complete quarter, the scope
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"] == "application/pdf" and world["quarter"][:4] in r.headers["Content-Disposition"]
    pages = _pages(r.content)
    (screenshot_dir().parent / "briefing.pdf").write_bytes(r.content)  # git-ignored, for a look
    assert len(pages) >= 2
    first = pages[0]
    assert "安全生产工作通报" in first and "许昌市" in first and world["label"] in first and "风险四色图" in first
    with engine.connect() as c:
        kpis = screen_kpis(c, scope="411000.", as_of=clock.today())
        behind = sum(n for lv, n in grid_overview(c, scope="411000.")["inspection_overdue"].items() if lv > 1)
        detail = c.execute(text("SELECT detail FROM audit_log WHERE action = 'export_briefing' AND username = :u"),
                           {"u": user}).scalar_one()
    for label, key in (("企业总数", "enterprises"), ("未销号隐患", "hazards_open"),
                       ("逾期未整改隐患", "hazards_overdue"), ("未销号重大隐患", "hazards_major_open"),
                       ("挂牌督办（未销号）", "hazards_supervised")):
        assert _value_of(first, label) == str(kpis[key]), label
    assert kpis["hazards_overdue"] >= 1 and kpis["hazards_supervised"] >= 1
    assert _value_of(first, "四查滞后单位") == str(behind)
    assert _value_of(first, "本期事故起数") == "1" and _value_of(first, "本期死亡人数") == "1"
    rest = "\n".join(pages[1:])
    for needle in ("考核排名", "西大街道", "将官池镇", f"{PREFIX}OVERDUE", f"{PREFIX}SUPERVISED", "县级挂牌督办",
                   "通报测试事故", "生产安全事故起数", "道路交通万车死亡率", "缺少分母"):
        assert needle in rest, needle
    assert f"第 1 页 共 {len(pages)} 页" in first
    q = world["quarter"]
    assert detail["unit"] == "411000" and detail["scope"] == "411000" and detail["start"].startswith(q[:4])
    # page 1 as an image: looked at by the author; docs/screenshots/briefing_page1.png
    doc = pdfium.PdfDocument(r.content)
    image = doc[0].render(scale=2).to_pil()
    assert image.size[0] > 1000
    image.save(screenshot_dir() / "briefing_page1.png")
    colours = image.convert("RGB").getcolors(1 << 20) or []
    assert any(rgb == (0xE0, 0x32, 0x2B) for _, rgb in colours) or any(  # the red county is drawn
        abs(rgb[0] - 0xE6) < 12 and abs(rgb[1] - 0x5A) < 30 and rgb[2] < 90 for _, rgb in colours)


def test_a_period_and_a_county(live_server: str, engine: Engine, world: dict[str, str]) -> None:
    s = http_login(live_server, *make_user(engine, role="leader", scope="411003"))
    r = s.get(f"{live_server}/export/briefing.pdf?start=2026-08-01&end=2026-08-31", timeout=60)
    assert r.status_code == 200, r.text[:300]
    pages = _pages(r.content)
    assert "建安区" in pages[0] and "2026-08-01 至 2026-08-31" in pages[0]
    joined = "\n".join(pages)
    assert "西大街道" not in joined and f"{PREFIX}OVERDUE" not in joined and f"{PREFIX}SUPERVISED" in joined


@pytest.mark.parametrize(("query", "message"), [
    ("quarter=2026Q9", "季度格式应为"),
    ("unit=x'--", "单位代码格式不正确"),
    ("start=2026-13-01&end=2026-12-31", "起始日期格式应为"),
    ("start=2026-09-01&end=2026-08-01", "起始日期不能晚于结束日期"),
    ("start=2026-01-01", "结束日期格式应为"),
    ("quarter=2026Q3&start=2026-07-01&end=2026-09-30", "不要同时指定"),
    ("start=2024-01-01&end=2026-01-01", "不能超过"),
])
def test_bad_parameters_are_refused_in_chinese(live_server: str, engine: Engine, query: str, message: str) -> None:
    s = http_login(live_server, *make_user(engine, role="planner", scope="411000"))
    r = s.get(f"{live_server}/export/briefing.pdf?{query}", timeout=30)
    assert r.status_code == 400 and message in r.text, (query, r.status_code, r.text[:300])


def test_forged_requests_per_role(live_server: str, engine: Engine, world: dict[str, str],
                                  company: tuple[str, str]) -> None:  # noqa: F811
    for role, scope in (("inspector", "411000"), ("grid_manager", "411002")):
        s = http_login(live_server, *make_user(engine, role=role, scope=scope))
        assert s.get(f"{live_server}/export/briefing.pdf", timeout=10).status_code == 403, role
    s = http_login(live_server, *company)
    assert s.get(f"{live_server}/export/briefing.pdf", timeout=10).status_code == 403
    assert requests.get(f"{live_server}/export/briefing.pdf", timeout=10, allow_redirects=False).status_code in (
        302, 401)
    user, password = make_user(engine, role="leader", scope="411003")
    s = http_login(live_server, user, password)
    assert s.get(f"{live_server}/export/briefing.pdf?unit=411002", timeout=10).status_code == 403
    with engine.connect() as c:
        refused = c.execute(text("SELECT detail FROM audit_log WHERE action = 'forbidden' AND username = :u"),
                            {"u": user}).scalar_one()
        exported = c.execute(text("SELECT count(*) FROM audit_log WHERE action = 'export_briefing' "
                                  "AND username = :u"), {"u": user}).scalar_one()
    assert refused["target"] == "411002" and refused["path"] == "/export/briefing.pdf" and exported == 0
    for role in ("planner", "admin"):
        s = http_login(live_server, *make_user(engine, role=role, scope="411000"))
        assert s.get(f"{live_server}/export/briefing.pdf?unit=411002", timeout=60).status_code == 200, role


def _page(s: requests.Session, base: str, path: str, search: str) -> str:
    r = s.post(f"{base}/_dash-update-component", json=route_payload(path, search), timeout=30)
    assert r.status_code == 200, r.text[:300]
    return json.dumps(r.json(), ensure_ascii=False)


def test_links_from_scorecards_and_targets(live_server: str, engine: Engine, world: dict[str, str]) -> None:
    s = http_login(live_server, *make_user(engine, role="leader", scope="411000"))
    page = _page(s, live_server, "/scorecards", f"?unit=411002&quarter={world['quarter']}")
    href = f"/export/briefing.pdf?unit=411002&quarter={world['quarter']}"
    assert href in page and "下载通报（PDF）" in page
    assert "魏都区" in _pages(s.get(f"{live_server}{href}", timeout=60).content)[0]
    page = _page(s, live_server, "/targets", "?unit=411003&year=2025")
    href = "/export/briefing.pdf?unit=411003&start=2025-01-01&end=2025-12-31"
    assert href in page and "下载该年通报（PDF）" in page
    first = _pages(s.get(f"{live_server}{href}", timeout=60).content)
    assert "建安区" in first[0] and "2025-01-01 至 2025-12-31" in first[0] and "目标进度（2025年）" in first[-1]
