"""Personal access tokens for desktop GIS clients (QGIS, ArcGIS, OWSLib) on the OGC API under ``/ogc/``.

A token is ``sgp_`` + 43 URL-safe characters (32 random bytes). Only its hex SHA-256 is stored
(``api_tokens.token_hash``, unique), with the first 12 characters as ``prefix`` so a user can tell
tokens apart; the secret is shown once. A plain SHA-256 (not argon2) is right here: the secret has 256
bits of entropy, so there is nothing to brute-force, and the lookup runs on every OGC request through the
unique index. A token carries its owner's account: role and scope are read with the account on each
request, so a scope change or a disabled account applies at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, text

from geo.users import UserRecord, get_user_by_id

TOKEN_PREFIX = "sgp_"
SECRET_BYTES = 32
PREFIX_LENGTH = 12  # ``sgp_`` + 8 characters of the secret, stored and listed
MAX_DAYS = 365
MAX_NAME_LENGTH = 100
MAX_ACTIVE_TOKENS = 20  # per account: a token list nobody can read any more is a risk, not a convenience
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most once a minute per token

Refusal = Literal["unknown", "revoked", "expired", "disabled"]


class TokenError(ValueError):
    """A token that cannot be created as asked (message in Chinese, shown to the user)."""


@dataclass(frozen=True)
class TokenRow:
    """One token as its owner's list shows it (never the secret)."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expired: bool

    @property
    def active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and not self.expired


@dataclass(frozen=True)
class TokenCheck:
    """What a presented token resolved to: the account, or why it is refused (and whose it was, for the audit)."""

    user: UserRecord | None
    refusal: Refusal | None = None
    token_id: int | None = None
    username: str | None = None


def token_hash(token: str) -> str:
    """Return what ``api_tokens.token_hash`` stores for ``token`` (hex SHA-256 of the whole string)."""
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    """Tell whether ``value`` has the shape of a SafeGrid token (cheap check before any database read)."""
    return (value.startswith(TOKEN_PREFIX) and 40 <= len(value) <= 100
            and all(c.isascii() and (c.isalnum() or c in "-_") for c in value[len(TOKEN_PREFIX):]))


def create_token(conn: Connection, *, user_id: int, name: str, days: int) -> tuple[int, str]:
    """Create a token for ``user_id`` valid ``days`` days; return its id and the secret (shown once, never stored)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise TokenError(f"令牌名称应为 1-{MAX_NAME_LENGTH} 个字符，例如“QGIS 办公电脑”")
    if not 1 <= days <= MAX_DAYS:
        raise TokenError(f"有效期应为 1-{MAX_DAYS} 天")
    active = conn.execute(text(
        'SELECT count(*) FROM "api_tokens" WHERE "user_id" = :u AND "revoked_at" IS NULL AND "expires_at" > now()'
    ), {"u": user_id}).scalar()
    if int(active or 0) >= MAX_ACTIVE_TOKENS:
        raise TokenError(f"有效令牌已达 {MAX_ACTIVE_TOKENS} 个，请先吊销不再使用的令牌")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    new_id = conn.execute(text(
        'INSERT INTO "api_tokens" ("user_id", "name", "token_hash", "prefix", "expires_at") '
        "VALUES (:u, :n, :h, :p, now() + make_interval(days => :d)) RETURNING \"id\""
    ), {"u": user_id, "n": name, "h": token_hash(secret), "p": secret[:PREFIX_LENGTH], "d": days}).scalar_one()
    return int(new_id), secret


def list_tokens(conn: Connection, *, user_id: int) -> list[TokenRow]:
    """Return the tokens of ``user_id``, newest first."""
    rows = conn.execute(text(
        'SELECT "id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at", '
        '"expires_at" <= now() AS expired FROM "api_tokens" WHERE "user_id" = :u ORDER BY "created_at" DESC, "id" DESC'
    ), {"u": user_id}).all()
    return [TokenRow(*r) for r in rows]


def revoke_token(conn: Connection, *, user_id: int, token_id: int) -> TokenRow | None:
    """Revoke token ``token_id`` if it belongs to ``user_id`` and is not revoked yet; return it (None otherwise)."""
    row = conn.execute(text(
        'UPDATE "api_tokens" SET "revoked_at" = now() WHERE "id" = :id AND "user_id" = :u AND "revoked_at" IS NULL '
        'RETURNING "id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at", '
        '"expires_at" <= now()'
    ), {"id": token_id, "u": user_id}).one_or_none()
    return TokenRow(*row) if row else None


def resolve_token(conn: Connection, *, token: str) -> TokenCheck:
    """Return the account a presented token stands for, or why it is refused; note its use (at most once a minute)."""
    if not looks_like_token(token):
        return TokenCheck(user=None, refusal="unknown")
    row = conn.execute(text(
        'SELECT t."id", t."user_id", t."revoked_at" IS NOT NULL, t."expires_at" <= now(), u."username", '
        't."last_used_at" IS NULL OR t."last_used_at" < now() - make_interval(secs => :res) '
        'FROM "api_tokens" t JOIN "users" u ON u."id" = t."user_id" WHERE t."token_hash" = :h'
    ), {"h": token_hash(token), "res": LAST_USED_RESOLUTION.total_seconds()}).one_or_none()
    if row is None:
        return TokenCheck(user=None, refusal="unknown")
    token_id, user_id, revoked, expired, username, stale = row
    if revoked:
        return TokenCheck(user=None, refusal="revoked", token_id=token_id, username=username)
    if expired:
        return TokenCheck(user=None, refusal="expired", token_id=token_id, username=username)
    user = get_user_by_id(conn, user_id=user_id)
    if user is None or not user.active:
        return TokenCheck(user=None, refusal="disabled", token_id=token_id, username=username)
    if stale:
        conn.execute(text('UPDATE "api_tokens" SET "last_used_at" = now() WHERE "id" = :id'), {"id": token_id})
    return TokenCheck(user=user, token_id=token_id, username=username)
