"""HTTP responses, with Starlette's names and signatures; each is an ASGI app.

`Response(content, status_code=200, headers=None, media_type=None)` and its
subclasses render their body once, at construction. `StreamingResponse` and
`FileResponse` send theirs in chunks, never holding it whole in memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping
from email.utils import formatdate
from mimetypes import guess_type
from typing import Any, Literal
from urllib.parse import quote

from ..types import Receive, Scope, Send
from .datastructures import MutableHeaders

__all__ = [
    "Response",
    "PlainTextResponse",
    "HTMLResponse",
    "JSONResponse",
    "RedirectResponse",
    "StreamingResponse",
    "FileResponse",
]

# Statuses that never carry a body, so no Content-Length either (RFC 9110 8.6).
_NO_BODY = frozenset((204, 304))


# Header pairs every response repeats, built once: Content-Type by (media type,
# charset), Content-Length by length (the small ones). Both bounded.
_CONTENT_TYPES: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_CONTENT_LENGTHS: dict[int, tuple[bytes, bytes]] = {}


def _content_type(media_type: str, charset: str) -> tuple[bytes, bytes]:
    """The Content-Type header for `media_type` (text types say their charset), built once per pair."""
    header = _CONTENT_TYPES.get((media_type, charset))
    if header is None:
        value = media_type
        if value.startswith("text/") and "charset=" not in value.lower():
            value += "; charset=" + charset
        header = (b"content-type", value.encode("latin-1"))
        if len(_CONTENT_TYPES) < 256:  # media types come from code, but keep it bounded anyway
            _CONTENT_TYPES[(media_type, charset)] = header
    return header


def _content_length(length: int) -> tuple[bytes, bytes]:
    """The Content-Length header for `length` (formatting bytes costs more than a dict look-up)."""
    header = _CONTENT_LENGTHS.get(length)
    if header is None:
        header = (b"content-length", b"%d" % length)
        if length < 16384 and len(_CONTENT_LENGTHS) < 4096:
            _CONTENT_LENGTHS[length] = header
    return header


class Response:
    """A response whose body is known up front (`bytes`, `str` or None)."""

    media_type: str | None = None
    charset = "utf-8"

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.body = self.render(content)
        self.init_headers(headers)

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        if isinstance(content, bytes):
            return content
        if isinstance(content, (bytearray, memoryview)):
            return bytes(content)
        body: bytes = content.encode(self.charset)  # content is a str by now
        return body

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        body = getattr(self, "body", None)
        status = self.status_code
        media_type = self.media_type
        if not headers:  # the usual case, in as few steps as can be
            raw: list[tuple[bytes, bytes]] = []
            if body is not None and status >= 200 and status not in _NO_BODY:
                raw.append(_CONTENT_LENGTHS.get(len(body)) or _content_length(len(body)))
            if media_type is not None:
                raw.append(_CONTENT_TYPES.get((media_type, self.charset)) or _content_type(media_type, self.charset))
            self.raw_headers = raw
            return
        raw = []
        given = set()
        for name, value in headers.items():
            key = name.lower().encode("latin-1")
            given.add(key)
            raw.append((key, value.encode("latin-1")))
        if body is not None and status >= 200 and status not in _NO_BODY and b"content-length" not in given:
            raw.append(_content_length(len(body)))
        if media_type is not None and b"content-type" not in given:
            raw.append(_content_type(media_type, self.charset))
        self.raw_headers = raw

    @property
    def headers(self) -> MutableHeaders:
        """The headers, editable in place until the response is sent."""
        return MutableHeaders(self.raw_headers)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = "lax",
    ) -> None:
        """Add a Set-Cookie header (RFC 6265 4.1)."""
        parts = [f"{key}={value}"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if path:
            parts.append(f"Path={path}")
        if domain:
            parts.append(f"Domain={domain}")
        if secure:
            parts.append("Secure")
        if httponly:
            parts.append("HttpOnly")
        if samesite:
            parts.append(f"SameSite={samesite.capitalize()}")
        self.raw_headers.append((b"set-cookie", "; ".join(parts).encode("latin-1")))

    def delete_cookie(self, key: str, path: str = "/", domain: str | None = None) -> None:
        """Tell the client to drop cookie `key` (of that path and domain): a Set-Cookie with Max-Age=0."""
        self.set_cookie(key, max_age=0, path=path, domain=domain)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        # HEAD: same headers, Content-Length included, and no body (RFC 9110 9.3.2).
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else self.body})


class PlainTextResponse(Response):
    """`content` (`str` or `bytes`) sent as ``text/plain; charset=utf-8``."""

    media_type = "text/plain"


class HTMLResponse(Response):
    """`content` (`str` or `bytes`) sent as ``text/html; charset=utf-8``."""

    media_type = "text/html"


class JSONResponse(Response):
    """`content` serialized as compact UTF-8 JSON (NaN and Infinity refused: not JSON)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


