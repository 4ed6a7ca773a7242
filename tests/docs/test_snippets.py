"""The documentation's code runs: each Python block of a page under docs/ is an included file, and it runs.

Pages include their code with pymdownx.snippets (``--8<-- "path"``, relative
to the repository root), so what a reader copies is a file a test runs.
Files under docs/snippets/ run here: a ``test_*.py`` with pytest (and
asgiws's plugin), a ``conftest.py`` as part of those runs, any other file as
a script, whose assertions are its checks. Files under examples/ are run by
tests/examples/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
PLUGIN = "asgiws.testing.pytest_plugin"
TIMEOUT = 120

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$')


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def python_blocks(page: Path) -> list[str]:
    return [body for language, body in FENCE.findall(page.read_text()) if language in ("python", "py")]


def included(page: Path) -> list[str]:
    return [
        match.group(1)
        for body in python_blocks(page)
        for line in body.splitlines()
        if (match := INCLUDE.match(line.strip()))
    ]


def snippets() -> list[Path]:
    return sorted({ROOT / path for page in pages() for path in included(page) if (ROOT / path).parent == SNIPPETS})


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(DOCS)))
def test_every_python_block_is_an_included_file(page: Path) -> None:
    blocks = python_blocks(page)
    assert blocks, f"{page} has no Python block"
    for body in blocks:
        lines = [line.strip() for line in body.splitlines() if line.strip()]
        assert lines and all(INCLUDE.match(line) for line in lines), (
            f"a block of {page.name} is not an include:\n{body}"
        )
    for path in included(page):
        assert (ROOT / path).is_file(), f"{page.name} includes {path}, which does not exist"


def test_the_testing_page_shows_every_snippet_of_its_own() -> None:
    shown = {Path(path).name for path in included(DOCS / "testing.md")}
    assert shown == {path.name for path in SNIPPETS.glob("*testing*.py")} | {"conftest.py"}


def test_test_snippets_pass() -> None:
    """The snippets that are pytest files, in one pytest run; each must have passing tests."""
    tests = [path for path in snippets() if path.name.startswith("test_")]
    # -p no:asgiws: when asgiws is installed, its entry point must not load the plugin twice.
    command = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p", "no:asgiws", "-p", PLUGIN]
    result = subprocess.run(
        command + [str(path) for path in tests],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    for path in tests:
        assert f"PASSED {path.relative_to(ROOT)}::" in result.stdout, f"no test of {path.name} passed:\n{result.stdout}"


@pytest.mark.parametrize(
    "script",
    [path for path in snippets() if not path.name.startswith(("test_", "conftest"))],
    ids=lambda path: path.name,
)
def test_script_snippet_runs(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout}\n{result.stderr}"
