"""Errors a framework handler raises or meets, each carrying the status it maps to."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

__all__ = ["HTTPException", "ClientDisconnect"]


class HTTPException(Exception):
    """Raise in an HTTP handler to answer with `status_code` (and `detail` as the body).

    `detail` defaults to the status phrase; it is the only text sent to the
    client, so never put internal details in it.
    """

    def __init__(self, status_code: int, detail: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        if detail is None:
            detail = HTTPStatus(status_code).phrase
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers) if headers else None


class ClientDisconnect(OSError):
    """The client went away while its request body was being read."""
