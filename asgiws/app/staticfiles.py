"""`StaticFiles`: an ASGI app serving the files under one directory, safely.

Only GET and HEAD (405 otherwise). A request path that tries to leave the
directory -- a ``..`` or ``.`` segment, a backslash, a NUL, a percent-encoded
slash or backslash in the raw path, or a symlink resolving outside the root --
is answered 404, the same as a missing file, so probing learns nothing.
Directories serve their ``index.html`` (``/dir`` redirects to ``/dir/``).
Conditional requests get 304 (If-None-Match, then If-Modified-Since, RFC 9110
13.2.2); ranges are handled by `FileResponse`.
"""

from __future__ import annotations

import os
import stat
from email.utils import formatdate, parsedate_to_datetime

from ..types import Receive, Scope, Send
from .responses import FileResponse, PlainTextResponse, RedirectResponse, Response, etag_for
from .routing import route_path

__all__ = ["StaticFiles"]

_NOT_FOUND = PlainTextResponse("Not Found", status_code=404)
_METHOD_NOT_ALLOWED = PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"})
# Percent-encoded "/", "\" and NUL: decoded by the server into `path`, they would
# let one segment smuggle a separator past the checks below.
_ENCODED_SEPARATORS = (b"%2f", b"%5c", b"%00")


class StaticFiles:
    """Serve `directory` (mount it: ``app.static("/static", "public")``)."""

    def __init__(
        self, directory: str | os.PathLike[str], html_index: str = "index.html", check_dir: bool = True
    ) -> None:
        self.directory = os.path.realpath(os.fspath(directory))
        if check_dir and not os.path.isdir(self.directory):
            raise RuntimeError(f"static directory {directory!r} does not exist")
        self.html_index = html_index

    def resolve(self, relative: str) -> str | None:
        """The real path of `relative` under the root, or None if it would leave the root."""
        if "\\" in relative or "\x00" in relative:
            return None
        parts = [part for part in relative.split("/") if part]
        if any(part in ("..", ".") for part in parts):
            return None
        full = os.path.realpath(os.path.join(self.directory, *parts))
        root = self.directory
        if full != root and not full.startswith(root + os.sep if root != os.sep else root):
            return None  # a symlink pointing out of the root
        return full

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("StaticFiles serves HTTP only")
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _METHOD_NOT_ALLOWED(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or b""
        lowered = raw_path.lower()
        if any(marker in lowered for marker in _ENCODED_SEPARATORS):
            await _NOT_FOUND(scope, receive, send)
            return
        relative = route_path(scope)
        full = self.resolve(relative)
        response = None if full is None else self.response_for(scope, relative, full)
        await (response or _NOT_FOUND)(scope, receive, send)

    def response_for(self, scope: Scope, relative: str, full: str) -> Response | None:
        try:
            st = os.stat(full)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        if stat.S_ISDIR(st.st_mode):
            if not relative.endswith("/"):
                # Relative links in index.html need the trailing slash.
                query = scope.get("query_string", b"").decode("latin-1")
                target = scope.get("root_path", "") + relative + "/"
                return RedirectResponse(target + ("?" + query if query else ""))
            full = os.path.join(full, self.html_index)
            try:
                st = os.stat(full)
            except (FileNotFoundError, NotADirectoryError, PermissionError):
                return None
        if not stat.S_ISREG(st.st_mode):
            return None
        if self.not_modified(scope, st):
            return Response(
                status_code=304,
                headers={"etag": etag_for(st), "last-modified": _http_date(st.st_mtime)},
            )
        return FileResponse(full, stat_result=st, method=scope["method"])

    @staticmethod
    def not_modified(scope: Scope, st: os.stat_result) -> bool:
        if_none_match = if_modified_since = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"if-modified-since":
                if_modified_since = value.decode("latin-1")
        if if_none_match is not None:
            # Weak comparison (RFC 9110 8.8.3.2): "W/" prefixes are ignored.
            etag = etag_for(st)
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or etag in tags
        if if_modified_since is not None:
            try:
                since = parsedate_to_datetime(if_modified_since).timestamp()
            except (TypeError, ValueError, IndexError):
                return False
            return int(st.st_mtime) <= since
        return False


def _http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)
