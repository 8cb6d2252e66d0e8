"""随手拍 end to end on a real PostGIS and a real Chromium: the public page on a phone, the throttle, the queue.

The app runs under gunicorn on a grid database of this module's own (``tests.test_attachments.grid_database``:
three grid cells with geometry). In order: a report with a photo carrying EXIF GPS from a 360×740
phone (the stored photo has no EXIF), a non-image refused in Chinese, four more reports from the same
address and the 6th refused with 429, the body limit; photo URLs refused to anonymous users (401) and
outside the scope (404); the grid manager of the cell confirms one report into a hazard (in /hazards)
and dismisses another with a reason; a race of two managers has one winner; forged confirms by a
planner, an inspector, an enterprise account and a manager of another cell change nothing.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import requests
from PIL import Image
from sqlalchemy import Engine, create_engine, text

from domain import clock
from domain.hazard_flow import Actor
from domain.risk_rule import RiskRule
from geo import public_reports
from geo.users import create_user, hash_password
from tests.browser import http_login, login, make_user, screenshot_dir
from tests.demo_server import gunicorn_app
from tests.test_attachments import (
    CELL_A,
    CELL_C,
    ENTERPRISE_A,
    GRID,
    POINT_A,
    POINT_B,
    POINT_C,
    gps_jpeg,
    grid_database,
    has_metadata,
)

pytestmark = [pytest.mark.db, pytest.mark.browser]
SHOTS = screenshot_dir()
PASSWORD = "Test-pass-2026"
_HIDDEN = re.compile(r'name="(csrf_token|request_key)" value="([^"]+)"')
ACT_OUTPUT = '..{"index":["MATCH"],"type":"rep-result"}.children...{"index":["MATCH"],"type":"rep-actions"}.hidden..'


@dataclass
class Pub:
    """The served app, its database and the accounts; ``reports`` fills up as the tests run (name → code)."""

    base: str
    engine: Engine
    users: dict[str, str]
    reports: dict[str, str] = field(default_factory=dict)

    def one(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as c:
            return c.execute(text(sql), params).mappings().first()

    def report(self, name: str) -> Any:
        return self.one("SELECT * FROM public_reports WHERE code = :c", c=self.reports[name])

    def session(self, user: str) -> requests.Session:
        return http_login(self.base, self.users[user], PASSWORD)


@pytest.fixture(scope="module")
def pub() -> Iterator[Pub]:
    url = grid_database("_pub")
    engine = create_engine(url)
    users = {
        "gm_a": make_user(engine, role="grid_manager", scope=CELL_A, password=PASSWORD)[0],
        "gm_town": make_user(engine, role="grid_manager", scope="411002001", password=PASSWORD)[0],
        "gm_c": make_user(engine, role="grid_manager", scope=CELL_C, password=PASSWORD)[0],
        "planner": make_user(engine, role="planner", scope="411000", password=PASSWORD)[0],
        "inspector": make_user(engine, role="inspector", scope="411002", password=PASSWORD)[0],
        "enterprise": f"ent_{uuid.uuid4().hex[:8]}",
    }
    with engine.begin() as conn:
        create_user(conn, username=users["enterprise"], password_hash=hash_password(PASSWORD), role="enterprise",
                    enterprise_code=ENTERPRISE_A)
    with gunicorn_app(url) as base:
        yield Pub(base, engine, users)
    engine.dispose()


def _form(s: requests.Session, base: str) -> dict[str, str]:
    page = s.get(f"{base}/report", timeout=10)
    assert page.status_code == 200
    return dict(_HIDDEN.findall(page.text))


def post_report(s: requests.Session, base: str, point: tuple[float, float], description: str, *,
                files: list[tuple[str, bytes, str]] | None = None, hidden: dict[str, str] | None = None,
                ) -> requests.Response:
    """Fill and post the public form as a browser without JavaScript would."""
    data = {**(hidden or _form(s, base)), "lon": str(point[0]), "lat": str(point[1]), "description": description,
            "contact": ""}
    parts = [("photos", (name, body, mime)) for name, body, mime in files or []]
    return s.post(f"{base}/report", data=data, files=parts or None, timeout=30)


def _code(r: requests.Response) -> str:
    match = re.search(r'id="pr-code">([^<]+)<', r.text)
    assert r.status_code == 200 and match, (r.status_code, r.text[:600])
    return match.group(1)


# --- the public page ------------------------------------------------------------------------------------

def test_phone_submits_a_report_with_a_photo_and_the_stored_photo_has_no_exif(pub: Pub, chromium: Any) -> None:
    lon, lat = POINT_A
    context = chromium.new_context(
        locale="zh-CN", viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
        has_touch=True, geolocation={"latitude": lat, "longitude": lon, "accuracy": 12}, permissions=["geolocation"])
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{pub.base}/report")
        assert "/login" not in page.url
        page.click("#pr-locate")
        page.wait_for_selector("#pr-located.pr-ok-text")
        assert "已定位" in page.inner_text("#pr-located")
        page.fill("#pr-desc", "金地社区东侧仓库消防通道被货物堵塞，灭火器已过期。")
        page.fill("#pr-contact", "13800000000")
        page.set_input_files("#pr-photos", files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg",
                                                   "buffer": gps_jpeg()}])
        page.wait_for_selector("#pr-photo-note:has-text('已选择 1 张照片')")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling on a phone
        page.screenshot(path=str(SHOTS / "public_report.png"), full_page=True)
        page.click("#pr-submit")
        page.wait_for_selector("#pr-code")
        pub.reports["photo"] = page.inner_text("#pr-code")
        shown = page.inner_text("body")
        assert "感谢您的举报" in shown
        assert not any(name in shown for _, name, *_ in GRID)  # nothing of the system: no unit names

        # A file that is not an image is refused with a Chinese message, nothing stored.
        page.goto(f"{pub.base}/report")
        page.click("#pr-locate")
        page.wait_for_selector("#pr-located.pr-ok-text")
        page.fill("#pr-desc", "厂区配电箱门敞开")
        page.set_input_files("#pr-photos", files=[{"name": "现场.jpg", "mimeType": "image/jpeg",
                                                   "buffer": b"%PDF-1.7\n1 0 obj <<>> endobj\n"}])
        page.click("#pr-submit")
        page.wait_for_selector(".pr-alert")
        assert "不是图片：只能上传 JPEG、PNG 或 WebP 格式的照片" in page.inner_text(".pr-alert")
        assert page.input_value("#pr-desc") == "厂区配电箱门敞开"  # the form keeps what was entered
        # The refusal page itself answers 400, which Chromium logs; nothing else may fail.
        assert [e for e in errors if "status of 400" not in e] == []
    finally:
        context.close()

    row = pub.report("photo")
    assert row["status"] == "pending" and row["contact"] == "13800000000" and row["version"] == 1
    assert pub.one("SELECT code FROM units WHERE id = :u", u=row["unit_id"])["code"] == CELL_A
    assert re.fullmatch(r"[0-9a-f]{64}", row["ip_hash"]) and "127.0.0.1" not in row["ip_hash"]
    photo = pub.one("SELECT * FROM attachments WHERE report_id = :r", r=row["id"])
    data = bytes(photo["data"])
    assert photo["kind"] == "report" and photo["mime"] == "image/jpeg" and photo["hazard_id"] is None
    assert (photo["width"], photo["height"]) == (1200, 900) and photo["size_bytes"] == len(data)
    assert not has_metadata(data)  # the phone's GPS position and device are gone
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and not im.getexif()
    assert pub.one("SELECT count(*) AS n FROM public_reports")["n"] == 1  # the refused one left nothing


def test_sixth_report_from_one_address_in_a_day_gets_429(pub: Pub) -> None:
    s = requests.Session()
    hidden = _form(s, pub.base)
    pub.reports["dismiss"] = _code(post_report(s, pub.base, POINT_A, "路边加油站有人吸烟", hidden=hidden))
    again = post_report(s, pub.base, POINT_A, "路边加油站有人吸烟", hidden=hidden)  # a double tap
    assert _code(again) == pub.reports["dismiss"]
    pub.reports["race"] = _code(post_report(s, pub.base, POINT_A, "建筑工地脚手架无防护网"))
    pub.reports["cell_b"] = _code(post_report(s, pub.base, POINT_B, "餐馆液化气瓶放在后厨通道"))
    outside = post_report(s, pub.base, (100.0, 30.0), "远处")  # outside every grid cell: refused, not counted
    assert outside.status_code == 400 and "不在本平台受理范围内" in outside.text
    pub.reports["cell_c"] = _code(post_report(s, pub.base, POINT_C, "仓库电线私拉乱接"))
    sixth = post_report(s, pub.base, POINT_A, "第六条")
    assert sixth.status_code == 429 and "已达 5 条上限" in sixth.text and "12350" in sixth.text
    assert pub.one("SELECT count(*) AS n FROM public_reports")["n"] == 5

    # Without the form's token, over the body limit: refused in Chinese.
    forged = post_report(requests.Session(), pub.base, POINT_A, "伪造", hidden={"csrf_token": "x" * 43,
                                                                               "request_key": uuid.uuid4().hex})
    assert forged.status_code == 400 and "页面已过期或来源无效" in forged.text
    big = post_report(s, pub.base, POINT_A, "大文件", files=[("a.jpg", b"\xff\xd8\xff" + b"0" * (27 << 20),
                                                               "image/jpeg")])
    assert big.status_code == 413 and "请求内容过大（上限 26 MB）" in big.text
    assert pub.one("SELECT count(*) AS n FROM public_reports")["n"] == 5


def test_photo_urls_need_the_owner_in_scope(pub: Pub) -> None:
    att = pub.one("SELECT a.id FROM attachments a JOIN public_reports r ON r.id = a.report_id WHERE r.code = :c",
                  c=pub.reports["photo"])["id"]
    url = f"{pub.base}/api/attachments/{att}"
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 401 and not anonymous.content.startswith(b"\xff\xd8")
    for user in ("gm_c", "planner", "enterprise"):  # another cell; no public queue; an enterprise account
        r = pub.session(user).get(url, timeout=10)
        assert r.status_code == 404 and not r.content.startswith(b"\xff\xd8"), user
    assert pub.session("gm_c").get(f"{pub.base}/api/attachments/{att + 999}", timeout=10).status_code == 404
    own = pub.session("gm_a").get(url, timeout=10)
    assert own.status_code == 200 and own.content.startswith(b"\xff\xd8\xff")
    assert own.headers["Content-Type"] == "image/jpeg" and own.headers["X-Content-Type-Options"] == "nosniff"
    assert own.headers["Content-Disposition"].startswith("inline") and "private" in own.headers["Cache-Control"]


# --- the grid manager's queue ----------------------------------------------------------------------------

def test_grid_manager_confirms_one_report_into_a_hazard_and_dismisses_another(pub: Pub, browser_page: Any) -> None:
    page = browser_page
    login(page, pub.base, pub.users["gm_a"], PASSWORD, expect_path="/reports")
    photo, dismissed = pub.report("photo"), pub.report("dismiss")
    card = page.locator(f"#rep-card-{photo['id']}")
    card.wait_for()
    assert page.locator(f"#rep-card-{pub.report('race')['id']}").count() == 1
    for other in ("cell_b", "cell_c"):  # other cells' reports are not in this manager's queue
        assert page.locator(f"#rep-card-{pub.report(other)['id']}").count() == 0
    assert "待核实 3 条" in page.inner_text("#rep-count")
    page.wait_for_function(f"() => {{ const i = document.querySelector('#rep-card-{photo['id']} img'); "
                           "return i && i.complete && i.naturalWidth > 0; }")
    card.locator("summary", has_text="受理并登记隐患").click()
    title = card.locator(".rep-input input")  # Dash 4 puts className on the input's container
    title.fill("仓库消防通道堵塞、灭火器过期")
    page.screenshot(path=str(SHOTS / "report_queue.png"), full_page=True)
    card.locator("button.rep-confirm").click()
    card.locator(".rep-ok").wait_for()
    assert "已受理，已登记隐患 YH" in card.locator(".rep-result").inner_text()

    other = page.locator(f"#rep-card-{dismissed['id']}")
    other.locator("summary", has_text="不予受理").click()
    other.locator("button.rep-dismiss").click()
    other.locator(".rep-refused").wait_for()
    assert "请填写不予受理的理由" in other.locator(".rep-result").inner_text()
    other.locator("textarea").last.fill("经现场核实，系临时停放，已当场整改")
    other.locator("button.rep-dismiss").click()
    other.locator(".rep-ok").wait_for()
    assert "已标记为不予受理" in other.locator(".rep-result").inner_text()
    assert page.console_errors == []

    done = pub.report("photo")
    hazard = pub.one("SELECT * FROM hazards WHERE id = :h", h=done["hazard_id"])
    assert done["status"] == "confirmed" and done["version"] == 2 and done["handled_by"] == pub.users["gm_a"]
    assert hazard["channel"] == "public_report" and hazard["reporter"] == pub.users["gm_a"]
    assert hazard["title"] == "仓库消防通道堵塞、灭火器过期" and hazard["status"] == "reported"
    assert hazard["deadline"] == clock.today() + timedelta(days=30)
    event = pub.one("SELECT id FROM hazard_events WHERE hazard_id = :h AND action = 'report'", h=hazard["id"])
    moved = pub.one("SELECT hazard_id, event_id, kind FROM attachments WHERE report_id = :r", r=done["id"])
    assert dict(moved) == {"hazard_id": hazard["id"], "event_id": event["id"], "kind": "finding"}
    gone = pub.report("dismiss")
    assert gone["status"] == "dismissed" and gone["handled_note"] == "经现场核实，系临时停放，已当场整改"
    audited = pub.one("SELECT count(*) AS n FROM audit_log WHERE action IN ('public_report_confirm', "
                      "'public_report_dismiss') AND username = :u", u=pub.users["gm_a"])
    assert audited["n"] == 2

    # The photo now belongs to the hazard: the county's inspector sees it too.
    att = pub.one("SELECT id FROM attachments WHERE report_id = :r", r=done["id"])["id"]
    assert pub.session("inspector").get(f"{pub.base}/api/attachments/{att}", timeout=10).status_code == 200

    page.goto(f"{pub.base}/hazards")
    page.locator(".ag-row", has_text=hazard["code"]).first.wait_for()
    assert "群众举报" in page.locator(".ag-row", has_text=hazard["code"]).first.inner_text()


def test_two_managers_at_once_one_wins(pub: Pub) -> None:
    row = pub.report("race")
    barrier = threading.Barrier(2)
    outcome: dict[str, Any] = {}

    def run(name: str, action: str) -> None:
        actor = Actor(pub.users[name], "grid_manager", 5 if name == "gm_a" else 3)
        scope = pub.one("SELECT path FROM units WHERE code = :c", c=CELL_A if name == "gm_a" else "411002001")["path"]
        barrier.wait()
        try:
            with pub.engine.begin() as c:
                if action == "confirm":
                    public_reports.confirm(c, scope=scope, actor=actor, report_id=row["id"], version=1,
                                           hazard=public_reports.HazardFromReport("脚手架无防护网", "general", None),
                                           as_of=clock.today(), rule=RiskRule())
                else:
                    public_reports.dismiss(c, scope=scope, actor=actor, report_id=row["id"], version=1,
                                           reason="重复举报")
            outcome[name] = "won"
        except public_reports.ReportConflictError as exc:
            outcome[name] = exc.message

    threads = [threading.Thread(target=run, args=("gm_a", "confirm")),
               threading.Thread(target=run, args=("gm_town", "dismiss"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(outcome) == 2 and sum(v == "won" for v in outcome.values()) == 1, outcome
    lost = next(v for v in outcome.values() if v != "won")
    assert lost.startswith("已被他人处理（当前状态：") and pub.report("race")["version"] == 2

    # The page holding the old version says so, and changes nothing.
    r = _act(pub.session("gm_a"), pub.base, pub.report("race")["id"], version=1, reason="重复")
    assert r.status_code == 200 and "已被他人处理" in _text(r) and pub.report("race")["version"] == 2


def _act(s: requests.Session, base: str, report_id: int, *, version: int, confirm: bool = False,
         reason: str = "") -> requests.Response:
    """The confirm / dismiss callback as Dash's renderer posts it."""
    def dep(kind: str, prop: str, value: Any = None) -> dict[str, Any]:
        return {"id": {"index": report_id, "type": f"rep-{kind}"}, "property": prop, "value": value}

    trigger = "rep-confirm" if confirm else "rep-dismiss"
    body = {
        "output": ACT_OUTPUT,
        "outputs": [{"id": {"index": report_id, "type": "rep-result"}, "property": "children"},
                    {"id": {"index": report_id, "type": "rep-actions"}, "property": "hidden"}],
        "inputs": [dep("confirm", "n_clicks", 1 if confirm else 0), dep("dismiss", "n_clicks", 0 if confirm else 1)],
        "state": [dep("version", "data", version), dep("title", "value", "伪造的隐患"), dep("level", "value", "major"),
                  dep("deadline", "date", None), dep("note", "value", ""), dep("reason", "value", reason)],
        "changedPropIds": [json.dumps({"index": report_id, "type": trigger}, separators=(",", ":"))
                           + ".n_clicks"],
    }
    return s.post(f"{base}/_dash-update-component", json=body, timeout=20)


def _text(r: requests.Response) -> str:
    try:
        return json.dumps(r.json(), ensure_ascii=False)
    except ValueError:
        return r.text


@pytest.mark.parametrize("user", ["planner", "inspector", "enterprise", "gm_c"])
def test_forged_confirm_is_refused(pub: Pub, user: str) -> None:
    target = pub.report("cell_b")
    hazards = pub.one("SELECT count(*) AS n FROM hazards")["n"]
    r = _act(pub.session(user), pub.base, target["id"], version=target["version"], confirm=True)
    expected = "未找到该举报" if user == "gm_c" else "当前账户无权使用此功能"
    assert r.status_code == 200 and expected in _text(r), _text(r)[:300]
    assert "已受理" not in _text(r)
    after = pub.report("cell_b")
    assert after["status"] == "pending" and after["version"] == target["version"]
    assert pub.one("SELECT count(*) AS n FROM hazards")["n"] == hazards
