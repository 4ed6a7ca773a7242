"""The generated parts of the docs (docs/hooks/generate.py) list everything they stand for.

The settings page lists every row of the settings table, the API reference
every public name, the performance page the results of bench/RESULTS.md:
a setting, a name or a benchmark added later appears without editing a page.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

import asgiws
import asgiws.testing
from asgiws.server.settings import ROWS

DOCS = Path(__file__).parents[2] / "docs"


def load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "hooks" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = load_hook()


def marker(name: str) -> str:
    return f"<!-- generated: {name} -->"


def test_the_settings_page_lists_every_setting() -> None:
    assert marker("settings") in (DOCS / "server.md").read_text()
    page = generate.settings_reference()
    for row in ROWS:
        assert f'<a id="{row.name}"></a>`{row.name}`' in page, row.name
        if row.cli not in ("none", "positional"):
            assert f"`{row.option}" in page, row.option
        assert re.search(rf"`{row.name}`.*\| {re.escape(generate._escape(row.help))}\.", page), row.name


def test_the_api_reference_has_every_public_name() -> None:
    assert marker("api") in (DOCS / "reference.md").read_text()
    page = generate.api_reference()
    entries = re.findall(r"^::: (\S+)$", page, re.M)
    headings = set(re.findall(r"^      heading: (\S+)$", page, re.M))
    for package in (asgiws, asgiws.testing):
        for name in package.__all__:
            if name == "__version__":
                continue
            assert f"{package.__name__}.{name}" in entries or name in headings, f"{package.__name__}.{name}"
    assert len(entries) == len(set(entries)), "an object is documented twice"


def test_the_performance_page_has_the_latest_results() -> None:
    assert marker("benchmarks") in (DOCS / "performance.md").read_text()
    results = (DOCS.parent / "bench" / "RESULTS.md").read_text()
    page = generate.benchmark_results()
    rows = [line for line in results.splitlines() if line.startswith("| ") and "`" in line]
    assert rows, "no result row in bench/RESULTS.md"
    for row in rows:
        assert row in page
    assert "](" not in page.replace("](http", ""), "a link that leads nowhere on the site"


def test_every_marker_is_known() -> None:
    for page in DOCS.rglob("*.md"):
        generate.render(page.read_text())  # KeyError for an unknown one
    with pytest.raises(KeyError):
        generate.render(marker("nothing"))
