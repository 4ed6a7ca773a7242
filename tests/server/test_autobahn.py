"""Autobahn|Testsuite conformance: the quick subset of the fuzzing client's cases.

Runs `compliance/run.py` (asgiws serving `examples/echo.py` in a subprocess,
wstest under Python 2.7 against it) and fails on any FAILED or UNIMPLEMENTED
case or a failed close. The full run is `python compliance/run.py`; see
compliance/README.md. Skipped when wstest is not installed
(`compliance/install.sh` installs it).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_harness() -> ModuleType:
    """compliance/run.py as a module (compliance/ is a directory of tools, not a package)."""
    spec = importlib.util.spec_from_file_location("compliance_run", REPO / "compliance" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


harness = load_harness()
wstest = harness.find_wstest()
needs_wstest = pytest.mark.skipif(
    wstest is None, reason="Autobahn|Testsuite's wstest is not installed (run compliance/install.sh)"
)


def run_or_fail(**options: Any) -> Any:
    try:
        return harness.run(**options)
    except harness.HarnessError as exc:
        pytest.fail(f"the Autobahn harness could not get a verdict: {exc}")


@needs_wstest
def test_quick_subset_has_no_failed_case(tmp_path: Path) -> None:
    import asgiws

    if not hasattr(asgiws, "Server"):
        pytest.skip("the asgiws server does not exist yet")
    summary = run_or_fail(server="asgiws", cases=harness.QUICK_CASES, reports=tmp_path,
                          timeout=300)
    assert len(summary.cases) > 100
    assert not summary.failed, harness.format_summary(summary)


async def text_as_bytes_echo(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """A wrong echo app: it sends text messages back as binary ones."""
    assert scope["type"] == "websocket"
    await receive()
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        data = message.get("bytes") or message.get("text", "").encode()
        await send({"type": "websocket.send", "bytes": data})


@needs_wstest
def test_harness_reports_a_failed_case(tmp_path: Path) -> None:
    """The harness itself: a wrong echo fails 1.1.1 (text) and passes 1.2.1 (binary)."""
    summary = run_or_fail(server="uvicorn", app="tests.server.test_autobahn:text_as_bytes_echo",
                          cases=["1.1.1", "1.2.1"], reports=tmp_path, timeout=60)
    verdicts = {case.case: case.behavior for case in summary.cases}
    assert verdicts == {"1.1.1": "FAILED", "1.2.1": "OK"}
    assert summary.failed
    assert "1.1.1" in harness.format_summary(summary)
