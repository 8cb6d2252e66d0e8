"""The public report page (随手拍 / 群众举报) and the photo route, plain Flask.

* ``GET /report`` — a server-rendered form for a phone, no account: the point (the browser's
  geolocation, or latitude/longitude typed in), a description, an optional contact, up to three photos.
  It shows nothing of the system: no other reports, no boundaries, no enterprises.
* ``POST /report`` — CSRF token of the (anonymous) session, an idempotency key per form, photos through
  :mod:`dashboard.components.photos`, a throttle per address and business day (a keyed hash of the
  address, :func:`ip_hash`), a body limit of its own; answers only a thank-you with the report's code.
* ``GET /api/attachments/<id>`` — one stored photo, only to a signed-in user whose scope holds its
  hazard or report (404 otherwise, the same as a missing id), ``nosniff``, inline, private caching.

Settings (prefix ``SAFEGRID_PUBLIC_REPORT_``): :class:`PublicReportSettings`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import uuid
from functools import lru_cache
from html import escape
from typing import Any

from flask import Flask, Response, current_app, request
from pydantic_settings import BaseSettings, SettingsConfigDict

from dashboard import websec
from dashboard.auth import CSRF_FIELD, csrf_ok, csrf_token
from dashboard.components.photos import ACCEPT, PhotoError, clean_photos, photo_settings
from dashboard.errors import NotFoundError
from dashboard.roles import Capability
from dashboard.scope import client_ip, current_account
from domain import clock
from geo.attachments import read_attachment
from geo.db import connect
from geo.public_reports import MAX_CONTACT, MAX_DESCRIPTION, NewPublicReport, PublicReportError, ThrottledError, submit

PATH = "/report"
TITLE = "随手拍 · 安全隐患举报"


class PublicReportSettings(BaseSettings):
    """Limits of the public page (env prefix ``SAFEGRID_PUBLIC_REPORT_``)."""

    model_config = SettingsConfigDict(env_prefix="SAFEGRID_PUBLIC_REPORT_", env_file=".env", extra="ignore")

    per_day: int = 5  # reports per address and business day
    max_request_bytes: int = 26 * 1024 * 1024  # the whole form: three photos of 8 MB and the text


@lru_cache
def public_report_settings() -> PublicReportSettings:
    """Return the cached settings."""
    return PublicReportSettings()


def ip_hash(ip: str) -> str:
    """Return a keyed hash (HMAC-SHA256, the app's secret) of the address: the throttle key, never the address."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, b"public-report-ip:" + ip.encode(), hashlib.sha256).hexdigest()


def _page(body: str, *, status: int = 200) -> Response:
    html = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{TITLE}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="stylesheet" href="/assets/base.css"><link rel="stylesheet" href="/assets/public_report.css">
<script src="/assets/public_report.js" defer></script></head>
<body class="pr-body"><main class="pr-card">
<h1>{TITLE}</h1>
{body}
</main></body></html>"""
    response = Response(html, status=status, mimetype="text/html")
    # Only this page may ask for the position (the app's default policy denies geolocation everywhere).
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(self), payment=(), usb=()"
    return response


def form_page(*, message: str | None = None, values: dict[str, str] | None = None, status: int = 200) -> Response:
    """Render the form (``values`` refill it after a refusal; its request key stays, so a retry cannot duplicate)."""
    v = {k: escape(x) for k, x in (values or {}).items()}
    key = v.get("request_key") or uuid.uuid4().hex
    limits = photo_settings()
    alert = f'<p class="pr-alert" role="alert">{escape(message)}</p>' if message else ""
    located = (f"已填写位置：纬度 {v['lat']}，经度 {v['lon']}" if v.get("lat") and v.get("lon")
               else "尚未定位：请点击上方按钮，或展开下方手动填写经纬度。")
    return _page(f"""<p class="pr-sub">发现安全生产隐患？拍照、定位后提交，属地网格员将尽快核实处理。</p>
{alert}
<form id="pr-form" method="post" action="{PATH}" enctype="multipart/form-data" novalidate>
  <input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token())}">
  <input type="hidden" name="request_key" value="{key}">
  <fieldset class="pr-where"><legend>隐患位置 <span class="pr-req">必填</span></legend>
    <button type="button" id="pr-locate" class="pr-locate" hidden>使用我当前的位置</button>
    <p id="pr-located" class="pr-located" role="status">{located}</p>
    <details id="pr-manual"{" open" if message and not (v.get("lat") and v.get("lon")) else ""}>
      <summary>手动填写经纬度</summary>
      <div class="pr-coords">
        <label for="pr-lat">纬度</label>
        <input id="pr-lat" name="lat" inputmode="decimal" autocomplete="off" value="{v.get('lat', '')}"
               placeholder="例如 34.0357">
        <label for="pr-lon">经度</label>
        <input id="pr-lon" name="lon" inputmode="decimal" autocomplete="off" value="{v.get('lon', '')}"
               placeholder="例如 113.8227">
      </div>
    </details>
  </fieldset>
  <label for="pr-desc">隐患情况 <span class="pr-req">必填</span></label>
  <textarea id="pr-desc" name="description" rows="5" maxlength="{MAX_DESCRIPTION}" required
            placeholder="例如：某厂房东侧消防通道被货物堵塞，灭火器过期">{v.get('description', '')}</textarea>
  <span class="pr-label" id="pr-photos-label">现场照片（可选，最多 {limits.max_count} 张，JPEG/PNG/WebP，每张不超过
    {limits.max_bytes / 1024 / 1024:g} MB）</span>
  <input id="pr-photos" name="photos" type="file" accept="{ACCEPT}" multiple class="pr-file"
         aria-labelledby="pr-photos-label" data-max-count="{limits.max_count}" data-max-bytes="{limits.max_bytes}">
  <label for="pr-photos" class="pr-pick">拍照或选择照片</label>
  <p id="pr-photo-note" class="pr-note" role="status"></p>
  <label for="pr-contact">联系方式（可选）</label>
  <input id="pr-contact" name="contact" maxlength="{MAX_CONTACT}" autocomplete="tel" inputmode="tel"
         value="{v.get('contact', '')}" placeholder="手机号，仅用于核实时联系您">
  <button type="submit" id="pr-submit" class="pr-submit">提交举报</button>
