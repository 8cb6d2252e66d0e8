"""Photos: the image pipeline every upload goes through, and the Dash upload component.

The pipeline (:func:`clean_photo`) is pure (bytes in, bytes out, Pillow only): the type is sniffed
from the bytes (JPEG, PNG, WebP; never the file name or the browser's type), the size and pixel
count are limited, and the picture is decoded and **re-encoded** with the EXIF orientation applied
(``ImageOps.exif_transpose``) and nothing else kept — no EXIF (GPS position, device, time), no XMP,
no ICC profile, no text chunks — its longer side capped. What is stored is only ever this output.

The component (:func:`photo_upload`) is a ``dcc.Upload`` for up to three photos; a callback turns its
``contents`` into cleaned photos with :func:`photos_from_upload` and hands them to
:func:`geo.attachments.save_photos` inside the transaction that writes the event they belong to.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dash import dcc, html
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic_settings import BaseSettings, SettingsConfigDict

# Sniffed format → (Pillow format name, stored mime type).
FORMATS = {"jpeg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}
ACCEPT = "image/jpeg,image/png,image/webp,.jpg,.jpeg,.png,.webp"
REFUSED_TYPE = "只能上传 JPEG、PNG 或 WebP 格式的照片"


class PhotoSettings(BaseSettings):
    """Limits of uploaded photos (env prefix ``SAFEGRID_PHOTO_``)."""

    model_config = SettingsConfigDict(env_prefix="SAFEGRID_PHOTO_", env_file=".env", extra="ignore")

    max_bytes: int = 8 * 1024 * 1024  # one photo as uploaded
    max_count: int = 3  # photos per report or event
    max_side_px: int = 2560  # the longer side after re-encoding
    max_pixels: int = 50_000_000  # decoded size guard (a small file can claim a huge canvas)
    jpeg_quality: int = 85


@lru_cache
def photo_settings() -> PhotoSettings:
    """Return the cached photo settings."""
    return PhotoSettings()


class PhotoError(ValueError):
    """A photo that is refused; the message is the Chinese text the user reads."""


@dataclass(frozen=True)
class CleanPhoto:
    """A photo after the pipeline: re-encoded bytes without metadata, their mime type and size in pixels."""

    data: bytes
    mime: str
    width: int
    height: int


def sniff(data: bytes) -> str | None:
    """Return ``jpeg``, ``png`` or ``webp`` from the leading bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB"


def clean_photo(data: bytes, *, name: str = "", settings: PhotoSettings | None = None) -> CleanPhoto:
    """Check one uploaded photo and re-encode it without metadata; raise :class:`PhotoError` to refuse it."""
    s = settings or photo_settings()
    label = f"“{name[:60]}”" if name else "照片"
    if not data:
        raise PhotoError(f"{label}是空文件")
    if len(data) > s.max_bytes:
        raise PhotoError(f"{label}过大（每张不超过 {_mb(s.max_bytes)}）")
    kind = sniff(data)
    if kind is None:
        raise PhotoError(f"{label}不是图片：{REFUSED_TYPE}")
    pil_format, mime = FORMATS[kind]
    try:
        with Image.open(io.BytesIO(data), formats=[pil_format]) as opened:
            if opened.width * opened.height > s.max_pixels:
                raise PhotoError(f"{label}像素过多，无法处理")
            opened.load()
            image = ImageOps.exif_transpose(opened)  # a copy with the orientation applied
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, PhotoError):
            raise
        raise PhotoError(f"{label}已损坏或无法识别：{REFUSED_TYPE}") from exc
    image.thumbnail((s.max_side_px, s.max_side_px), Image.Resampling.LANCZOS)
    image.info = {}  # nothing of the original's metadata (exif, xmp, icc_profile, text) reaches the encoder
    out = io.BytesIO()
    if kind == "jpeg":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=s.jpeg_quality, optimize=True)
    elif kind == "png":
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=True)
    else:
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        image.save(out, "WEBP", quality=s.jpeg_quality)
    return CleanPhoto(out.getvalue(), mime, image.width, image.height)


def clean_photos(files: Sequence[tuple[str, bytes]], *, settings: PhotoSettings | None = None) -> list[CleanPhoto]:
    """Clean ``(name, bytes)`` pairs (at most ``max_count``); the first refused one raises :class:`PhotoError`."""
    s = settings or photo_settings()
    if len(files) > s.max_count:
        raise PhotoError(f"最多上传 {s.max_count} 张照片")
    return [clean_photo(data, name=name, settings=s) for name, data in files]


