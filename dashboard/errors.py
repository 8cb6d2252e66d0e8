"""One exception hierarchy and the one mapping from exceptions to what users read (Chinese)."""

from __future__ import annotations

import logging
from html import escape

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from geo.db import MISCONFIGURED, classify, describe_failure

log = logging.getLogger(__name__)


class AppError(Exception):
    """Base of errors users may see; ``message`` is Chinese, ``status`` the HTTP status."""

    status = 500
    message = "系统内部错误，请稍后重试或联系管理员。"

    def __init__(self, message: str | None = None) -> None:
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
    if isinstance(exc, OperationalError) and classify(exc) in MISCONFIGURED:  # waiting will not help
        log.error("database misconfigured: %s", describe_failure(exc))
        return DatabaseMisconfiguredError()
    if isinstance(exc, SQLAlchemyTimeoutError):  # no free pooled connection within the pool timeout
        log.warning("database pool exhausted: %s", exc)
        return DatabaseUnavailableError()
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        log.warning("database unavailable: %s", exc)
        return DatabaseUnavailableError()
    log.exception("unexpected error", exc_info=exc)
    return AppError()


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


_TITLES = {400: "请求有误", 401: "需要登录", 403: "无权访问", 404: "未找到", 503: "服务暂不可用", 500: "系统错误"}
