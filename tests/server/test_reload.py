"""`--reload`: a changed source file restarts the server, closing open WebSockets with 1012 (real files, process)."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

import asgiws
from asgiws.server.reload import ChangeWatcher

from .processes import ServerProcess, close_code

VERSIONED_APP = textwrap.dedent(
    """
    VERSION = "{version}"

    async def app(scope, receive, send):
        if scope["type"] == "websocket":
            await receive()
            await send({{"type": "websocket.accept"}})
            while (await receive())["type"] == "websocket.receive":
                await send({{"type": "websocket.send", "text": VERSION}})
        elif scope["type"] == "http":
            body = VERSION.encode()
            await send({{"type": "http.response.start", "status": 200, "headers": []}})
            await send({{"type": "http.response.body", "body": body}})
    """
)


def test_a_changed_file_serves_new_code_and_closes_open_websockets_with_1012(tmp_path):
    options = ["--reload", "--reload-dir", str(tmp_path), "--port", "0"]
    with ServerProcess(tmp_path, *options, app=VERSIONED_APP.format(version="v1")) as server:
        port = server.wait_for_port()
        websocket = server.websockets.enter_context(connect(f"ws://127.0.0.1:{port}/", open_timeout=10))
        websocket.send("version?")
        assert websocket.recv(timeout=10) == "v1"
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "v1"

        (tmp_path / "process_app.py").write_text(VERSIONED_APP.format(version="v2"))
        assert "process_app.py" in server.wait_for("Changes detected in")
        assert close_code(websocket) == 1012  # not waited for: told to reconnect
        deadline = time.monotonic() + 20
        while httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text != "v2":
            assert time.monotonic() < deadline, "the new code is not served"
            time.sleep(0.05)
    assert server.exit_status == 0


def test_an_app_that_does_not_import_waits_for_the_fix(tmp_path):
    options = ["--reload", "--reload-dir", str(tmp_path), "--port", "0"]
    with ServerProcess(tmp_path, *options, app="app = (\n") as server:
        server.wait_for("Waiting for a change")
        (tmp_path / "process_app.py").write_text(VERSIONED_APP.format(version="fixed"))
        port = server.wait_for_port()
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "fixed"
    assert server.exit_status == 0


def watcher(tmp_path: Path, **settings) -> ChangeWatcher:
    config = asgiws.Config("m:app", reload=True, reload_dirs=[str(tmp_path)], log_level="warning", **settings)
    return ChangeWatcher(config)


def test_python_files_count_and_editor_files_do_not(tmp_path):
    counts = watcher(tmp_path).counts
    assert counts(tmp_path / "app.py")
    assert counts(tmp_path / "pkg" / "module.py")
    for ignored in (".app.py", "app.pyc", "page.html", "~app.py", "__pycache__/app.py", ".git/hooks/x.py"):
        assert not counts(tmp_path / ignored), ignored


def test_includes_and_excludes(tmp_path):
    (tmp_path / "generated").mkdir()
    counts = watcher(
        tmp_path, reload_includes=["*.html", ".env"], reload_excludes=["test_*.py", str(tmp_path / "generated")]
    ).counts
    assert counts(tmp_path / "page.html")
    assert counts(tmp_path / ".env")  # an include is no longer excluded by the default ".*"
    assert counts(tmp_path / "app.py")
    assert not counts(tmp_path / "test_app.py")
    assert not counts(tmp_path / "generated" / "models.py")
    assert not watcher(tmp_path, reload_excludes=["*.py"]).counts(tmp_path / "app.py")


def test_a_missing_reload_dir_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"^reload_dirs "):
        watcher(tmp_path / "missing")



def test_includes_and_excludes_from_the_command_line_decide_what_restarts_the_server(tmp_path):
    """An excluded Python file changes first, then an included page: the first restart names the page only."""
    options = ["--reload", "--reload-dir", str(tmp_path), "--port", "0"]
    options += ["--reload-include", "*.html", "--reload-exclude", "test_*.py"]
    with ServerProcess(tmp_path, *options, app=VERSIONED_APP.format(version="v1")) as server:
        port = server.wait_for_port()
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == "v1"
        (tmp_path / "test_app.py").write_text("x = 1\n")
        time.sleep(0.5)  # past the watcher's debounce: a change that counted would be reported on its own
        (tmp_path / "page.html").write_text("<p>hello</p>\n")
        changed = server.wait_for("Changes detected in")
        assert "page.html" in changed and "test_app.py" not in changed, changed
        server.wait_for_port()  # the restarted server serves again
    assert server.exit_status == 0