def photos_from_upload(contents: Any, filenames: Any = None, *,
                       settings: PhotoSettings | None = None) -> list[CleanPhoto]:
    """Turn a ``dcc.Upload``'s ``contents`` (data URLs; one string or a list) into cleaned photos."""
    if not contents:
        return []
    items = contents if isinstance(contents, list) else [contents]
    names = filenames if isinstance(filenames, list) else [filenames] * len(items)
    files = []
    for item, name in zip(items, names, strict=False):
        if not isinstance(item, str) or "," not in item:
            raise PhotoError(REFUSED_TYPE)
        try:
            data = base64.b64decode(item.split(",", 1)[1], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PhotoError(REFUSED_TYPE) from exc
        files.append((str(name or ""), data))
    return clean_photos(files, settings=settings)


def photos_from_picker(picked: Any, *, settings: PhotoSettings | None = None) -> list[CleanPhoto]:
    """Clean the photos of a :func:`photo_picker` (its hidden input: JSON ``{"files": [data URL…], "names": […]}``)."""
    if picked is None or picked == "":
        return []
    try:
        store = json.loads(picked) if isinstance(picked, str) else None
    except ValueError as err:
        raise PhotoError(REFUSED_TYPE) from err
    if not isinstance(store, dict) or not isinstance(store.get("files", []), list):
        raise PhotoError(REFUSED_TYPE)
    names = store.get("names")
    return photos_from_upload(store.get("files") or [], names if isinstance(names, list) else None, settings=settings)


def photo_picker(action: str, label: str, *, settings: PhotoSettings | None = None) -> html.Div:
    """Camera and album inputs for up to ``max_count`` photos, shrunk in the browser before the submit.

    The ids follow the hazard page's picker (``{"type": "hz-upload" | "hz-in" | "hz-photo-note" | "hz-photo-clear",
    "action": action, …}``), so the clientside ``safegrid_hazard.shrink`` of ``assets/hazard_photos.js`` (registered
    with MATCH on ``action`` by ``dashboard.hazard``) fills the hidden input ``{"type": "hz-in", "action": action,
    "field": "photos"}``: at most 1600 px, JPEG 0.85, no EXIF; the submit cleans them again with
    :func:`photos_from_picker`. The camera input gets ``capture="environment"`` from that script.
    """
    s = settings or photo_settings()

    def upload(src: str, text: str) -> dcc.Upload:
        return dcc.Upload(id={"type": "hz-upload", "action": action, "src": src}, accept="image/*",
                          multiple=src == "album", children=html.Span(text, className="hz-photo-btn"),
                          className=f"hz-upload hz-upload-{src}")

    return html.Div([
        html.Label(f"{label}（最多 {s.max_count} 张）", className="sg-label"),
        html.Div([upload("camera", "拍照"), upload("album", "选择照片"),
                  html.Button("清除照片", id={"type": "hz-photo-clear", "action": action}, type="button",
                              className="hz-photo-clear", n_clicks=0)], className="hz-photo-buttons"),
        html.Div(id={"type": "hz-photo-note", "action": action}, className="sg-photo-note", role="status"),
        dcc.Input(id={"type": "hz-in", "action": action, "field": "photos"}, type="hidden", value=""),
    ], className="hz-field hz-photo-picker", id=f"photo-picker-{action}")


def photo_upload(id_prefix: str, *, settings: PhotoSettings | None = None) -> html.Div:
    """Return a drop zone for up to ``max_count`` photos (ids ``<prefix>-photos`` and ``<prefix>-photos-note``).

    ``max_size`` lets the browser refuse an oversized file before sending it; the server checks again.
    A Dash callback body is limited to ``SAFEGRID_MAX_REQUEST_BYTES`` (2 MiB): photos sent through a
    callback must fit in it (as base64, a third larger); the public page posts a multipart form instead.
    """
    s = settings or photo_settings()
    return html.Div([
        dcc.Upload(
            id=f"{id_prefix}-photos", multiple=True, accept=ACCEPT, max_size=s.max_bytes,
            children=html.Div(["拖入照片或", html.A("点击选择"), f"（最多 {s.max_count} 张，JPEG/PNG/WebP）"]),
            className="sg-photo-upload",
        ),
        html.Div(id=f"{id_prefix}-photos-note", className="sg-photo-note", role="status"),
    ], className="sg-photos")


def photo_thumbnails(attachment_ids: Sequence[int], *, alt: str = "照片") -> html.Div:
    """Thumbnails linking to the full photos served by ``/api/attachments/<id>`` (scope-checked there)."""
    return html.Div([
        html.A(html.Img(src=attachment_url(i), alt=f"{alt} {n}", className="sg-photo-thumb"),
               href=attachment_url(i), target="_blank", rel="noopener")
        for n, i in enumerate(attachment_ids, start=1)
    ], className="sg-photo-row")


def inspection_files(attachments: Sequence[Sequence[Any]]) -> Any:
    """Small links to an inspection's attachments (``[[id, kind], …]``): 现场照片 as thumbnails, 签字文书 by name."""
    if not attachments:
        return "—"
    links: list[Any] = []
    seen: dict[str, int] = {}
    for attachment_id, kind in attachments:
        label = "签字文书" if kind == "document" else "现场照片"
        n = seen[label] = seen.get(label, 0) + 1
        child: Any = (html.Img(src=attachment_url(attachment_id), alt=f"{label} {n}", className="sg-photo-thumb")
                      if kind != "document" else f"{label}{n}")
        links.append(html.A(child, href=attachment_url(attachment_id), target="_blank", rel="noopener",
                            title=label, className=f"insp-file insp-file-{kind}"))
    return html.Span(links, className="sg-photo-row insp-files")


def attachment_url(attachment_id: int) -> str:
    """Return the URL a photo is served at."""
    return f"/api/attachments/{int(attachment_id)}"
