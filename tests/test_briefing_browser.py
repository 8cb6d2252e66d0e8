"""The briefing (通报) downloaded in Chromium: a city leader clicks “下载通报（PDF）” on /scorecards.

The download is captured (``page.expect_download``), opened with pypdfium2 and checked for the area, the quarter
and the test world's rows (``tests.test_briefing.world``: an overdue and a 督办 hazard and an accident of the
last complete quarter); the ``export_briefing`` audit row names the leader, the area and the quarter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import Engine, text

from domain import clock
from domain.scorecards import last_complete_quarter
from tests.browser import login, make_user
from tests.test_briefing import PREFIX, world  # noqa: F401  (the module's rows)

pytestmark = [pytest.mark.db, pytest.mark.browser]


def test_leader_downloads_the_briefing_from_scorecards(live_server: str, browser_page: Any, engine: Engine,
                                                       world: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    page = browser_page
    quarter = last_complete_quarter(clock.today())
    user, password = make_user(engine, role="leader", scope="411000")
    login(page, live_server, user, password, expect_path="/scorecards")
    page.wait_for_selector("#sc-briefing")
    assert f"季度考核 · 许昌市 · {quarter.label}" in page.inner_text("h2")
    with page.expect_download(timeout=120_000) as info:
        page.click("#sc-briefing")
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename == f"安全生产通报_许昌市_{quarter.label}.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    content = saved.read_bytes()
    assert content[:5] == b"%PDF-"
    doc = pdfium.PdfDocument(content)
    pages = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    assert len(pages) >= 2
    assert "安全生产工作通报" in pages[0] and "许昌市" in pages[0] and quarter.label in pages[0]
    rest = "\n".join(pages[1:])
    for needle in (f"{PREFIX}OVERDUE", f"{PREFIX}SUPERVISED", "通报测试事故", "考核排名"):
        assert needle in rest, needle
    with engine.connect() as c:
        details = [r[0] for r in c.execute(text(
            "SELECT detail FROM audit_log WHERE action = 'export_briefing' AND username = :u"), {"u": user})]
    assert details == [{"unit": "411000", "start": quarter.start.isoformat(), "end": quarter.end.isoformat(),
                        "scope": "411000"}]
    assert not page.console_errors
