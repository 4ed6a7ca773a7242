"""Route patterns: parse format specs, Starlette convertors, one segment per plain field."""

from __future__ import annotations

import uuid

import parse
import pytest

from asgiws.app.patterns import PathPattern, register_type


@pytest.mark.parametrize(
    "pattern, path, expected",
    [
        ("/", "/", {}),
        ("/about", "/about", {}),
        ("/about", "/about/", None),
        ("/users/{name}", "/users/ann", {"name": "ann"}),
        ("/users/{name}", "/users/ann/posts", None),  # a plain field never matches a slash
        ("/users/{name}", "/users/", None),
        ("/items/{id:d}", "/items/42", {"id": 42}),
        ("/items/{id:d}", "/items/x42", None),
        ("/items/{id:int}", "/items/7", {"id": 7}),
        ("/items/{id:int}", "/items/-7", None),
        ("/price/{x:float}", "/price/1.5", {"x": 1.5}),
        ("/price/{x:float}", "/price/3", {"x": 3.0}),
        ("/files/{rest:path}", "/files/a/b/c.txt", {"rest": "a/b/c.txt"}),
        ("/files/{rest:path}", "/files/", {"rest": ""}),
        ("/s/{word:w}", "/s/abc_1", {"word": "abc_1"}),
        ("/s/{word:w}", "/s/ab-c", None),
        ("/v{major:d}.{minor:d}/x", "/v1.2/x", {"major": 1, "minor": 2}),
        ("/Case", "/case", None),  # routes are case-sensitive
        ("/CaseP/{x}", "/casep/1", None),
        ("/a/{x:str}", "/a/b", {"x": "b"}),
    ],
)
def test_match(pattern: str, path: str, expected: object) -> None:
    assert PathPattern(pattern).match(path) == expected


def test_uuid_convertor_gives_a_uuid() -> None:
    value = uuid.uuid4()
    assert PathPattern("/u/{u:uuid}").match(f"/u/{value}") == {"u": value}
    assert PathPattern("/u/{u:uuid}").match("/u/not-a-uuid") is None


def test_registered_type() -> None:
    @parse.with_pattern(r"[a-z]{2}")
    def language(text: str) -> str:
        return text.upper()

    register_type("lang", language)
    assert PathPattern("/{lang:lang}/home").match("/fr/home") == {"lang": "FR"}
    assert PathPattern("/{lang:lang}/home").match("/fra/home") is None


def test_per_route_extra_types() -> None:
    @parse.with_pattern(r"[01]+")
    def binary(text: str) -> int:
        return int(text, 2)

    assert PathPattern("/b/{n:bin}", {"bin": binary}).match("/b/101") == {"n": 5}


def test_index_keys() -> None:
    assert PathPattern("/users/{id}").segment == "users"
    assert PathPattern("/users/{id}").prefix == "/users/"
    assert PathPattern("/{lang}/x").segment is None
    assert PathPattern("/user{id}").segment is None
    assert PathPattern("/about").static == "/about"


@pytest.mark.parametrize("bad", ["users/{id}", "/x/{}", "/x/{:d}", "/x/{1a}"])
def test_invalid_patterns(bad: str) -> None:
    with pytest.raises(ValueError):
        PathPattern(bad)


@pytest.mark.parametrize(
    "pattern, path",
    [
        ("/items/{id:d}", "/items/-12"),
        ("/items/{id:int}/{name}", "/items/3/x y"),
        ("/f/{x:float}/{rest:path}", "/f/2.5/a/b"),
        ("/u/{u:uuid}", "/u/12345678-1234-5678-1234-567812345678"),
        ("/w/{a:w}-{b:d}", "/w/abc-7"),
        ("/nomatch/{x:d}", "/nomatch/abc"),
    ],
)
def test_fast_path_agrees_with_parse(pattern: str, path: str) -> None:
    compiled = PathPattern(pattern)
    public = compiled.parser.parse(path)
    assert compiled.match(path) == (public.named if public is not None else None)


@pytest.mark.parametrize(
    "pattern, slashes",
    [("/a/{x}", 2), ("/a/{x:int}/b", 3), ("/{x}", 1), ("/f/{rest:path}", -1), ("/s/{x:S}", -1), ("/w/{x:>10}", -1)],
)
def test_depth_is_known_only_for_fields_without_slashes(pattern: str, slashes: int) -> None:
    assert PathPattern(pattern).slashes == slashes
