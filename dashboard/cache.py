"""Server-side cache of the GeoJSON / heatmap responses: compressed body and ETag per request.

Bodies are compressed once, with zstd (level 3) for clients that prefer or accept it — Chromium sends
``zstd`` over HTTPS (docker-compose's secure cookie requires HTTPS) and to localhost, only ``gzip,
deflate`` over plain HTTP to another host — else gzip (level 5), else sent plain: zstd costs a quarter
of gzip's CPU for the same bytes on GeoJSON (0.3 vs 1.4 ms for a 218 KB collection, both ~25 KB).
Each coding a client asks for is its own entry (a plain body is kept plain: rare clients, no
decompression per request).

Key = route, normalised parameters, the content coding, the caller's scope path and the data version
read with the account on this request (database date + the ``data_versions`` write counters, which a statement
trigger bumps in every writing transaction: a load or refresh invalidates as soon as it commits).
The account, its capability and its scope are still checked on every request before the cache is
asked; a response is stored only after its query succeeded for that scope, and the scope path is
part of the key, so a scope never reads another scope's entry.

:class:`ResponseCache` is the small interface the routes use; :class:`MemoryCache` is the in-process
LRU with a byte cap (settings ``SAFEGRID_CACHE_*``), :class:`RedisCache` the cache shared by every app
instance when ``SAFEGRID_REDIS_URL`` is set (``GET``/``SET EX`` of the packed bytes under a hash of the
key; Redis's own ``maxmemory`` + ``allkeys-lru`` bound it). Not Flask-Caching: its Redis backend
pickles values (a loads of whatever Redis returns) and adds nothing these keys need — the key, the
compression and the byte cap are ours either way; see docs/stack.md.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import urlencode

import orjson
from flask import Flask, Response, current_app, request

from dashboard.readdb import wrote_recently
from dashboard.scope import current_account
from dashboard.settings import DashboardSettings
from dashboard.shared import KEY_PREFIX, Shared, shared
from domain import clock

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

COMPRESS_MIN_BYTES = 500  # as flask-compress's COMPRESS_MIN_SIZE: a body it would compress, we do
GZIP_LEVEL = 5  # level 9 costs ~3x the CPU for ~3% fewer bytes on GeoJSON
ZSTD_LEVEL = 3  # as flask-compress uses for the Dash callbacks; level 6 is 4x slower for ~10% fewer bytes
GEOJSON_MIME = "application/geo+json; charset=utf-8"
JSON_MIME = "application/json; charset=utf-8"
_EXTENSION = "safegrid_cache"
T = TypeVar("T")


def chosen_encoding() -> str | None:
    """Return the content coding for this response: zstd when accepted, else gzip when accepted, else None."""
    return request.accept_encodings.best_match(["zstd", "gzip"])  # q-values count; ties go to zstd


@dataclass(frozen=True)
class CachedBody:
    """A response body ready to send: bytes in ``encoding`` (None: plain) and its strong ETag."""

    data: bytes
    etag: str
    encoding: str | None

    @classmethod
    def from_text(cls, body: str, encoding: str | None) -> CachedBody:
        """Encode, hash and (from ``COMPRESS_MIN_BYTES`` on) compress ``body`` once.

        The ETag is the hash of the text, with the coding appended when compressed (a strong validator
        names one representation: the zstd bytes are not the gzip bytes).
        """
        raw = body.encode("utf-8")
        etag = hashlib.blake2b(raw, digest_size=16).hexdigest()
        if encoding is None or len(raw) < COMPRESS_MIN_BYTES:
            return cls(raw, etag, None)
        data = zstd.compress(raw, ZSTD_LEVEL) if encoding == "zstd" else gzip.compress(raw, GZIP_LEVEL, mtime=0)
        return cls(data, f"{etag}-{encoding}", encoding)


class ResponseCache(Protocol):
    """What the routes need from a cache; a shared implementation can replace :class:`MemoryCache`."""

    def get(self, key: str) -> CachedBody | None:
        """Return the entry stored under ``key``, if any."""

    def put(self, key: str, value: CachedBody) -> None:
        """Store ``value`` under ``key`` (it may be dropped at once, e.g. when too large)."""

    def clear(self) -> None:
        """Drop every entry."""


class MemoryCache:
    """Thread-safe in-process LRU bounded by the total bytes of its bodies."""

    def __init__(self, *, max_bytes: int, max_entry_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._entries: OrderedDict[str, CachedBody] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> CachedBody | None:
        """Return the entry under ``key`` and mark it recently used."""
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: str, value: CachedBody) -> None:
        """Store ``value``; evict the least recently used entries beyond the byte cap."""
        size = len(value.data) + len(key)
        if size > self.max_entry_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.data) + len(key)
            self._entries[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes:
                k, v = self._entries.popitem(last=False)
                self._bytes -= len(v.data) + len(k)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        """Return the number of entries."""
        return len(self._entries)


class NoCache:
    """The cache when ``SAFEGRID_CACHE_ENABLED=false``: stores nothing."""

    def get(self, key: str) -> CachedBody | None:
        """Never a hit."""
        return None

    def put(self, key: str, value: CachedBody) -> None:
        """Drop ``value``."""

    def clear(self) -> None:
        """Nothing to drop."""


class RedisCache:
    """The response cache in Redis, shared by every instance; a Redis failure is a miss (:mod:`dashboard.shared`)."""

    def __init__(self, store: Shared, *, max_entry_bytes: int, ttl_s: int) -> None:
        self.store = store
        self.max_entry_bytes = max_entry_bytes
        self.ttl_s = ttl_s

    @staticmethod
    def _key(key: str) -> str:
        return f"{KEY_PREFIX}cache:{hashlib.blake2b(key.encode('utf-8'), digest_size=20).hexdigest()}"

    def get(self, key: str) -> CachedBody | None:
        """Return the entry under ``key``, or None (also when Redis is down)."""
        packed = self.store.call(lambda r: r.get(self._key(key)), None)
        parts = packed.split(b"\0", 2) if isinstance(packed, bytes) else []
        if len(parts) != 3:  # nothing there (or not ours): a miss
            return None
        encoding, etag, data = parts
        return CachedBody(data, etag.decode(), encoding.decode() or None)

    def put(self, key: str, value: CachedBody) -> None:
        """Store ``value`` for ``cache_ttl_s`` unless it is larger than ``cache_max_entry_bytes``."""
        if len(value.data) > self.max_entry_bytes:
            return
        packed = b"\0".join([(value.encoding or "").encode(), value.etag.encode(), value.data])
        self.store.call(lambda r: r.set(self._key(key), packed, ex=self.ttl_s), None)

    def clear(self) -> None:
        """Drop SafeGrid's cache entries (only keys under the cache prefix)."""

        def drop(r: Any) -> None:
            for batch in _batches(r.scan_iter(match=f"{KEY_PREFIX}cache:*", count=500), 500):
                r.unlink(*batch)

        self.store.call(drop, None)


