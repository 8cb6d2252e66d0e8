"""Photos: the image pipeline (pure) and geo.attachments' scope-checked storage on a real PostGIS.

The pipeline keeps no EXIF (a JPEG carrying GPS position and device comes out without any), applies
the orientation, caps the size and refuses what is not a JPEG, PNG or WebP in Chinese. Storage: one
copy per owner by SHA-256, and every read goes through the owner's unit path — outside the scope is
the same as missing, an enterprise account sees only its own enterprise's hazards, a report's photo
only readers of the public queue.
"""

from __future__ import annotations

import base64
import io
import os
import uuid
from collections.abc import Iterator

import pytest
from PIL import Image
from sqlalchemy import Engine, create_engine, text

from dashboard.components.photos import PhotoError, PhotoSettings, clean_photo, clean_photos, photos_from_upload
from geo import attachments
from geo.migrate import fresh_database

# A small grid with real geometry (squares of 0.01°): cells A and B in 西大街道, cell C in 东大街道.
GRID = [
    ("411000", "许昌市", 1, None, None),
    ("411002", "魏都区", 2, "411000", None),
    ("411002001", "西大街道", 3, "411002", None),
    ("411002001001", "金地社区", 4, "411002001", None),
    ("41100200100101", "金地社区第1网格", 5, "411002001001", (113.80, 34.00)),
    ("41100200100102", "金地社区第2网格", 5, "411002001001", (113.81, 34.00)),
    ("411002002", "东大街道", 3, "411002", None),
    ("411002002001", "东关社区", 4, "411002002", None),
    ("41100200200101", "东关社区第1网格", 5, "411002002001", (113.82, 34.00)),
]
CELL_A, CELL_B, CELL_C = "41100200100101", "41100200100102", "41100200200101"
POINT_A, POINT_B, POINT_C = (113.805, 34.005), (113.815, 34.005), (113.825, 34.005)  # (lon, lat)
ENTERPRISE_A = "91411002MA9PUB001A"
GPS_LAT = (34.0, 0.0, 18.0)


def grid_database(suffix: str) -> str:
    """A freshly migrated database of its own holding :data:`GRID` and one enterprise in cell A; its URL."""
    url = fresh_database(os.environ.get("SAFEGRID_TEST_DB", "safegrid_test") + suffix)
    engine = create_engine(url)
    with engine.begin() as conn:
        for code, name, level, parent, corner in GRID:
            geom = None
            if corner:
                x, y = corner
                geom = f"MULTIPOLYGON((({x} {y},{x + 0.01} {y},{x + 0.01} {y + 0.01},{x} {y + 0.01},{x} {y})))"
            conn.execute(text(
                "INSERT INTO units (code, name, level, kind, parent_id, path, geom) "
                "SELECT :code, :name, :level, 'grid', p.id, coalesce(p.path, '') || :code || '.', "
                "ST_GeomFromText(:g, 4326) FROM (SELECT 1) one LEFT JOIN units p ON p.code = :parent"),
                {"code": code, "name": name, "level": level, "parent": parent, "g": geom})
        conn.execute(text(
            "INSERT INTO enterprises (credit_code, name, risk_level, unit_id, geom) SELECT :c, '金地机械厂', 'blue', "
            "u.id, ST_SetSRID(ST_MakePoint(113.803, 34.003), 4326) FROM units u WHERE u.code = :cell"),
            {"c": ENTERPRISE_A, "cell": CELL_A})
    engine.dispose()
    return url


