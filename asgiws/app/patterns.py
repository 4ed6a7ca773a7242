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
from collections.abc import Callable
from typing import Any, Protocol, cast

import parse

__all__ = ["PathPattern", "register_type"]


# parse's stub names a converter's one parameter `string` (parse passes it
# positionally): ours follow it; the callables `register_type` takes need not.

@parse.with_pattern(r"[^/]+")
def _segment(string: str) -> str:
    return string


@parse.with_pattern(r"[0-9]+")
def _int(string: str) -> int:
    return int(string)


@parse.with_pattern(r"[0-9]+(?:\.[0-9]+)?")
def _float(string: str) -> float:
    return float(string)


@parse.with_pattern(r".*")
def _path(string: str) -> str:
    return string


@parse.with_pattern(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
def _uuid(string: str) -> uuid.UUID:
    return uuid.UUID(string)


_TYPES: dict[str, Callable[[str], Any]] = {
    "segment": _segment,
    "str": _segment,
    "int": _int,
    "float": _float,
    "path": _path,
    "uuid": _uuid,
}

# Field types that never match "/": ours, and parse's numeric and word types
# used bare (a width or fill in the spec could change that, so those don't count).
_NO_SLASH_TYPES = frozenset((None, "", "segment", "str", "int", "float", "uuid", "d", "w", "l", "f", "x", "o", "b"))

# A field: "{name}" or "{name:spec}"; "{{" and "}}" are parse's literal braces.
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}:]*)(?::([^{}]*))?\}")


def register_type(name: str, converter: Callable[[str], Any]) -> None:
    """Make ``{field:name}`` available to patterns compiled from now on.

    `converter` turns the matched text into the value; decorate it with
    ``parse.with_pattern(regex)`` to say what it matches (without it, the
    field matches one path segment).
    """
    if not hasattr(converter, "pattern"):
        converter = parse.with_pattern(r"[^/]+")(converter)  # type: ignore[type-var]  # param name: see _segment
    _TYPES[name] = converter


class PathPattern:
    """One route path compiled once: a static string or a `parse` parser.

    `prefix` is the literal text before the first field and `segment` the
    first path segment when that is all literal (None otherwise): the router
    indexes routes by it, so most requests run `parse` on few candidates.
    """

    __slots__ = ("path", "static", "prefix", "segment", "slashes", "parser", "names", "_regex", "_fields")

    static: str | None
    parser: parse.Parser | None

    def __init__(self, path: str, extra_types: dict[str, Callable[[str], Any]] | None = None) -> None:
        if not path.startswith("/"):
            raise ValueError(f"route path must start with '/': {path!r}")
        self.path = path
        names: list[str] = []
        depth_known = True

        def rewrite(match: re.Match[str]) -> str:
            nonlocal depth_known
            text = match.group(0)
            if text in ("{{", "}}"):
                return text
            name, spec = match.group(1), match.group(2)
            if not name or not name.isidentifier():
                raise ValueError(f"route fields must be named identifiers: {text!r} in {path!r}")
            names.append(name)
            if spec not in _NO_SLASH_TYPES:
                depth_known = False
            return f"{{{name}:segment}}" if not spec else text

        expression = _FIELD.sub(rewrite, path)
        #: How many "/" a matching path has (-1: any number, a field may match slashes).
        #: The router skips a pattern at once when the request's count differs.
        self.slashes = _FIELD.sub("", path).count("/") if depth_known else -1
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
            self.parser = parse.compile(
                expression, extra_types=types, case_sensitive=True  # type: ignore[arg-type]  # param name: see _segment
            )
        self._regex, self._fields = _fast_path(self.parser)
        literal = self.prefix[1:]
        self.segment = literal.partition("/")[0] if "/" in literal else (literal if self.static is not None else None)

    def match(self, path: str) -> dict[str, Any] | None:
        """The typed fields when `path` matches the whole pattern, else None."""
        if self.static is not None:
            return {} if path == self.static else None
        if not path.startswith(self.prefix):
            return None
        if self._regex is None:
            assert self.parser is not None  # only a static pattern has no parser
            result = self.parser.parse(path)
            return None if result is None else result.named
        m = self._regex.match(path)
        if m is None:
            return None
        return {
            name: m.group(group) if convert is None else convert(m.group(group), m)
            for name, group, convert in self._fields
        }

    def __repr__(self) -> str:
        return f"PathPattern({self.path!r})"


class _ParserInternals(Protocol):
    """The attributes of `parse.Parser` that `_fast_path` reads; not public, so not in parse's stub."""

    _match_re: re.Pattern[str]
    _group_to_name_map: dict[str, str]
    _type_conversions: dict[str, Callable[[str, re.Match[str]], Any]]
    _named_fields: list[str]


_Field = tuple[str, str, Callable[[str, re.Match[str]], Any] | None]


def _fast_path(parser: parse.Parser | None) -> tuple[re.Pattern[str] | None, tuple[_Field, ...]]:
    """The parser's compiled regex and per-field converters, to skip building a `parse.Result`.

    `Parser.parse` costs ~5 us per hit, mostly assembling a Result we only
    take `.named` from; matching the same regex and converting the same
    fields directly costs ~1 us. This reads attributes of `parse.Parser`
    that are not public, so if they are missing the slow, public path is
    used (tests check both give the same answer).
    """
    if parser is None:
        return None, ()
    internals = cast(_ParserInternals, parser)
    try:
        regex = internals._match_re
        fields = tuple(
            (internals._group_to_name_map[group], group, internals._type_conversions.get(group))
            for group in internals._named_fields
        )
    except AttributeError:
        return None, ()
    if len(fields) != len({name for name, _, _ in fields}):
        return None, ()
    return regex, fields
