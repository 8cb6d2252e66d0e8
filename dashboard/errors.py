"""One exception hierarchy and the one mapping from exceptions to what users read (Chinese)."""

from __future__ import annotations

import logging
import re
from html import escape

from flask import has_request_context, request
from sqlalchemy.exc import DataError, DBAPIError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from geo.db import MISCONFIGURED, classify, describe_failure

log = logging.getLogger(__name__)
_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
DASH_UPDATE_PATH = "/_dash-update-component"
# Raised by a callback on a value the browser could not have sent (a forged request): the user reads 400.
_FORGED_VALUE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


class AppError(Exception):
    """Base of errors users may see; ``message`` is Chinese, ``status`` the HTTP status."""

    status = 500
    message = "系统内部错误，请稍后重试或联系管理员。"

    def __init__(self, message: str | None = None) -> None:
        if message and not _CJK.search(message):  # raw (English) exception text never reaches users
            log.info("%s: replaced a message without Chinese text: %.200s", type(self).__name__, message)
            message = None
        super().__init__(message or self.message)
        if message:
            self.message = message


class NotAuthenticatedError(AppError):
    """No valid session."""

    status = 401
    message = "登录已失效，请重新登录。"


class ForbiddenError(AppError):
    """The role may not use this page or action."""

    status = 403
    message = "当前账户无权使用此功能。"


class OutOfScopeError(ForbiddenError):
    """The requested data lies outside the caller's scope unit."""

    message = "无权查看该单位的数据：超出本账户的数据范围。"


class NotFoundError(AppError):
    """Nothing there."""

    status = 404
    message = "未找到请求的内容。"


class BadRequestError(AppError):
    """Malformed input."""

    status = 400
    message = "请求参数有误。"


class HTTPStatusError(AppError):
    """An HTTP-level refusal (malformed request, body too large, wrong method) with its Chinese message."""

    def __init__(self, status: int, message: str | None = None) -> None:
        self.status = status
        super().__init__(message or HTTP_MESSAGES.get(status, "请求无法处理。"))


HTTP_MESSAGES = {
    400: "请求格式有误，请刷新页面后重试。",
    404: "未找到请求的内容。",
    405: "不支持该请求方式。",
    413: "请求内容过大，已拒绝。",
    415: "请求格式有误：不支持该内容类型。",
    431: "请求头过大，已拒绝。",
}


class DatabaseUnavailableError(AppError):
    """The database does not answer."""

    status = 503
    message = "数据库暂时无法连接，请稍后刷新重试；如持续出现请联系管理员。"


class DatabaseMisconfiguredError(DatabaseUnavailableError):
    """The database refuses the configured account, lacks the database, or its host is unknown (see geo.db)."""

    message = "系统数据库连接配置有误，稍后重试也无法恢复，请联系系统管理员检查数据库设置。"


def to_app_error(exc: BaseException) -> AppError:
    """Map any exception to the :class:`AppError` whose message the user reads."""
    if isinstance(exc, AppError):
        return exc
    hide_sql_parameters(exc)
    if isinstance(exc, OperationalError) and classify(exc) in MISCONFIGURED:  # waiting will not help
        log.error("database misconfigured: %s", describe_failure(exc))
        return DatabaseMisconfiguredError()
    if isinstance(exc, SQLAlchemyTimeoutError):  # no free pooled connection within the pool timeout
        log.warning("database pool exhausted: %s", exc)
        return DatabaseUnavailableError()
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        log.warning("database unavailable: %s", type(exc.orig).__name__ if isinstance(exc, DBAPIError) else exc)
        return DatabaseUnavailableError()
    if isinstance(exc, DataError):  # a value the database cannot take (out of range, bad syntax): the input's fault
        log.warning("refused a value the database cannot take: %s", type(exc.orig).__name__)
        return BadRequestError()
    if isinstance(exc, _FORGED_VALUE_ERRORS) and has_request_context() and request.path == DASH_UPDATE_PATH:
        log.warning("callback refused a malformed value", exc_info=exc)
        return BadRequestError()
    log.exception("unexpected error", exc_info=exc)
    return AppError()


def hide_sql_parameters(exc: BaseException | None) -> None:
    """Keep bound parameters (users' search text, names) out of the text of ``exc`` and its causes."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, StatementError):
            exc.hide_parameters = True
        exc = exc.__cause__ or exc.__context__


def error_page(error: AppError, *, title: str = "安全生产网格化监管“一张图”") -> str:
    """Render a small standalone HTML page for ``error`` (no Dash, no database needed)."""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/base.css"></head>
<body class="sg-plain"><main class="sg-card sg-error">
<h1>{error.status} · {escape(_TITLES.get(error.status, "出错了"))}</h1>
<p>{escape(error.message)}</p>
<p><a href="/">返回首页</a> · <a href="/login">重新登录</a></p>
</main></body></html>"""


_TITLES = {400: "请求有误", 401: "需要登录", 403: "无权访问", 404: "未找到", 405: "请求有误", 413: "请求过大",
           415: "请求有误", 429: "请求过多", 503: "服务暂不可用", 500: "系统错误"}
