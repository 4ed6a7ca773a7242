"""Read-only views over the raw data of an ASGI scope: headers, query strings, URLs.

`Headers` lives in the protocol core (the client uses it too) and is
re-exported here; `MutableHeaders` builds on it for responses.

They decode lazily: building one costs nothing until a field is asked for, so
a handler that never looks at its headers never pays for decoding them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

from ..protocol.headers import Headers

__all__ = ["Headers", "MutableHeaders", "MultiDict", "QueryParams", "FormData", "URL"]


class MutableHeaders(Headers):
    """Response headers: the same view, editable, writing through to `raw`."""

    __slots__ = ()

    def __setitem__(self, name: str, value: str) -> None:
        """Set `name` to the single `value`, dropping earlier values."""
        key = name.lower().encode("latin-1")
        self.raw[:] = [item for item in self.raw if item[0] != key]
        self.raw.append((key, value.encode("latin-1")))
        self._index = None

    def __delitem__(self, name: str) -> None:
        key = name.lower().encode("latin-1")
        kept = [item for item in self.raw if item[0] != key]
        if len(kept) == len(self.raw):
            raise KeyError(name)
        self.raw[:] = kept
        self._index = None

    def append(self, name: str, value: str) -> None:
        """Add a value for `name`, keeping the existing ones (e.g. Set-Cookie)."""
        self.raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        self._index = None

    def setdefault(self, name: str, value: str) -> str:
        if name in self:
            return self[name]
        self.append(name, value)
        return value


class MultiDict(Mapping[str, str]):
    """An immutable mapping where a key may repeat: ``d[k]`` is the last value, ``d.getlist(k)`` all."""

    __slots__ = ("_items", "_dict")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = list(items)
        self._dict = dict(self._items)

    def __getitem__(self, key: str) -> str:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def getlist(self, key: str) -> list[str]:
        """Every value of `key`, in order; [] when absent."""
        return [v for k, v in self._items if k == key]

    get_all = getlist

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return sorted(self._items) == sorted(other._items)
        return dict(self) == other

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


class QueryParams(MultiDict):
    """The query string, decoded (`+` is a space, `%XX` escapes, blank values kept)."""

    __slots__ = ()

    def __init__(self, query: bytes | str | Iterable[tuple[str, str]] = b"") -> None:
        if isinstance(query, bytes):
            query = query.decode("latin-1")
        if isinstance(query, str):
            super().__init__(parse_qsl(query, keep_blank_values=True))
        else:
            super().__init__(query)


class FormData(MultiDict):
    """Fields of an application/x-www-form-urlencoded body."""

    __slots__ = ()


class URL:
    """The URL a request was made to, rebuilt from the scope (scheme, Host, path, query)."""

    __slots__ = ("scheme", "netloc", "path", "query")

    def __init__(self, scheme: str, netloc: str, path: str, query: str = "") -> None:
        self.scheme = scheme
        self.netloc = netloc
        self.path = path
        self.query = query

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> URL:
        scheme = scope.get("scheme", "http")
        host = None
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = value.decode("latin-1")
                break
        if host is None:
            server = scope.get("server")
            if server is None:
                host = ""
            else:
                default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
                host = server[0] if server[1] == default else f"{server[0]}:{server[1]}"
        return cls(scheme, host, scope.get("path", "/"), scope.get("query_string", b"").decode("latin-1"))

    @property
    def hostname(self) -> str:
        host = self.netloc
        if host.startswith("["):
            return host[1 : host.find("]")]
        return host.rpartition(":")[0] if ":" in host else host

    def __str__(self) -> str:
        url = f"{self.scheme}://{self.netloc}{self.path}"
        return f"{url}?{self.query}" if self.query else url

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __repr__(self) -> str:
        return f"URL({str(self)!r})"