</form>
<p class="pr-privacy">照片在保存前会去除拍摄设备、拍摄地点等附加信息；联系方式仅供核实人员使用。
紧急情况请直接拨打 12350 安全生产举报电话。</p>""", status=status)


def thanks_page(code: str) -> Response:
    """Render the only answer to an accepted report: its code."""
    return _page(f"""<div class="pr-thanks" role="status">
<p class="pr-ok">感谢您的举报！</p>
<p>举报编号：<strong id="pr-code">{escape(code)}</strong></p>
<p>属地网格员将尽快核实处理。如需咨询，请提供此编号。</p>
</div>
<p><a class="pr-again" href="{PATH}">再报一条</a></p>""")


def _coordinate(raw: str, low: float, high: float) -> float | None:
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def report_page() -> Any:
    """GET: the form. POST: check, throttle, store; thank-you or the form again with the reason."""
    if request.method == "GET":
        return form_page()
    form = request.form
    values = {k: str(form.get(k, ""))[:2000] for k in ("lat", "lon", "description", "contact", "request_key")}
    if not csrf_ok(form.get(CSRF_FIELD)):
        return form_page(message="页面已过期或来源无效，请重新提交。", values=values, status=400)
    lat = _coordinate(values["lat"], -90, 90)
    lon = _coordinate(values["lon"], -180, 180)
    if lat is None or lon is None:
        return form_page(message="请先定位，或手动填写隐患位置的纬度和经度。", values=values, status=400)
    limits = photo_settings()
    uploads = [f for f in request.files.getlist("photos") if f and f.filename]
    try:
        if len(uploads) > limits.max_count:
            raise PhotoError(f"最多上传 {limits.max_count} 张照片")
        photos = clean_photos([(str(f.filename), f.read(limits.max_bytes + 1)) for f in uploads])
        new = NewPublicReport(description=values["description"], contact=values["contact"], lon=lon, lat=lat,
                              request_key=values["request_key"])
        with connect() as conn:
            done = submit(conn, new=new, photos=list(photos), ip_hash=ip_hash(client_ip() or ""),
                          per_day=public_report_settings().per_day, today=clock.today())
    except ThrottledError as exc:
        return form_page(message=str(exc), values=values, status=429)
    except (PhotoError, PublicReportError) as exc:
        return form_page(message=str(exc), values=values, status=400)
    return thanks_page(done.code)


def attachment(attachment_id: int) -> Any:
    """Serve one photo to a user whose scope holds its owner; 404 for anything else.

    A hazard's photo: whoever sees the hazard (a confined enterprise account: its own enterprise's only);
    a report's photo before it became a hazard: the public queue (grid managers) of its cell.
    """
    account = current_account()
    confined = account.confined
    found = None
    if not confined or account.record.enterprise_id is not None:
        with connect() as conn:
            found = read_attachment(conn, scope=account.scope, attachment_id=attachment_id,
                                    reports=account.can(Capability.PUBLIC_QUEUE),
                                    enterprise_id=account.record.enterprise_id if confined else None)
    if found is None:
        raise NotFoundError("未找到该照片，或不在您的管辖范围内。")
    ext = found.mime.rsplit("/", 1)[1].replace("jpeg", "jpg")
    response = Response(found.data, mimetype=found.mime)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="photo-{found.id}.{ext}"'
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.set_etag(found.sha256)
    return response.make_conditional(request)


def init_app(server: Flask) -> None:
    """Register the public page (its own body limit) and the photo route."""
    server.add_url_rule(PATH, "public_report", report_page, methods=["GET", "POST"])
    websec.allow_body(server, PATH, public_report_settings().max_request_bytes)
    server.add_url_rule("/api/attachments/<int:attachment_id>", "api_attachment", attachment)  # checks in SQL