def _batches(items: Any, size: int) -> Any:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def response_cache() -> ResponseCache:
    """Return the app's cache (:class:`NoCache` when :func:`init_app` was not called)."""
    cache: ResponseCache | None = current_app.extensions.get(_EXTENSION)
    return NoCache() if cache is None else cache


def cache_key(route: str, params: Mapping[str, object], tables: tuple[str, ...] = ()) -> str:
    """Key of a request: route, sorted parameters, today, the caller's scope path and data version.

    With ``tables``, only their write counters (:meth:`~dashboard.scope.Account.version_of`): for a value
    read from those tables alone, which writes to other tables leave valid.
    """
    return _key(route, params, current_account().version_of(tables))


def _key(route: str, params: Mapping[str, object], version: str) -> str:
    """Join the key: route, the caller's scope path, ``version``, today, sorted parameters."""
    query = urlencode(sorted((k, str(v)) for k, v in params.items()))
    return f"{route}|{current_account().scope}|{version}|{clock.today().isoformat()}|{query}"


def send(body: CachedBody, *, mimetype: str = GEOJSON_MIME) -> Response:
    """Send ``body`` as stored (it was compressed for what this request accepts); 304 when ``If-None-Match`` matches."""
    headers = {"Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if request.if_none_match.contains(body.etag):
        response = Response(status=304, headers=headers)
    else:
        if body.encoding:
            headers["Content-Encoding"] = body.encoding
        response = Response(body.data, status=200, headers=headers, content_type=mimetype)
    response.set_etag(body.etag)
    return response


def cached_text(route: str, params: Mapping[str, object], build: Callable[[], str | None]) -> CachedBody | None:
    """Return the cached body for this request, or build, pack and store it; None when ``build`` finds nothing.

    Call only after the account's capability has been checked; ``build`` must apply the caller's scope.
    The content coding is part of the key: each coding a client accepts gets its own entry.
    """
    cache = response_cache()
    encoding = chosen_encoding()
    key = cache_key(route, {**params, "_coding": encoding or "identity"})
    hit = cache.get(key)
    if hit is not None:
        return hit
    text = build()
    if text is None:
        return None
    body = CachedBody.from_text(text, encoding)
    cache.put(key, body)
    return body


def _pack(value: Any) -> CachedBody:
    # level 1: ~0.05 ms, and a 70 KB city panel keeps ~6 KB of the cache's byte budget
    return CachedBody(zstd.compress(orjson.dumps(value), 1), etag="", encoding="zstd")


def _unpack(body: CachedBody) -> Any:
    return orjson.loads(zstd.decompress(body.data))


def cached_value(route: str, params: Mapping[str, object], build: Callable[[], T],
                 tables: tuple[str, ...] = (), *, max_stale_s: float = 0.0) -> T:
    """Return the cached JSON-able value for this request, or build and store it (zstd level 1 of orjson).

    For values a callback returns (not sent as a body of their own). Same key and rules as
    :func:`cached_text`: call after the capability check; ``build`` applies the caller's scope and may
    raise (nothing is stored then). ``tables``: every table ``build`` reads, when that is a few of them
    (:func:`cache_key`).

    ``max_stale_s`` > 0 (analytics that scan a scope for seconds): when the data version moved on, a value built
    for the same scope, day and parameters less than ``max_stale_s`` ago is returned instead of building again —
    unless this session wrote within that time (it always sees its own change). The value should say when it
    was built.
    """
    cache = response_cache()
    key = cache_key(route, params, tables)
    hit = cache.get(key)
    if hit is not None:
        value: T = _unpack(hit)
        return value
    lasting = _key(route, params, "lasting") if max_stale_s > 0 else None
    if lasting is not None and not wrote_recently(max_stale_s):
        old = cache.get(lasting)
        if old is not None:
            built_at, kept = _unpack(old)
            if 0 <= time.time() - built_at < max_stale_s:
                return cast(T, kept)
    started = time.time()  # its age counts from before its reads: a write committed meanwhile may be missing
    value = build()
    cache.put(key, _pack(value))
    if lasting is not None:
        cache.put(lasting, _pack([started, value]))
    return value


def init_app(server: Flask, settings: DashboardSettings) -> None:
    """Give the app its response cache (per app, so test apps do not share entries): Redis when configured."""
    store = shared(server)
    cache: ResponseCache
    if not settings.cache_enabled:
        cache = NoCache()
    elif store is not None:
        cache = RedisCache(store, max_entry_bytes=settings.cache_max_entry_bytes, ttl_s=settings.cache_ttl_s)
    else:
        cache = MemoryCache(max_bytes=settings.cache_max_bytes, max_entry_bytes=settings.cache_max_entry_bytes)
    server.extensions[_EXTENSION] = cache
