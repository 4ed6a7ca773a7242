"""The parts of the documentation written from the code, at every build (a MkDocs hook).

A page asks for one with a marker line, ``<!-- generated: NAME -->``, which
`on_page_markdown` replaces before the page is rendered:

- ``settings``: every row of the settings table (`asgiws.server.settings`),
  grouped as ``asgiws --help`` groups them, with its option, `Config`
  keyword, default and help. A new setting appears without editing a page.
- ``api``: a mkdocstrings ``:::`` entry for every public name of `asgiws`
  and `asgiws.testing` (their ``__all__``), grouped by the package that
  defines it.
- ``benchmarks``: the machine, method and results of ``bench/RESULTS.md``,
  as the last ``python bench/run.py`` wrote them.

An unknown marker fails the build. Nothing here imports MkDocs, so the
tests (tests/docs/) call these functions directly.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- generated: (\w+) -->$", re.M)


# -- settings ----------------------------------------------------------------------


def _escape(text: str) -> str:
    """Plain text for a Markdown table cell."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", text)


def option_forms(row: Any) -> list[str]:
    """How `row` is written on the command line (a value is named only where its form is not obvious)."""
    if row.cli == "positional":
        return [row.metavar or row.name.upper()]
    if row.cli == "none":
        return []
    if row.cli == "flag":
        return [row.option, f"--no-{row.option[2:]}"]
    flags = [row.option, *row.aliases]
    forms = [f"{flag} {row.metavar}" if row.metavar else flag for flag in flags]
    if row.cli == "boolean":
        forms.append(f"--no-{row.option[2:]}")
    return forms


def _notes(row: Any) -> str:
    """What a row's help does not say: its choices and bounds, whether it repeats, whether asgiws refuses it."""
    notes = []
    if row.unsupported is not None:
        notes.append(f"Refused with any value but uvicorn's default: {_escape(row.unsupported)}.")
    if row.choices:
        notes.append("One of " + ", ".join(f"`{choice}`" for choice in row.choices) + ".")
    if row.min is not None and row.max is not None:
        notes.append(f"From {row.min:g} to {row.max:g}.")
    elif row.min is not None:
        notes.append(f"At least {row.min:g}.")
    if row.cli == "append":
        notes.append("Repeat the option for more; `Config` takes a list.")
    if row.cli == "none":
        notes.append("`Config` only.")
    return " ".join(notes)


def settings_reference() -> str:
    """One table per option group: every setting of the table, in its order, with an anchor named after it."""
    from asgiws.server.settings import ROWS, Group

    parts = []
    for group in Group:
        rows = [row for row in ROWS if row.group is group]
        if not rows:
            continue
        parts.append(f"### {group.value[:1].upper()}{group.value[1:]} {{ #group-{group.name.lower()} }}\n")
        parts.append('<div class="settings-table" markdown>\n')
        parts.append("| Setting | Default | |")
        parts.append("|---|---|---|")
        for row in rows:
            names = [f"`{row.name}`", *(f"`{form}`" for form in option_forms(row))]
            default = "required" if row.help_default is None else f"`{row.help_default}`"
            description = f"{_escape(row.help)}. {_notes(row)}".strip()
            cells = [f'<a id="{row.name}"></a>' + "<br>".join(names), default, description]
            parts.append("| " + " | ".join(cells) + " |")
        parts.append("\n</div>\n")
    return "\n".join(parts)


# -- API reference -------------------------------------------------------------------

#: Section titles for the packages that define public names, in page order.
API_SECTIONS = {
    "asgiws.app": "The framework",
    "asgiws.server": "The server",
    "asgiws.handler_server": "Handlers and the client",
    "asgiws.client": "Handlers and the client",
    "asgiws.protocol": "Errors",
    "asgiws.pubsub": "PubSub",
    "asgiws.testing": "Testing",
}


def _section(module: str) -> str:
    for prefix, title in API_SECTIONS.items():
        if module == prefix or module.startswith(prefix + "."):
            return title
    return module


def _entry(package: str, name: str, value: Any, public: set[int]) -> str:
    """The ``:::`` entry of `package.name`, with the options it needs.

    mkdocstrings reads the source without importing it, so it is sent to
    the definition of a name the package imports lazily (its ``__getattr__``),
    of one that is also a submodule's name (``asgiws.app.broadcast``), and of
    an alias (``connect = Connect``); the heading keeps the public name. A
    class shows the members it inherits from a base the reference does not
    document (`Request` and `WebSocket`, from `HTTPConnection`); `public`
    holds the ids of those it does.
    """
    options = {}
    path = f"{package}.{name}"
    lazy = name not in vars(sys.modules[package])
    if lazy or value.__module__.endswith("." + name) or value.__name__ != name:
        path = f"{value.__module__}.{value.__qualname__}"
        options.update(heading=name, toc_label=name)
    if isinstance(value, type) and any(
        base.__module__.startswith("asgiws.") and id(base) not in public for base in value.__mro__[1:]
    ):
        options["inherited_members"] = "true"
    if not options:
        return f"::: {path}\n"
    return f"::: {path}\n    options:\n" + "".join(f"      {key}: {value}\n" for key, value in options.items())


def api_reference() -> str:
    """A ``:::`` entry per public name of `asgiws` and `asgiws.testing`, under the title of its package."""
    import asgiws
    import asgiws.testing

    names = [(package, name) for package in (asgiws, asgiws.testing) for name in package.__all__]
    public = {id(getattr(package, name)) for package, name in names}
    sections: dict[str, list[str]] = {title: [] for title in API_SECTIONS.values()}
    for package, name in names:
        value = getattr(package, name)
        module = getattr(value, "__module__", None)
        if module is None:  # __version__, a plain value
            continue
        sections.setdefault(_section(module), []).append(_entry(package.__name__, name, value, public))
    parts = []
    for title, entries in sections.items():
        if entries:
            parts.append(f"## {title}\n")
            parts.extend(entries)
    return "\n".join(parts)


# -- benchmark results -----------------------------------------------------------------

_RELATIVE_LINK = re.compile(r"\[([^\]]+)\]\((?![a-z]+:)[^)]*\)")
_IMAGE = re.compile(r"^!\[[^\]]*\]\([^)]*\)\n?", re.M)


def benchmark_results(path: Path = ROOT / "bench" / "RESULTS.md") -> str:
    """bench/RESULTS.md from its "Machine" section on, headings one level down, without its image and links."""
    text = path.read_text()
    start = text.index("## Machine")
    intro = text[:start].strip().splitlines()
    generated = next((line for line in intro if line.startswith("Generated by")), "")
    body = _IMAGE.sub("", text[start:])
    body = re.sub(r"^(#+) ", r"#\1 ", body, flags=re.M)
    return _RELATIVE_LINK.sub(r"\1", f"{generated}\n\n{body}".strip()) + "\n"


# -- the hook ----------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[], str]] = {
    "settings": settings_reference,
    "api": api_reference,
    "benchmarks": benchmark_results,
}


def render(markdown: str) -> str:
    """`markdown` with each marker replaced by what its generator writes; KeyError for an unknown one."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise KeyError(f"unknown generated section {name!r}; known: {', '.join(GENERATORS)}")
        return GENERATORS[name]()

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """MkDocs calls this with each page's Markdown before rendering it."""
    return render(markdown)
