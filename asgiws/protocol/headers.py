"""`Headers`: case-insensitive, multi-valued HTTP header fields over ``(bytes, bytes)`` pairs.

The one headers type of asgiws: the framework's requests and WebSockets
(`asgiws.app.datastructures` re-exports it, and builds `MutableHeaders` on
it) and the client's handshake headers. It decodes lazily: building one
costs nothing until a field is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

__all__ = ["Headers"]


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued HTTP headers, `str` to `str`.

    ``headers[name]`` is the first value of `name`; ``headers.get_all(name)``
    every value in the order received. Built over ASGI's list of
    ``(bytes, bytes)`` pairs (names already lowercase, values latin-1).
    """

    __slots__ = ("raw", "_index")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]] | Mapping[str, str] | None = None) -> None:
        if raw is None:
            raw = []
        elif isinstance(raw, Mapping):
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in raw.items()]
        elif not isinstance(raw, list):
            raw = list(raw)
        self.raw: list[tuple[bytes, bytes]] = raw
        self._index: dict[str, list[str]] | None = None

    def _build(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for name, value in self.raw:
            key = name.decode("latin-1").lower()
            values = index.get(key)
            if values is None:
                index[key] = [value.decode("latin-1")]
            else:
                values.append(value.decode("latin-1"))
        self._index = index
        return index

    def __getitem__(self, name: str) -> str:
        index = self._index if self._index is not None else self._build()
        return index[name.lower()][0]

    def get_all(self, name: str) -> list[str]:
        """Every value of header `name`, in order; [] when absent."""
        index = self._index if self._index is not None else self._build()
        return list(index.get(name.lower(), ()))

    getlist = get_all  # Starlette's name

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        index = self._index if self._index is not None else self._build()
        return name.lower() in index

    def __iter__(self) -> Iterator[str]:
        index = self._index if self._index is not None else self._build()
        return iter(index)

    def __len__(self) -> int:
        index = self._index if self._index is not None else self._build()
        return len(index)

    def raw_items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair, repeated names included, in order."""
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self.raw]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.raw_items()!r})"