def gps_jpeg(size: tuple[int, int] = (1200, 900), orientation: int = 1) -> bytes:
    """A JPEG as a phone writes it: EXIF with GPS position, maker, model and orientation."""
    image = Image.new("RGB", size, (180, 40, 30))
    for x in range(0, size[0], 40):  # some texture, so the encoder has something to do
        image.paste((30, 90, 160), (x, 0, x + 10, size[1]))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Xiaomi", "23127PN0CC", orientation
    exif[0x8825] = {1: "N", 2: GPS_LAT, 3: "E", 4: (113.0, 48.0, 24.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=92)
    return out.getvalue()


def has_metadata(data: bytes) -> bool:
    """Tell whether an image carries EXIF (any tag, GPS included), XMP or an ICC profile."""
    with Image.open(io.BytesIO(data)) as im:
        return bool(dict(im.getexif())) or b"Exif" in data or b"GPS" in data or "icc_profile" in im.info \
            or "xmp" in im.info or b"Xiaomi" in data


# --- the pipeline (pure) ------------------------------------------------------------------------------

def test_jpeg_with_gps_exif_comes_out_without_any_metadata() -> None:
    raw = gps_jpeg()
    with Image.open(io.BytesIO(raw)) as im:
        assert im.getexif().get_ifd(0x8825)[2] == GPS_LAT  # the input really carries a position
    photo = clean_photo(raw, name="IMG_0001.jpg")
    assert photo.mime == "image/jpeg" and (photo.width, photo.height) == (1200, 900)
    assert photo.data.startswith(b"\xff\xd8\xff") and not has_metadata(photo.data)


def test_orientation_is_applied_and_the_size_capped() -> None:
    photo = clean_photo(gps_jpeg((3200, 2400), orientation=6))  # "rotate 90° clockwise to view"
    assert (photo.width, photo.height) == (1920, 2560) and not has_metadata(photo.data)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_keep_their_type_without_metadata(fmt: str) -> None:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "Xiaomi"
    Image.new("RGBA", (300, 200), (0, 120, 0, 200)).save(out, fmt, exif=exif)
    photo = clean_photo(out.getvalue())
    assert photo.mime == f"image/{fmt.lower()}" and not has_metadata(photo.data)


@pytest.mark.parametrize(("data", "message"), [
    (b"%PDF-1.7\n%binary", "不是图片：只能上传 JPEG、PNG 或 WebP 格式的照片"),
    (b"GIF89a" + b"\x00" * 40, "不是图片"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "不是图片"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "已损坏或无法识别"),
    (b"", "空文件"),
])
def test_other_bytes_are_refused_in_chinese(data: bytes, message: str) -> None:
    with pytest.raises(PhotoError, match=message):
        clean_photo(data, name="photo.jpg")


def test_limits_size_count_and_pixels() -> None:
    small = PhotoSettings(max_bytes=10_000, max_count=2, max_pixels=1_000_000)
    with pytest.raises(PhotoError, match="过大（每张不超过"):
        clean_photo(gps_jpeg(), settings=small)
    tiny = clean_photo(gps_jpeg((50, 40))).data
    with pytest.raises(PhotoError, match="最多上传 2 张照片"):
        clean_photos([("a.jpg", tiny)] * 3, settings=small)
    with pytest.raises(PhotoError, match="像素过多"):
        clean_photo(gps_jpeg((1200, 900)), settings=PhotoSettings(max_pixels=100_000))


def test_upload_contents_are_decoded_and_cleaned() -> None:
    url = "data:image/jpeg;base64," + base64.b64encode(gps_jpeg((64, 48))).decode()
    photos = photos_from_upload([url], ["a.jpg"])
    assert len(photos) == 1 and not has_metadata(photos[0].data)
    with pytest.raises(PhotoError):
        photos_from_upload(["data:image/jpeg;base64,@@@"], ["a.jpg"])
    assert photos_from_upload(None) == []


# --- storage and scope (PostGIS) -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def att_engine() -> Iterator[Engine]:
    """A grid database of this module's own (it commits)."""
    engine = create_engine(grid_database("_att"))
    yield engine
    engine.dispose()


def _path(engine: Engine, code: str) -> str:
    with engine.connect() as c:
        return str(c.execute(text("SELECT path FROM units WHERE code = :c"), {"c": code}).scalar_one())


@pytest.mark.db
def test_reads_are_scope_checked_through_the_owner(att_engine: Engine) -> None:
    photo = clean_photo(gps_jpeg((80, 60)))
    with att_engine.begin() as c:
        ids = c.execute(text(
            "SELECT (SELECT id FROM units WHERE code = :a), (SELECT id FROM units WHERE code = :c), "
            "(SELECT id FROM enterprises WHERE credit_code = :e)"), {"a": CELL_A, "c": CELL_C, "e": ENTERPRISE_A}).one()
        cell_a, cell_c, ent = ids
        hazard = c.execute(text(
            "INSERT INTO hazards (code, enterprise_id, unit_id, title, level, channel, status, found_at) "
            "VALUES (:code, :e, NULL, '配电箱未接地', 'general', 'inspection', 'reported', current_date) RETURNING id"),
            {"code": f"YHT-{uuid.uuid4().hex[:8]}", "e": ent}).scalar_one()  # placed by its enterprise only
        report = c.execute(text(
            "INSERT INTO public_reports (code, description, unit_id, request_key) VALUES (:code, '通道堵塞', :u, :k) "
            "RETURNING id"), {"code": f"JBT-{uuid.uuid4().hex[:8]}", "u": cell_a, "k": uuid.uuid4().hex}).scalar_one()
        on_hazard = attachments.save_photos(c, hazard_id=hazard, event_id=None, kind="finding", files=[photo],
                                            by="gm")[0]
        again = attachments.save_photos(c, hazard_id=hazard, event_id=None, kind="finding", files=[photo], by="gm")
        on_report = attachments.store(c, photo, kind="report", by=None, report_id=report)
        other_report = c.execute(text(
            "INSERT INTO public_reports (code, description, unit_id, request_key) VALUES (:code, '噪声', :u, :k) "
            "RETURNING id"), {"code": f"JBT-{uuid.uuid4().hex[:8]}", "u": cell_c, "k": uuid.uuid4().hex}).scalar_one()
    assert again == [on_hazard]  # the same bytes for the same owner are kept once
    a, b, county = _path(att_engine, CELL_A), _path(att_engine, CELL_B), _path(att_engine, "411002")
    with att_engine.connect() as c:
        def read(att: int, scope: str, reports: bool = True, enterprise: int | None = None) -> bool:
            return attachments.read_attachment(c, scope=scope, attachment_id=att, reports=reports,
                                               enterprise_id=enterprise) is not None

        got = attachments.read_attachment(c, scope=a, attachment_id=on_hazard, reports=False)
        assert got is not None and got.data == photo.data and got.mime == "image/jpeg"
        assert read(on_hazard, county) and not read(on_hazard, b)  # the enterprise's cell decides
        assert read(on_report, a) and read(on_report, county) and not read(on_report, b)
        assert not read(on_report, a, reports=False)  # a pending report's photo: the public queue only
        assert read(on_hazard, a, enterprise=ent) and not read(on_hazard, a, enterprise=ent + 1)
        assert not read(on_report, a, enterprise=ent)
        assert not read(on_hazard + on_report + 1000, county)  # missing reads like outside
        assert [i.id for i in attachments.hazard_attachments(c, scope=county, hazard_id=hazard)] == [on_hazard]
        assert attachments.hazard_attachments(c, scope=b, hazard_id=hazard) == []
        listed = attachments.report_attachments(c, scope=county, report_ids=[report, other_report])
        assert list(listed) == [report] and listed[report][0].kind_label == "举报照片"


@pytest.mark.db
def test_only_reencoded_images_are_stored(att_engine: Engine) -> None:
    class Raw:
        data, mime, width, height = b"%PDF-1.7", "image/jpeg", 1, 1

    with att_engine.begin() as c, pytest.raises(ValueError, match="re-encoded"):
        attachments.store(c, Raw(), kind="report", by=None, report_id=1)
