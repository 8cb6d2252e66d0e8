"""Attachments of enterprise inspections (issue 16 part 3, migration 0008): 现场照片 and 签字文书.

Storage on PostGIS (stored with the inspection, cleaned, audited, listed in scope, served in scope only, an
enterprise account sees its own enterprise's only), the form's submit forged per role with photos (nothing
written), bad uploads refused in Chinese (a non-image: the pipeline's message; a body over 2 MiB: 413), and the
form in Chromium: a picked photo is shrunk, stored with the inspection and shown in the file's 检查记录.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Connection, Engine, text

from dashboard.components.photos import clean_photo
from domain import clock
from geo.attachments import inspection_attachments, read_attachment, store
from geo.enterprise_file import enterprise_file
from geo.inspections_app import InspectionInputError, NewInspection, record_inspection
from geo.users import create_user, hash_password
from tests.browser import http_login, login, make_user, screenshot_dir
from tests.test_attachments import gps_jpeg, has_metadata
from tests.test_inspection_app import CELL, JIANAN, WEIDU, committed, submit_request

__all__ = ["committed"]
CREDIT = "91411002IA0000031X"


def _jpeg_url(size: tuple[int, int] = (400, 300)) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(gps_jpeg(size)).decode()


def _picked(*urls: str) -> str:
    return json.dumps({"files": list(urls), "names": [f"p{i}.jpg" for i in range(len(urls))]})


@pytest.fixture
def ent(conn: Connection, unit_tree: dict[str, str]) -> Connection:
    """One enterprise in 金地社区第1网格 and an inspector of 魏都区 (rolled back)."""
    conn.execute(text("INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id) "
                      "SELECT :c, '附件测试化工', '危险化学品', 'red', id FROM units WHERE code = :cell"),
                 {"c": CREDIT, "cell": CELL})
    create_user(conn, username="att_insp", password_hash=hash_password("Test-pass-2026"), role="inspector",
                scope_code="411002", display_name="周检")
    return conn


def _new(**kw: Any) -> NewInspection:
    values: dict[str, Any] = {"credit_code": CREDIT, "kind": "routine", "result": "ordered_rectify",
                              "document_no": "许应急责改〔2026〕9号", "request_key": uuid.uuid4().hex,
                              "inspected_at": clock.today()} | kw
    return NewInspection(**values)


def test_stored_with_the_inspection_listed_and_read_in_scope_only(ent: Connection) -> None:
    scene, document = clean_photo(gps_jpeg()), clean_photo(gps_jpeg((600, 800)))
    k = uuid.uuid4().hex
    stored, created = record_inspection(ent, scope=WEIDU, username="att_insp", today=clock.today(),
                                        new=_new(request_key=k), attachments=[("scene", scene), ("document", document)])
    assert created
    again, created_again = record_inspection(ent, scope=WEIDU, username="att_insp", today=clock.today(),
                                             new=_new(request_key=k), attachments=[("scene", scene)])
    assert not created_again and again.id == stored.id  # a repeated click stores no second copy
    rows = ent.execute(text("SELECT id, kind, created_by, data FROM attachments WHERE inspection_id = :i ORDER BY id"),
                       {"i": stored.id}).all()
    assert [(r.kind, r.created_by) for r in rows] == [("scene", "att_insp"), ("document", "att_insp")]
    assert not any(has_metadata(bytes(r.data)) for r in rows)
    detail = ent.execute(text("SELECT detail FROM audit_log WHERE action = 'inspection_recorded' "
                              "AND username = 'att_insp'")).scalar_one()
    assert detail["attachments"] == {"scene": 1, "document": 1} and detail["attachment_ids"] == [r.id for r in rows]

    listed = inspection_attachments(ent, scope=WEIDU, inspection_ids=[stored.id])
    assert [a.kind_label for a in listed[stored.id]] == ["现场照片", "签字文书"]
    assert inspection_attachments(ent, scope=JIANAN, inspection_ids=[stored.id]) == {}
    for scope, seen in ((WEIDU, True), ("411000.411002.411002001.", True), (JIANAN, False)):
        got = read_attachment(ent, scope=scope, attachment_id=rows[0].id, reports=False)
        assert (got is not None) == seen, scope
    own = ent.execute(text("SELECT id FROM enterprises WHERE credit_code = :c"), {"c": CREDIT}).scalar_one()
    assert read_attachment(ent, scope=WEIDU, attachment_id=rows[0].id, reports=False, enterprise_id=own) is not None
    assert read_attachment(ent, scope=WEIDU, attachment_id=rows[0].id, reports=False, enterprise_id=-1) is None
    f = enterprise_file(ent, scope=WEIDU, credit_code=CREDIT)
    assert f is not None and f["inspections"][0]["attachments"] == [[rows[0].id, "scene"], [rows[1].id, "document"]]


def test_an_inspection_takes_only_its_own_kinds(ent: Connection) -> None:
    photo = clean_photo(gps_jpeg())
    with pytest.raises(InspectionInputError):
        record_inspection(ent, scope=WEIDU, username="att_insp", today=clock.today(), new=_new(),
                          attachments=[("after", photo)])
    assert ent.execute(text("SELECT count(*) FROM inspections WHERE created_by = 'att_insp'")).scalar_one() == 0
    stored, _ = record_inspection(ent, scope=WEIDU, username="att_insp", today=clock.today(), new=_new())
    with pytest.raises(ValueError, match="inspection"):
        store(ent, photo, kind="finding", by="att_insp", inspection_id=stored.id)


# --- the submit callback with photos: forged per role, bad uploads, served in scope --------------------------

def _attachments_of(engine: Engine, key: str) -> list[int]:
    with engine.connect() as c:
        return list(c.execute(text("SELECT a.id FROM attachments a JOIN inspections x ON x.id = a.inspection_id "
                                   "WHERE x.request_key = :k ORDER BY a.id"), {"k": key}).scalars())


def _inspections_of(engine: Engine, key: str) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM inspections WHERE request_key = :k"), {"k": key}).scalar_one())


def test_forged_submits_with_photos_write_nothing(live_server: str, engine: Engine, committed: str) -> None:
    scene = _picked(_jpeg_url())
    for role, scope in (("planner", "411000"), ("leader", "411000"), ("grid_manager", "411002001"),
                        ("inspector", "411003")):  # the last: an inspector of 建安区
        session = http_login(live_server, *make_user(engine, role=role, scope=scope))
        k = uuid.uuid4().hex
        r = submit_request(session, live_server, credit=committed, key=k, scene=scene, document=scene)
        body = json.dumps(r.json(), ensure_ascii=False) if r.status_code == 200 else r.text
        assert r.status_code == 403 or any(m in body for m in ("无权使用此功能", "不在您的负责范围内")), (role, body)
        assert _inspections_of(engine, k) == 0 and _attachments_of(engine, k) == [], role


def test_bad_uploads_refused_in_chinese_and_good_ones_served_in_scope(
        live_server: str, engine: Engine, committed: str) -> None:
    base = live_server
    session = http_login(base, *make_user(engine, role="inspector", scope="411002"))
    k = uuid.uuid4().hex
    pdf = _picked("data:image/jpeg;base64,JVBERi0xLjQKJcfsj6IK")
    r = submit_request(session, base, credit=committed, key=k, document=pdf)
    assert r.status_code == 200 and "不是图片" in json.dumps(r.json(), ensure_ascii=False)
    four = _picked(*[_jpeg_url((64, 48))] * 4)
    r = submit_request(session, base, credit=committed, key=k, scene=four)
    assert r.status_code == 200 and "最多上传 3 张照片" in json.dumps(r.json(), ensure_ascii=False)
    big = _picked("data:image/jpeg;base64," + "A" * (3 * 1024 * 1024))
    r = submit_request(session, base, credit=committed, key=k, scene=big)
    assert r.status_code == 413 and "请求内容过大" in r.text
    assert _inspections_of(engine, k) == 0

    ok = submit_request(session, base, credit=committed, key=k, scene=_picked(_jpeg_url()),
                        document=_picked(_jpeg_url((300, 400))), result="ordered_rectify")
    assert "执法文书编号" in json.dumps(ok.json(), ensure_ascii=False) and _inspections_of(engine, k) == 0
    ok = submit_request(session, base, credit=committed, key=k, scene=_picked(_jpeg_url()),
                        document=_picked(_jpeg_url((300, 400))))
    assert "附件：现场照片 1 张、签字文书 1 张" in json.dumps(ok.json(), ensure_ascii=False)
    ids = _attachments_of(engine, k)
    assert len(ids) == 2
    inside = http_login(base, *make_user(engine, role="grid_manager", scope="411002001"))
    outside = http_login(base, *make_user(engine, role="inspector", scope="411003"))
    served = inside.get(f"{base}/api/attachments/{ids[0]}", timeout=10)
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert not has_metadata(served.content)
    missing = outside.get(f"{base}/api/attachments/{ids[0]}", timeout=10)
    assert missing.status_code == 404 and "不在您的管辖范围内" in missing.text
    with engine.begin() as c:
        c.execute(text("DELETE FROM inspections WHERE request_key = :k"), {"k": k})


def test_form_photo_shrunk_stored_and_shown_in_the_file(live_server: str, browser_page: Any, engine: Engine,
                                                        committed: str) -> None:
    page = browser_page
    user, password = make_user(engine, role="inspector", scope="411002")
    login(page, live_server, user, password, expect_path=f"/inspection/new?enterprise={committed}")
    picker = page.locator("#photo-picker-insp-scene")
    assert picker.locator(".hz-upload-camera input[type=file]").get_attribute("capture") == "environment"
    picker.locator(".hz-upload-album input[type=file]").set_input_files(
        [{"name": "IMG_scene.jpg", "mimeType": "image/jpeg", "buffer": gps_jpeg((3000, 2000))}])
    page.wait_for_function("() => (document.querySelector('[id*=\"hz-photo-note\"][id*=\"insp-scene\"]') || {})"
                           ".textContent?.includes('已选择 1 张照片')", timeout=10000)
    page.locator("#photo-picker-insp-document .hz-upload-album input[type=file]").set_input_files(
        [{"name": "signed.png", "mimeType": "image/png", "buffer": _png()}])
    page.wait_for_function("() => (document.querySelector('[id*=\"hz-photo-note\"][id*=\"insp-document\"]') || {})"
                           ".textContent?.includes('已选择 1 张照片')", timeout=10000)
    page.click("#insp-submit")
    page.wait_for_selector("#insp-attached:has-text('现场照片 1 张、签字文书 1 张')")
    with engine.connect() as c:
        rows = c.execute(text("SELECT a.id, a.kind, a.width, a.height FROM attachments a JOIN inspections x "
                              "ON x.id = a.inspection_id WHERE x.created_by = :u ORDER BY a.id"), {"u": user}).all()
    assert [r.kind for r in rows] == ["scene", "document"]
    assert max(rows[0].width, rows[0].height) <= 1600  # shrunk in the browser
    page.goto(f"{live_server}/enterprise?code={committed}")
    page.wait_for_selector(f"#ent-inspections img[src='/api/attachments/{rows[0].id}']")
    assert page.locator(f"#ent-inspections a[href='/api/attachments/{rows[1].id}']").inner_text() == "签字文书1"
    page.screenshot(path=str(screenshot_dir() / "inspection_attachments.png"), full_page=True)
    assert page.console_errors == []
    with engine.begin() as c:
        c.execute(text("DELETE FROM inspections WHERE created_by = :u"), {"u": user})


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (500, 700), (250, 250, 250)).save(out, "PNG")
    return out.getvalue()
