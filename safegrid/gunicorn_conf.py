"""gunicorn settings for ``safegrid serve`` and docker-compose (``--config python:safegrid.gunicorn_conf``).

* No ``Server`` banner: gunicorn writes ``Server: gunicorn`` itself, outside the app's reach.
* Logs: one JSON object per line (time, level, logger, request id, user, message) for the app, the
  access log and gunicorn's own messages (:class:`dashboard.websec.JsonLogFormatter`). SQLAlchemy's
  statement log stays at WARNING, and statement errors are written without their parameters.
* The access line has the path without the query string (search text and credit codes stay out) and
  the request id the app returned (``X-Request-ID``), so it matches the app's lines.
* Keep-alive outlives the proxy's: nginx keeps idle upstream connections for ``keepalive_timeout``
  (60 s in both nginx configs); with gunicorn's default of 2 s an instance closed a connection just as
  nginx sent a request on it ("104: Connection reset by peer" → 502, and nginx does not retry a POST).
  Measured: 1 such 502 in 2,224 requests of the 100-user load test.
"""

from __future__ import annotations

from typing import Any

from gunicorn.http import wsgi


def _without_server_header(default_headers: Any) -> Any:
    def headers(self: Any) -> list[str]:
        return [h for h in default_headers(self) if not h.lower().startswith("server:")]

    return headers


if not getattr(wsgi.Response.default_headers, "_safegrid", False):
    wsgi.Response.default_headers = _without_server_header(wsgi.Response.default_headers)
    wsgi.Response.default_headers._safegrid = True

keepalive = 75  # seconds; must exceed nginx's upstream keepalive_timeout (tests/test_compose.py checks)
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s'
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "dashboard.websec.RequestContextFilter"}},
    "formatters": {"json": {"()": "dashboard.websec.JsonLogFormatter"}},
    "handlers": {
        "json": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request"],
                 "stream": "ext://sys.stderr"},
    },
    "root": {"level": "INFO", "handlers": ["json"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["json"], "propagate": False},
        "sqlalchemy.engine": {"level": "WARNING"},
        "sqlalchemy.pool": {"level": "WARNING"},
    },
}
