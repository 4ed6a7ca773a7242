"""The documentation's code runs: every code block of a page under docs/ is a file a test runs, or a command.

Pages include their code with pymdownx.snippets (``--8<-- "path"``, relative
to the repository root), so what a reader copies is a file a test runs. A
fenced block (at any indentation: in tabs and admonitions too) is either

- an include, in any language: only ``--8<--`` lines, each naming a file
  under examples/ (run by tests/examples/) or docs/snippets/, where a
  ``test_*.py`` runs with pytest (and asgiws's plugin), a ``conftest.py``
  with them, another ``.py`` is imported (or run by its file name) by one
  of those tests or else runs as a script whose assertions are its checks,
  and any other file (a config) is named by a test of tests/docs/ that
  checks it;
- or a command or its output (``sh``, ``console``, ``text``): written
  inline, and each ``asgiws ...`` command in it parses with asgiws's own
  command line, so that no page shows an option that does not exist.

Any other block (Python, HTML, a config written inline) fails.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from asgiws.server.cli import build_parser

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
EXAMPLES = ROOT / "examples"
PLUGIN = "asgiws.testing.pytest_plugin"
TIMEOUT = 120

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<language>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.M | re.S,
)
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$')
#: Blocks written inline: commands and what they print.
INLINE_LANGUAGES = ("sh", "console", "text")


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def blocks(page: Path) -> list[tuple[str, list[str]]]:
    """(language, non-blank lines without their indentation) of each fenced block of `page`."""
    return [
        (match["language"], [line.strip() for line in match["body"].splitlines() if line.strip()])
        for match in FENCE.finditer(page.read_text())
    ]


def included(page: Path) -> list[str]:
    return [match.group(1) for _, lines in blocks(page) for line in lines if (match := INCLUDE.match(line))]


def all_included() -> set[Path]:
    return {ROOT / path for page in pages() for path in included(page)}


def snippet_tests() -> list[Path]:
    return sorted(SNIPPETS.glob("test_*.py"))


def used_by_tests(module: Path) -> bool:
    """Whether a snippet test imports `module` (a snippet module), or runs it by its file name."""
    pattern = re.compile(rf'^\s*(?:import|from)\s+{re.escape(module.stem)}\b|"{re.escape(module.name)}"', re.M)
    return any(pattern.search(test.read_text()) for test in [*snippet_tests(), SNIPPETS / "conftest.py"])


def scripts() -> list[Path]:
    """The included snippet modules no test uses: each runs as a script."""
    return sorted(
        path
        for path in all_included()
        if path.parent == SNIPPETS
        and path.suffix == ".py"
        and not path.name.startswith(("test_", "conftest"))
        and not used_by_tests(path)
    )


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(DOCS)))
def test_every_block_is_an_included_file_or_a_command(page: Path) -> None:
    for language, lines in blocks(page):
        assert lines, f"{page.name} has an empty {language or 'unlabelled'} block"
        if all(INCLUDE.match(line) for line in lines):
            continue
        assert language in INLINE_LANGUAGES, (
            f"a {language or 'unlabelled'} block of {page.name} is written inline; include a file a test runs:\n"
            + "\n".join(lines)
        )
        assert not any(INCLUDE.match(line) for line in lines), f"{page.name} mixes an include with inline text"


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(DOCS)))
def test_every_included_file_is_run_or_checked_by_a_test(page: Path) -> None:
    example_tests = "\n".join(path.read_text() for path in (ROOT / "tests" / "examples").glob("*.py"))
    config_tests = "\n".join(path.read_text() for path in Path(__file__).parent.glob("test_*.py"))
    for name in included(page):
        path = ROOT / name
        assert path.is_file(), f"{page.name} includes {name}, which does not exist"
        if path.parent == EXAMPLES:
            # A page an example serves (time.html) is run with its program (time.py).
            names = {f'"{path.name}"', f'"{path.stem}.py"'}
            assert any(spelling in example_tests for spelling in names), f"no test of tests/examples/ runs {name}"
        elif path.parent == SNIPPETS and path.suffix == ".py":
            pass  # run below: by pytest, imported by a snippet test, or as a script
        elif SNIPPETS in path.parents:
            assert f'"{path.name}"' in config_tests, f"no test of tests/docs/ checks {name}"
        else:
            raise AssertionError(f"{page.name} includes {name}: pages include files of examples/ and docs/snippets/")


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(DOCS)))
def test_asgiws_commands_parse(page: Path) -> None:
    """Each ``asgiws ...`` or ``python -m asgiws ...`` in a command block has options asgiws knows."""
    parser = build_parser()
    for language, lines in blocks(page):
        if language not in ("sh", "console"):
            continue
        for line in lines:
            for command in re.split(r"&&|\|\||[;|&]", line.removeprefix("$ ")):
                words = shlex.split(command, comments=True)
                while words and re.match(r"^\w+=", words[0]):  # VARIABLE=value asgiws ...
                    words = words[1:]
                if words[:3] == ["python", "-m", "asgiws"]:
                    words = words[2:]
                if words[:1] != ["asgiws"]:
                    continue
                try:
                    parser.parse_args(words[1:])
                except SystemExit:
                    raise AssertionError(f"{page.name}: asgiws refuses {command.strip()!r}") from None


def test_the_testing_page_shows_every_snippet_of_its_own() -> None:
    shown = {Path(path).name for path in included(DOCS / "testing.md")}
    assert shown == {path.name for path in SNIPPETS.glob("*testing*.py")} | {"conftest.py"}


def test_snippet_tests_pass() -> None:
    """Every test_*.py of docs/snippets/, in one pytest run; each must have passing tests."""
    tests = snippet_tests()
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


@pytest.mark.parametrize("script", scripts(), ids=lambda path: path.name)
def test_script_snippet_runs(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout}\n{result.stderr}"