class RedirectResponse(Response):
    """Redirect to `url` (307 keeps the method and body, as Starlette)."""

    def __init__(self, url: str, status_code: int = 307, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(b"", status_code=status_code, headers=headers)
        self.raw_headers.append((b"location", quote(str(url), safe=":/%#?=@[]!$&'()*+,;").encode("latin-1")))


async def _iterate_in_thread(iterator: Iterator[Any]) -> AsyncIterable[Any]:
    """A blocking iterator, each step in a worker thread so the loop keeps running."""
    loop = asyncio.get_running_loop()
    done = object()
    while True:
        item = await loop.run_in_executor(None, next, iterator, done)
        if item is done:
            return
        yield item


class StreamingResponse(Response):
    """A body produced by an (async or blocking) iterator of `bytes` or `str`.

    Blocking iterators run step by step in a thread. Streaming stops when
    the client disconnects, so an endless generator does not outlive it.
    """

    def __init__(
        self,
        content: AsyncIterable[Any] | Iterable[Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        if isinstance(content, AsyncIterable):
            self.body_iterator: AsyncIterable[Any] = content
        else:
            self.body_iterator = _iterate_in_thread(iter(content))
        self.init_headers(headers)

    async def _stream(self, scope: Scope, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if scope.get("method") != "HEAD":
            charset = self.charset
            async for chunk in self.body_iterator:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    chunk = chunk.encode(charset)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def until_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        streamer = asyncio.ensure_future(self._stream(scope, send))
        watcher = asyncio.ensure_future(until_disconnect())
        try:
            await asyncio.wait((streamer, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            if not streamer.done():
                streamer.cancel()
            await asyncio.gather(watcher, streamer, return_exceptions=True)
        error = streamer.exception() if streamer.done() and not streamer.cancelled() else None
        if error is not None:
            raise error


def parse_range(header: str, size: int) -> tuple[int, int] | Literal[False] | None:
    """A single ``bytes=`` range (RFC 9110 14.1.2) as (start, end inclusive).

    None when the header is to be ignored (malformed, other unit, several
    ranges: the whole file is then sent with 200), False when unsatisfiable (416).
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not first:  # a suffix: the last N bytes
        if not last.isdigit():
            return None
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(size - length, 0), size - 1
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: RFC 9110 14.1.1 says to ignore it
    if start >= size:
        return False
    return start, min(end, size - 1)


class FileResponse(Response):
    """A file sent in chunks of `chunk_size`, with Last-Modified, ETag and Range.

    A single `Range: bytes=...` is answered with 206 and Content-Range, an
    unsatisfiable one with 416; `If-Range` is honoured. The file is read in a
    worker thread, one chunk at a time, so memory stays flat for any size.
    """

    chunk_size = 64 * 1024

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        filename: str | None = None,
        stat_result: os.stat_result | None = None,
        method: str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.status_code = status_code
        self.filename = filename
        self.send_header_only = method is not None and method.upper() == "HEAD"
        if media_type is None:
            media_type = guess_type(filename or self.path)[0] or "application/octet-stream"
        self.media_type = media_type
        self.init_headers(headers)
        if filename is not None:
            self.raw_headers.append(
                (b"content-disposition", f"attachment; filename*=utf-8''{quote(filename)}".encode("latin-1"))
            )
        self.stat_result = stat_result
        if stat_result is not None:
            self._set_stat_headers(stat_result)

    def _set_stat_headers(self, st: os.stat_result) -> None:
        self.raw_headers.append((b"content-length", str(st.st_size).encode("latin-1")))
        self.raw_headers.append((b"last-modified", formatdate(st.st_mtime, usegmt=True).encode("latin-1")))
        self.raw_headers.append((b"etag", etag_for(st).encode("latin-1")))
        self.raw_headers.append((b"accept-ranges", b"bytes"))

    def _range_for(self, scope: Scope, size: int) -> tuple[int, int] | Literal[False] | None:
        if self.status_code != 200:
            return None
        range_header = if_range = None
        for name, value in scope.get("headers", ()):
            if name == b"range":
                range_header = value.decode("latin-1")
            elif name == b"if-range":
                if_range = value.decode("latin-1").strip()
        if range_header is None:
            return None
        if if_range is not None:
            # RFC 9110 13.1.5: serve the range only if the validator still matches.
            valid = (self.headers.get("etag"), self.headers.get("last-modified"))
            if if_range not in valid:
                return None
        return parse_range(range_header, size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.stat_result is None:
            try:
                st = await asyncio.get_running_loop().run_in_executor(None, os.stat, self.path)
            except FileNotFoundError:
                raise RuntimeError(f"file at path {self.path} does not exist") from None
            if not stat.S_ISREG(st.st_mode):
                raise RuntimeError(f"file at path {self.path} is not a file")
            self.stat_result = st
            self._set_stat_headers(st)
        size = self.stat_result.st_size
        start, end = 0, size - 1
        status = self.status_code
        headers = self.raw_headers
        chosen = self._range_for(scope, size)
        if chosen is False:
            headers = [(n, v) for n, v in headers if n != b"content-length"]
            headers.append((b"content-range", f"bytes */{size}".encode("latin-1")))
            headers.append((b"content-length", b"0"))
            await send({"type": "http.response.start", "status": 416, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if chosen is not None:
            start, end = chosen
            status = 206
            headers = [(n, v) for n, v in headers if n != b"content-length"]
            headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode("latin-1")))
            headers.append((b"content-length", str(end - start + 1).encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if self.send_header_only or scope.get("method") == "HEAD" or end < start:
            await send({"type": "http.response.body", "body": b""})
            return
        loop = asyncio.get_running_loop()
        chunk_size = self.chunk_size
        remaining = end - start + 1
        with open(self.path, "rb") as file:
            if start:
                file.seek(start)
            while remaining > 0:
                chunk = await loop.run_in_executor(None, file.read, min(chunk_size, remaining))
                if not chunk:  # the file shrank under us: end the body short
                    break
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
        if remaining > 0:
            await send({"type": "http.response.body", "body": b""})


def etag_for(st: os.stat_result) -> str:
    """A strong validator from modification time and size (cheap, no hashing of content)."""
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
