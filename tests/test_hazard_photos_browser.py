"""Photos on the hazard page, in real Chromium on the session database (the 测试丁市 tree of test_hazard_page).

A grid manager picks a 3000×2000 JPEG carrying EXIF GPS on 提交验收: the browser shrinks it (≤ 1600 px), the
event and the photo commit together (kind 整改后, the event's id), the stored bytes carry no EXIF, the page shows
it in the facts and next to its event, and ``/api/attachments/<id>`` serves it to an inspector of the scope and
answers 404 to one outside. On the server: a body over 2 MiB is refused with a Chinese 413, a non-image in the
photo picker with the pipeline's Chinese message, nothing written.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Engine, text

from tests.browser import http_login, make_user
from tests.test_attachments import gps_jpeg, has_metadata
from tests.test_hazard_page import (
    FOREIGN_GRID,
    OWN_GRID,
    PLAN,
    UPDATE,
    advance,
    loop_world,
    new_hazard,
    written,
)

__all__ = ["loop_world"]
pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.usefixtures("loop_world")]


def _photos(engine: Engine, hazard_id: int) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT a.id, a.kind, a.event_id, a.width, a.height, a.data, ev.action FROM attachments a "
            "LEFT JOIN hazard_events ev ON ev.id = a.event_id WHERE a.hazard_id = :h ORDER BY a.id"),
            {"h": hazard_id}))


def test_submit_with_a_gps_photo_stores_it_clean_and_serves_it_in_scope_only(
        live_server: str, engine: Engine, browser_page: Any) -> None:
    base, page = live_server, browser_page
    hazard_id = new_hazard(engine, level="general")
    advance(engine, hazard_id, ("start", "fixture_gm", {}))
    user, password = make_user(engine, role="grid_manager", scope=OWN_GRID)
    page.goto(f"{base}/login?next=/hazard?id={hazard_id}")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#hz-action-submit")
    card = page.locator("#hz-action-submit")
    camera = card.locator(".hz-upload-camera input[type=file]")
    assert camera.get_attribute("accept") == "image/*" and camera.get_attribute("capture") == "environment"
    for field, value in PLAN.items():
        card.locator(f"[id*='\"field\":\"{field}\"']").fill(value)
    raw = gps_jpeg((3000, 2000))
    card.locator(".hz-upload-album input[type=file]").set_input_files(
        [{"name": "IMG_20260101.jpg", "mimeType": "image/jpeg", "buffer": raw}])
    page.wait_for_function("() => (document.querySelector('[id*=\"hz-photo-note\"][id*=\"submit\"]') || {})"
                           ".textContent?.includes('已选择 1 张照片')", timeout=10000)
    card.locator("button.hz-go").click()
    page.wait_for_function("() => (document.querySelector('#hz-status') || {}).textContent === '待验收'",
                           timeout=10000)

    rows = _photos(engine, hazard_id)
    assert len(rows) == 1
    att_id, kind, event_id, width, height, data, action = rows[0]
    assert kind == "after" and event_id is not None and action == "submit"
    assert max(width, height) <= 1600  # shrunk in the browser before the upload
    assert not has_metadata(data)  # no GPS, no device
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and not im.getexif()
    page.wait_for_selector(f"#hz-photos img[src='/api/attachments/{att_id}']")
    page.wait_for_selector(f".hz-event-submit img[src='/api/attachments/{att_id}']")
    assert not page.console_errors

    inside = http_login(base, *make_user(engine, role="inspector", scope=OWN_GRID))
    outside = http_login(base, *make_user(engine, role="inspector", scope=FOREIGN_GRID))
    served = inside.get(f"{base}/api/attachments/{att_id}", timeout=10)
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert served.content == bytes(data)
    assert outside.get(f"{base}/api/attachments/{att_id}", timeout=10).status_code == 404


def test_server_refuses_oversize_and_non_images_in_chinese(live_server: str, engine: Engine) -> None:
    base = live_server
    hazard_id = new_hazard(engine, level="general")
    advance(engine, hazard_id, ("start", "fixture_gm", {}))
    session = http_login(base, *make_user(engine, role="grid_manager", scope=OWN_GRID))
    before = written(engine, hazard_id)

    big = {"files": ["data:image/jpeg;base64," + "A" * (3 * 1024 * 1024)], "names": ["big.jpg"]}
    r = _act_with_photos(session, base, hazard_id, before[0], big)
    assert r.status_code == 413 and "请求内容过大" in r.text

    pdf = {"files": ["data:image/jpeg;base64,JVBERi0xLjQKJcfsj6IK"], "names": ["scan.jpg"]}
    r = _act_with_photos(session, base, hazard_id, before[0], pdf)
    assert r.status_code == 200 and "不是图片" in json.dumps(r.json(), ensure_ascii=False)
    assert written(engine, hazard_id) == before and not _photos(engine, hazard_id)


def _act_with_photos(session: Any, base: str, hazard_id: int, version: int, store: Any) -> Any:
    """The 登记整改情况 request with picked photos (JSON), as the renderer posts it (test_hazard_page's shape)."""
    go = {"action": "record", "type": "hz-go"}
    changed = [json.dumps(go, separators=(",", ":"), sort_keys=True) + ".n_clicks"]
    payload = {
        "output": "..hz-body.children...hz-msg.children...hz-key.data..",
        "outputs": [{"id": "hz-body", "property": "children"}, {"id": "hz-msg", "property": "children"},
                    {"id": "hz-key", "property": "data"}],
        "inputs": [[{"id": go, "property": "n_clicks", "value": 1}]],
        "state": [[{"id": {"action": "record", "field": "note", "type": "hz-in"}, "property": "value",
                    "value": "附照片"},
                   {"id": {"action": "record", "field": "photos", "type": "hz-in"}, "property": "value",
                    "value": json.dumps(store)}],
                  [], {"id": "hz-key", "property": "data", "value": {"id": hazard_id, "version": version}}],
        "changedPropIds": changed, "parsedChangedPropsIds": changed,
    }
    return session.post(f"{base}{UPDATE}", json=payload, timeout=20)
