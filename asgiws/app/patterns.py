"""Route path patterns, compiled once with the `parse` library.

A pattern is a path with named fields: ``/users/{id:d}``, ``/files/{rest:path}``.
Any `parse` format spec works, plus Starlette's convertor names ``int``,
``float``, ``str``, ``path`` and ``uuid``. A field without a spec matches one
path segment: it never matches a slash (only ``{x:path}`` does). More types
can be added with `register_type`.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Callable

import parse

__all__ = ["PathPattern", "register_type"]


@parse.with_pattern(r"[^/]+")
def _segment(text: str) -> str:
    return text


@parse.with_pattern(r"[0-9]+")
def _int(text: str) -> int:
    return int(text)


@parse.with_pattern(r"[0-9]+(?:\.[0-9]+)?")
def _float(text: str) -> float:
    return float(text)


@parse.with_pattern(r".*")
def _path(text: str) -> str:
    return text


@parse.with_pattern(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
def _uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


_TYPES: dict[str, Callable[[str], Any]] = {
    "segment": _segment,
    "str": _segment,
    "int": _int,
    "float": _float,
    "path": _path,
    "uuid": _uuid,
}

# A field: "{name}" or "{name:spec}"; "{{" and "}}" are parse's literal braces.
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}:]*)(?::([^{}]*))?\}")


def register_type(name: str, converter: Callable[[str], Any]) -> None:
    """Make ``{field:name}`` available to patterns compiled from now on.

    `converter` turns the matched text into the value; decorate it with
    ``parse.with_pattern(regex)`` to say what it matches (without it, the
    field matches one path segment).
    """
    if not hasattr(converter, "pattern"):
        converter = parse.with_pattern(r"[^/]+")(converter)
    _TYPES[name] = converter


class PathPattern:
    """One route path compiled once: a static string or a `parse` parser.

    `prefix` is the literal text before the first field and `segment` the
    first path segment when that is all literal (None otherwise): the router
    indexes routes by it, so most requests run `parse` on few candidates.
    """

    __slots__ = ("path", "static", "prefix", "segment", "parser", "names")

    def __init__(self, path: str, extra_types: dict[str, Callable[[str], Any]] | None = None) -> None:
        if not path.startswith("/"):
            raise ValueError(f"route path must start with '/': {path!r}")
        self.path = path
        names: list[str] = []

        def rewrite(match: re.Match[str]) -> str:
            text = match.group(0)
            if text in ("{{", "}}"):
                return text
            name, spec = match.group(1), match.group(2)
            if not name or not name.isidentifier():
                raise ValueError(f"route fields must be named identifiers: {text!r} in {path!r}")
            names.append(name)
            return f"{{{name}:segment}}" if not spec else text

        expression = _FIELD.sub(rewrite, path)
        self.names = tuple(names)
        if not names:
            self.static = path.replace("{{", "{").replace("}}", "}")
            self.prefix = self.static
            self.parser = None
        else:
            self.static = None
            first = _FIELD.search(path)
            assert first is not None
            self.prefix = path[: first.start()]
            types = _TYPES if not extra_types else {**_TYPES, **extra_types}
            self.parser = parse.compile(expression, extra_types=types, case_sensitive=True)
        literal = self.prefix[1:]
        self.segment = literal.partition("/")[0] if "/" in literal else (literal if self.static is not None else None)

    def match(self, path: str) -> dict[str, Any] | None:
        """The typed fields when `path` matches the whole pattern, else None."""
        if self.static is not None:
            return {} if path == self.static else None
        if not path.startswith(self.prefix):
            return None
        result = self.parser.parse(path, evaluate_result=False)  # type: ignore[union-attr]
        if result is None:
            return None
        return result.evaluate_result().named

    def __repr__(self) -> str:
        return f"PathPattern({self.path!r})"
